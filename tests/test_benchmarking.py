"""The measurements behind scripts/benchmark.py, at toy sizes (figures are not asserted)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from agents.errors import UserError
from agents.tools.benchmarking import (
    ManySeeds,
    SolveTimes,
    device_table,
    envpool_steps_per_second,
    many_seeds,
    many_seeds_in_subprocess,
    many_seeds_table,
    measure_speed_in_subprocess,
    raw_env_steps_per_second,
    solve_times,
    speed_table,
    time_policy_gradients,
)

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.mark.slow
def test_speed_row_from_a_worker_process_and_its_table():
    row = measure_speed_in_subprocess("CartPole-v1", 4, 2000, repeats=1, policy="mlp64x64")
    assert row.env == "CartPole-v1" and row.num_envs == 4 and row.env_steps >= 2000
    assert row.raw_steps_per_second > 0 and row.train_steps_per_second > 0 and row.peak_rss_mb > 0
    table = speed_table([row]).splitlines()
    assert table[0].split()[:4] == ["env", "envs", "policy", "raw"]
    assert table[1].split()[:3] == ["CartPole-v1", "4", "mlp64x64"]


def test_raw_speed_of_one_env_and_of_a_vector_env():
    assert raw_env_steps_per_second("CartPole-v1", 1, seconds=0.05) > 0
    assert raw_env_steps_per_second("CartPole-v1", 8, seconds=0.05) > 0
    pool = envpool_steps_per_second("CartPole-v1", 8, seconds=0.05)
    assert pool is None or pool > 0  # envpool is optional


def test_many_seeds_in_both_modes_and_their_table():
    exact = many_seeds("CartPole-v1", 3, 500, "exact")
    assert exact.seconds > 0 and exact.microseconds_per_step == exact.seconds / 1500 * 1e6
    batched = many_seeds_in_subprocess("CartPole-v1", 3, 500, "batched")
    assert batched.mode == "batched" and batched.peak_rss_mb > 0
    table = many_seeds_table([exact, batched, ManySeeds("Acrobot-v1", "batched", 3, 500, 1.0, 1.0)])
    lines = table.splitlines()
    assert lines[1].split()[:3] == ["CartPole-v1", "exact", "3"] and lines[2].endswith(
        f"{batched.peak_rss_mb:,.0f}"
    )
    assert lines[2].split()[6].endswith("x") and lines[3].split()[6] != "x"  # no exact row for Acrobot


def test_a_many_seeds_worker_runs_the_policy_and_device_it_is_given():
    row = many_seeds_in_subprocess("CartPole-v1", 2, 400, "batched", policy="mlp64x64", device="cpu")
    assert (row.policy, row.device, row.num_seeds) == ("mlp64x64", "cpu", 2)
    assert row.steps_per_second == pytest.approx(800 / row.seconds)
    with pytest.raises(UserError, match="preset=cartpole and policy=mlp64x64 both choose the agent"):
        many_seeds("CartPole-v1", 2, 400, "batched", preset="cartpole", policy="mlp64x64")


def test_the_device_table_pairs_each_size_cuda_with_cpu():
    rows = [ManySeeds("CartPole-v1", "batched", 100, 1000, seconds, 1.0, "mlp64x64", device)
            for device, seconds in (("cpu", 4.0), ("cuda", 1.0))]  # fmt: skip
    rows += [ManySeeds("CartPole-v1", "batched", 1000, 100, seconds, 1.0, "mlp64x64", device)
             for device, seconds in (("cuda", 5.0), ("cpu", 2.5))]  # fmt: skip
    lines = device_table(rows).splitlines()
    assert lines[0].split() == ["seeds", "steps/seed", "cpu", "steps/s", "cuda", "steps/s", "cuda/cpu", "cpu",
                                "s", "cuda", "s"]  # fmt: skip
    assert lines[1].split() == ["100", "1,000", "25,000", "100,000", "4.00x", "4.0", "1.0"]
    assert lines[2].split() == ["1000", "100", "40,000", "20,000", "0.50x", "2.5", "5.0"]


def test_mlp_gradient_timing():
    timing = time_policy_gradients(hidden_sizes=(8,), batch=64, repeats=2)
    assert timing.closed_form_seconds > 0 and timing.autograd_seconds > 0


def test_solve_times_summary_counts_unsolved_seeds():
    assert SolveTimes([None, None], [1.0, 2.0]).summary() == "0/2 seeds reached the target"
    summary = SolveTimes([1000, None, 3000], [1.0, 2.0, 3.0]).summary()
    assert summary.startswith("2/3 seeds reached the target; env steps median 2,000 (range 1,000-3,000)")


def test_solve_times_runs_each_seed_with_the_overrides():
    times = solve_times("CartPole-v1", [0, 1], ["experiment=cartpole", "budget.total_env_steps=1500"])
    assert times.env_steps == [None, None]  # 1500 steps cannot reach 475
    assert len(times.seconds) == 2 and all(s > 0 for s in times.seconds)


@pytest.mark.parametrize("num_envs", [1, 2])
def test_a_user_env_that_raises_in_the_raw_measure_is_one_line(num_envs):
    from agents.errors import UserError
    from agents.tools.benchmarking import raw_env_steps_per_second

    with pytest.raises(UserError, match=r"^env=fault_envs:fault/Raise-v0 failed while stepping it"):
        raw_env_steps_per_second("fault_envs:fault/Raise-v0", num_envs, 0.1)


def test_a_run_that_fails_in_the_env_keeps_the_folder_its_line_names(tmp_path, monkeypatch):
    """The many-seeds row trains in a temporary folder; the fault line names its checkpoints and
    train.log, which were deleted before the line was printed."""
    import re
    import shutil
    from pathlib import Path

    from agents.errors import UserError

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path.parent / "inductor"))  # torch's, not ours
    for mode in ("exact", "batched"):
        with pytest.raises(UserError, match=r"failed at (env|vector) step") as raised:
            many_seeds("fault_envs:fault/Raise-v0", 2, 1000, mode)
        log = Path(re.search(r"the traceback in (\S+/train\.log)", str(raised.value)).group(1))
        assert log.is_file() and "physics exploded" in log.read_text()
        checkpoints = re.search(r"last good state is in (\S+\.pt)", str(raised.value)).group(1)
        assert list(Path("/").glob(checkpoints.lstrip("/")))  # seed1/checkpoint.pt or seed*/checkpoint.pt
        shutil.rmtree(tmp_path / Path(log).relative_to(tmp_path).parts[0])
    many_seeds("CartPole-v1", 2, 500, "exact")
    assert not list(tmp_path.iterdir())  # a run that succeeds leaves nothing behind


@pytest.mark.parametrize("overrides", [{"preset": "nope"}, {"num_seeds": 10**8}])
def test_a_run_refused_before_it_wrote_anything_leaves_no_empty_folder(tmp_path, monkeypatch, overrides):
    """``mode=seeds-worker preset=nope`` (and every refusal before training) left an empty
    ``/tmp/benchmark-run-*`` folder behind."""
    from agents.errors import UserError

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    arguments = {"env_id": "CartPole-v1", "num_seeds": 2, "steps_per_seed": 100, "mode": "batched"}
    arguments.update(overrides)
    with pytest.raises(UserError):
        many_seeds(**arguments)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("env_id", "preset", "chosen"), [
    ("Acrobot-v1", "", "env=Acrobot-v1's own preset"), ("CartPole-v1", "acrobot_mlp", "preset=acrobot_mlp"),
])  # fmt: skip
def test_a_batched_refusal_names_the_benchmarks_keys(tmp_path, monkeypatch, env_id, preset, chosen):
    """A preset with a value baseline: the line said training's ``agent.baseline=none or
    experiment=none``, keys the benchmark does not take; its way out is ``preset=none``."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with pytest.raises(UserError) as raised:
        many_seeds(env_id, 2, 100, "batched", preset=preset)
    assert str(raised.value) == (
        f"seed_mode=batched does not support agent.baseline=time, which {chosen} sets: give "
        "seed_mode=exact, or preset=none (the generic defaults)"
    )
    assert not list(tmp_path.iterdir())


def test_a_signal_removes_the_scratch_run_and_says_so():
    """Ctrl-C left /tmp/benchmark-run-* behind, with a line saying to resume it."""
    from pathlib import Path

    from agents.errors import RunInterrupted
    from agents.tools import benchmarking

    made = []
    stopped = r"^benchmark stopped by a signal; its scratch run was removed$"
    with pytest.raises(RunInterrupted, match=stopped), benchmarking.scratch_run_dir() as run_dir:
        made.append(Path(run_dir))
        (made[0] / "checkpoint.pt").write_bytes(b"x")
        raise RunInterrupted(f"saved {run_dir}/checkpoint.pt; resume with: ...", 130)
    assert not made[0].exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "group"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGINT, True)],
    ids=["sigterm", "sigint-to-the-parent", "ctrl-c-to-the-group"],
)
def test_a_signal_to_the_report_lets_its_worker_remove_its_scratch_run(tmp_path, sig, group):
    """The report's worker was SIGKILLed (subprocess.run's clean-up), so its scratch training
    folder stayed in /tmp. Now the signal is passed on (once: a terminal's Ctrl-C reaches the
    worker through the report only), the worker stops, removes its folder, and the report says so."""
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "benchmark.py"), "quick=true", "repeats=1", "steps=100000000"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("benchmark-run-*/events.out.tfevents.*")) and time.monotonic() < deadline:
        time.sleep(0.1)  # the worker trains
    assert list(tmp_path.glob("benchmark-run-*")), "the worker never started training"
    (os.killpg if group else os.kill)(process.pid, sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig, err
    assert err.strip() == "benchmark stopped by a signal; its scratch run was removed", err
    assert not list(tmp_path.glob("benchmark-run-*"))


def test_a_report_started_as_a_background_job_passes_its_signal_on_to_a_worker_that_hears_it(
    tmp_path, monkeypatch
):
    """A background job ignores SIGINT (a shell's ``&``, ``nohup``), and its children inherited
    that: the worker ignored the SIGINT passed on to it until its training loop began, then trained
    on and was killed, its scratch run left behind. Here the signal comes as the worker starts."""
    from agents.errors import RunInterrupted
    from agents.tools import benchmarking

    entered = benchmarking._ForwardedStop.__enter__

    def enter_then_signal(self):
        stop = entered(self)
        os.kill(os.getpid(), signal.SIGINT)  # handled here: passed on to the worker
        return stop

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(benchmarking, "WORKER_STOP_SECONDS", 20.0)
    monkeypatch.setattr(benchmarking._ForwardedStop, "__enter__", enter_then_signal)
    command = [*benchmarking.BENCHMARK_COMMAND, "mode=worker", "repeats=1", "steps=100000000"]
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job
    try:
        with pytest.raises(RunInterrupted) as stopped:
            benchmarking.run_worker(command)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped.value.exit_code == 130
    assert str(stopped.value) == "benchmark stopped by a signal; its scratch run was removed"
    assert not list(tmp_path.glob("benchmark-run-*"))


def test_a_signal_as_the_worker_starts_leaves_no_worker_running(monkeypatch):
    """A Ctrl-C that waited for the report's imports was sent again as the report started its
    worker, and raised inside ``Popen`` once the worker was running: the report quit, and the
    worker, in its own session, trained on for ever (found running 36 minutes later)."""
    from agents.errors import RunInterrupted
    from agents.runtime import interrupts
    from agents.tools import benchmarking

    started, real_popen = [], subprocess.Popen

    def popen_then_signal(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        os.kill(os.getpid(), signal.SIGINT)  # handled as this call returns, inside Popen's caller
        return started[-1]

    monkeypatch.setattr(subprocess, "Popen", popen_then_signal)
    previous = signal.signal(signal.SIGINT, interrupts.interrupt)  # a program's own (commands.command)
    try:
        with pytest.raises((KeyboardInterrupt, RunInterrupted)):
            benchmarking.run_worker([sys.executable, "-c", "import time; time.sleep(60)"])
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.reset()
    assert started and started[0].poll() is not None, "the worker was left running"


def test_a_worker_that_does_not_stop_is_killed_after_a_bound(tmp_path, monkeypatch):
    from agents.errors import RunInterrupted
    from agents.tools import benchmarking

    monkeypatch.setattr(benchmarking, "WORKER_STOP_SECONDS", 0.5)
    started = tmp_path / "started"
    stubborn = ("import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)")  # fmt: skip

    def terminate_once_started() -> None:
        while not started.exists():
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate_once_started, daemon=True).start()
    begun = time.monotonic()
    with pytest.raises(RunInterrupted, match=r"did not stop within 0\.5 s and was killed") as stopped:
        benchmarking.run_worker([sys.executable, "-c", stubborn, str(started)])
    assert stopped.value.exit_code == 143 and time.monotonic() - begun < 30


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_the_gpu_section_without_a_gpu_is_one_line():
    completed = subprocess.run([sys.executable, str(SCRIPTS / "benchmark.py"), "mode=gpu"],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
    assert completed.returncode == 2 and completed.stdout == ""
    assert completed.stderr == (
        "error: mode=gpu compares device=cuda with device=cpu, and torch sees no CUDA GPU here\n"
    )


@pytest.mark.parametrize("measure", ["solve_times", "many_seeds"])
def test_a_signal_to_an_in_process_measurement_is_one_line(tmp_path, monkeypatch, capsys, measure):
    """SIGTERM in the report's sample-efficiency runs printed "SIGTERM: saving a checkpoint" above
    the benchmark's line, though its scratch run is removed, not kept."""
    from agents.errors import RunInterrupted
    from agents.runtime.trainer import StopOnSignal

    entered = StopOnSignal.__enter__

    def enter_then_signal(self):
        stop = entered(self)
        os.kill(os.getpid(), signal.SIGTERM)  # handled here, inside the training loop's block
        return stop

    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setattr(StopOnSignal, "__enter__", enter_then_signal)
    capsys.readouterr()
    with pytest.raises(RunInterrupted) as stopped:
        if measure == "solve_times":
            solve_times("CartPole-v1", [0], ["budget.total_env_steps=100000"])
        else:
            many_seeds("CartPole-v1", 2, 100_000, "batched")
    assert str(stopped.value) == "benchmark stopped by a signal; its scratch run was removed"
    assert stopped.value.exit_code == 143
    assert capsys.readouterr().err == ""  # the entry point prints the one line above
    assert not list(tmp_path.glob("benchmark-run-*"))
    assert StopOnSignal.doing == "saving a checkpoint"  # outside the benchmark a run says it saves
