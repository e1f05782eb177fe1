"""Hydra multirun through real launchers and the optuna sweeper, run as a user would (subprocess).

Each job's event file is named ``events.out.tfevents.<time>.<host>.<pid>.<n>``: a pid other than
the launching process's proves the job ran where the launcher put it (a joblib worker, a submitit
or ray job), not in the launching process as Hydra's basic launcher would.
"""

from __future__ import annotations

import json
import math
import os
import runpy
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.utils import get_class

from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.config import register_configs
from agents.tools.job_names import short_overrides
from agents.tools.override_words import SWEPT_KEYS_VARIABLE
from agents.tools.sweep import (
    RESULT_NAME,
    SUMMARY_NAME,
    JobResult,
    read_result,
    summary_table,
)
from agents.tools.usage import CONFIG_DIR

TRAIN = Path(__file__).resolve().parent.parent / "scripts" / "train.py"
TINY = ["budget.total_env_steps=1500", "logging.progress_bar=false"]


def run_sweep(tmp_path: Path, *overrides: str, timeout: float = 240) -> tuple[str, int, Path]:
    """``scripts/train.py -m <overrides>`` into ``tmp_path/sweep``; returns (output, pid, sweep dir)."""
    sweep_dir = tmp_path / "sweep"
    command = [sys.executable, str(TRAIN), "-m", *overrides, *TINY, f"hydra.sweep.dir={sweep_dir}"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output, process.pid, sweep_dir


def job_dirs(sweep_dir: Path) -> list[Path]:
    return sorted(path.parent for path in sweep_dir.glob(f"*/{RESULT_NAME}"))


def check_jobs(output: str, launcher_pid: int, sweep_dir: Path, seeds: list[int]) -> list[JobResult]:
    """Every job left checkpoint, events and result in its own folder, ran outside the launching
    process, and the printed summary lists it."""
    folders = job_dirs(sweep_dir)
    assert [path.name for path in folders] == [
        f"{num}_total_env_steps=1500_seed{seed}" for num, seed in enumerate(seeds)
    ]
    results = []
    for folder in folders:
        assert (folder / "checkpoint.pt").is_file()
        (events,) = folder.glob("events.out.tfevents.*")
        assert int(events.name.split(".")[-2]) != launcher_pid
        results.append(JobResult(**json.loads((folder / RESULT_NAME).read_text())))
    assert [result.status for result in results] == ["COMPLETED"] * len(seeds)
    assert all(result.env_steps >= 1500 for result in results)
    table = (sweep_dir / SUMMARY_NAME).read_text()
    assert table.strip() in output
    for result in results:
        assert f"| {result.num} | {seeds[result.num]}" in table
        assert f"{result.final_mean_return:.2f}" in table
    return results


@pytest.mark.slow
def test_a_sweep_whose_output_reader_left_records_its_jobs_as_they_ended(tmp_path):
    """``train.py -m seed=0,1 | head -2``: a job's closing lines met the closed pipe after it had
    trained and saved, so Hydra marked it FAILED in its result.json and the summary (and the
    launcher's next log line printed a traceback). Now the jobs' lines go to the null device, every
    job is COMPLETED, and the sweep ends quietly with 141 after writing its summary."""
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader has gone before the first line
    command = [sys.executable, str(TRAIN), "-m", "seed=0,1", *TINY, f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    try:
        done = subprocess.run(command, cwd=tmp_path, stdout=write_end, stderr=subprocess.PIPE, text=True,
                              timeout=240)  # fmt: skip
    finally:
        os.close(write_end)
    folders = job_dirs(tmp_path / "sweep")
    assert len(folders) == 2 and all((folder / "checkpoint.pt").is_file() for folder in folders)
    results = [JobResult(**json.loads((folder / RESULT_NAME).read_text())) for folder in folders]
    assert [(result.status, result.env_steps) for result in results] == [("COMPLETED", 1500)] * 2
    table = (tmp_path / "sweep" / SUMMARY_NAME).read_text()
    assert table.count("| COMPLETED |") == 2 and "FAILED" not in table
    assert done.returncode == 141 and done.stderr == "", done.stderr[-3000:]


def test_summary_table_puts_shared_overrides_above_and_swept_ones_in_columns():
    def job(num: int, lr: str, seed: int, value: float) -> JobResult:
        overrides = [f"agent.lr={lr}", f"seed={seed}", "budget.total_env_steps=1500"]
        return JobResult(num, overrides, "COMPLETED", value, 1500, 40, 2.0, f"/sweep/{num}")

    table = summary_table([job(0, "0.01", 0, 21.5), job(1, "0.022881136684755242", 1, 30.25)])
    lines = table.splitlines()
    assert lines[0] == "shared overrides: budget.total_env_steps=1500"
    assert [cell.strip() for cell in lines[2].split("|")[1:-1]] == [
        "#", "agent.lr", "seed", "final mean return", "env steps", "episodes", "seconds", "status",
    ]  # fmt: skip
    assert [cell.strip() for cell in lines[5].split("|")[1:-1]] == [
        "1", "0.02288", "1", "30.25", "1500", "40", "2.0", "COMPLETED",
    ]  # fmt: skip


def test_summary_table_shows_the_overrides_as_typed_not_as_hydras_sweeper_escaped_them():
    """The sweeper writes ``env=my_envs\\:Maze-v0`` and ``logging.progress_bar=False`` for what the
    command line typed as ``env=my_envs:Maze-v0`` and ``false``: the summary showed them so."""
    overrides = [r"env=my_envs\:Maze-v0", "logging.progress_bar=False", r"run_dir=/tmp/a\,b"]
    jobs = [
        JobResult(num, [*overrides, f"seed={num}"], "COMPLETED", 1.0, 10, 1, 0.1, f"/s/{num}")
        for num in (0, 1)
    ]
    lines = summary_table(jobs).splitlines()
    assert lines[0] == "shared overrides: env=my_envs:Maze-v0 logging.progress_bar=false run_dir='/tmp/a,b'"
    swept = [
        JobResult(num, [rf"env=my_envs\:Maze-v{num}"], "COMPLETED", 1.0, 10, 1, 0.1, f"/s/{num}")
        for num in (0, 1)
    ]
    rows = [row for row in summary_table(swept).splitlines() if not row.startswith("|-")]
    assert [row.split("|")[2].strip() for row in rows] == ["env", "my_envs:Maze-v0", "my_envs:Maze-v1"]


def test_a_job_the_sweep_was_stopped_before_is_not_launched_not_interrupted(tmp_path, monkeypatch):
    """A job a Ctrl-C kept from starting read ``| 1 | 0.1 | nan | | | 0.0 | INTERRUPTED |``, as if it
    had run."""
    from agents.tools.sweep import SweepSummary, note_not_launched, result_json, write_summary

    ran = JobResult(0, ["agent.lr=0.05"], "INTERRUPTED", 435.77, 204069, 770, 6.1, str(tmp_path / "0"))
    (tmp_path / "0").mkdir()
    (tmp_path / "0" / RESULT_NAME).write_text(result_json(ran))
    monkeypatch.setattr(SweepSummary, "launched_sweep_dir", tmp_path)
    note_not_launched([(1, ["agent.lr=0.1"])])
    rows = write_summary(tmp_path).splitlines()
    assert [cell.strip() for cell in rows[3].split("|")[1:-1]] == ["1", "0.1", "", "", "", "", "NOT_LAUNCHED"]
    assert rows[4] == (
        "#1 NOT_LAUNCHED: the sweep was stopped before it began (run its settings in a sweep of its "
        "own, into another hydra.sweep.dir)"
    )


@pytest.mark.slow  # ~10 s: the launcher's workers start Python and import torch
def test_joblib_launcher_runs_two_seeds_in_parallel_workers(tmp_path):
    output, pid, sweep_dir = run_sweep(
        tmp_path, "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"
    )
    assert "Joblib.Parallel(n_jobs=2" in output
    results = check_jobs(output, pid, sweep_dir, seeds=[0, 1])
    assert results[0].final_mean_return != results[1].final_mean_return  # different seeds


@pytest.mark.slow  # ~10 s: the launcher's workers start Python and import torch
def test_submitit_local_launcher_runs_two_seeds_as_submitit_jobs(tmp_path):
    output, pid, sweep_dir = run_sweep(tmp_path, "seed=0,1", "hydra/launcher=submitit_local")
    assert "Submitit 'local' sweep output dir" in output
    check_jobs(output, pid, sweep_dir, seeds=[0, 1])
    submitit_logs = list((sweep_dir / ".submitit").glob("*/*_log.out"))
    assert len(submitit_logs) == 2  # one submitit job (with its own stdout log) per run
    assert any("finished: 1500 env steps" in log.read_text() for log in submitit_logs)


def test_ray_launcher_runs_two_seeds_as_ray_tasks(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_ray_launcher", reason='pip install -e ".[ray]"')
    output, pid, sweep_dir = run_sweep(tmp_path, "seed=0,1", "hydra/launcher=ray_local",
                                       "hydra.launcher.ray.init.num_cpus=2")  # fmt: skip
    assert "Ray Launcher is launching 2 jobs" in output
    check_jobs(output, pid, sweep_dir, seeds=[0, 1])


def test_slurm_preset_composes_to_the_submitit_slurm_launcher():
    register_configs()
    overrides = ["hydra/launcher=slurm", "hydra.launcher.partition=cpu"]
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    launcher = cfg.hydra.launcher
    assert get_class(launcher._target_).__name__ == "SlurmLauncher"
    assert (launcher.partition, launcher.cpus_per_task, launcher.gpus_per_node) == ("cpu", 1, 0)
    assert launcher.submitit_folder.endswith("/.submitit/%j")  # job files beside the sweep


@pytest.mark.slow  # ~10 s: the launcher's workers start Python and import torch
def test_optuna_tpe_search_runs_three_trials_and_reports_the_best(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = [sys.executable, str(TRAIN), "-m", "hparams_search=cartpole_tpe", "hydra.sweeper.n_trials=3",
               *TINY, f"hydra.sweep.dir={sweep_dir}"]  # fmt: skip
    process = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-2000:]
    assert "Sampler: TPESampler" in process.stdout + process.stderr
    assert "setup plugin" not in process.stdout  # alembic's INFO lines, one per plugin, through Hydra's log
    results = [JobResult(**json.loads((path / RESULT_NAME).read_text())) for path in job_dirs(sweep_dir)]
    assert len(results) == 3
    searched = [dict(override.split("=", 1) for override in result.overrides) for result in results]
    for params in searched:
        assert 0.001 <= float(params["agent.lr"]) <= 0.3
        assert 0.9 <= float(params["agent.gamma"]) <= 0.999
        assert params["agent.baseline"] in ("none", "mean", "value")
    best = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert set(best["best_params"]) == {"agent.lr", "agent.gamma", "agent.baseline"}
    assert best["best_value"] == max(result.final_mean_return for result in results)
    assert "agent.gamma" in (sweep_dir / SUMMARY_NAME).read_text()


@pytest.mark.slow  # two searches of two trials
def test_a_search_with_a_database_continues_its_study_in_a_later_sweep(tmp_path):
    """``hydra.sweeper.storage=sqlite:///...`` keeps the study: a second sweep with the same storage
    and study name adds its trials to the first's (optuna 2 failed an assert here under SQLAlchemy 2)."""
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    for seed, sweep in enumerate(("first", "second")):  # another seed: new start-up trials
        command = [sys.executable, str(TRAIN), "-m", "hparams_search=cartpole_tpe",
                   "hydra.sweeper.n_trials=2", f"hydra.sweeper.storage={storage}", *TINY,
                   f"hydra.sweeper.sampler.seed={seed}", f"hydra.sweep.dir={tmp_path / sweep}"]  # fmt: skip
        process = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
        assert process.returncode == 0, process.stdout[-2000:] + process.stderr[-2000:]
    assert "Using an existing study with name 'cartpole_reinforce_tpe'" in process.stderr
    study = optuna.load_study(study_name="cartpole_reinforce_tpe", storage=storage)
    assert [trial.state.name for trial in study.trials] == ["COMPLETE"] * 4
    assert len({tuple(sorted(trial.params.items())) for trial in study.trials}) == 4
    best = yaml.safe_load((tmp_path / "second" / "optimization_results.yaml").read_text())
    assert best["best_value"] == study.best_value


@pytest.mark.slow
def test_a_run_dir_with_now_names_the_folder_the_job_trained_in(tmp_path):
    """``-m seed=0,1 'run_dir=.../${now:%H-%M-%S-%f}_${seed}'``: result.json named a folder resolved
    afresh at the job's end (microseconds later: one that does not exist), so the rows' env steps
    were empty and a resume of the job could not update its row."""
    run_dir = f"run_dir={tmp_path}/runs/${{now:%H-%M-%S-%f}}_${{seed}}"
    sweep_dir = run_sweep(tmp_path, "seed=0,1", run_dir)[2]
    results = [read_result(job / RESULT_NAME) for job in job_dirs(sweep_dir)]
    assert sorted(Path(result.run_dir) for result in results) == sorted((tmp_path / "runs").iterdir())
    for result in results:
        assert (Path(result.run_dir) / "checkpoint.pt").is_file() and result.env_steps == 1500
        assert read_result(Path(result.run_dir) / RESULT_NAME) == result  # the copy a resume updates


def test_a_job_refused_for_a_run_in_its_folder_shows_none_of_that_runs_numbers(tmp_path):
    """A second ``-m 'run_dir=rel/s${seed}' seed=0,1``: each job refused to overwrite the first
    sweep's run (``already holds a run``), yet its row showed that run's return, env steps and
    episodes, read from the checkpoint it had not written."""
    from hydra.core.utils import JobReturn, JobStatus
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    import agents
    from agents.errors import UserError
    from agents.tools.sweep import job_result

    run_dir, job = tmp_path / "rel" / "s0", tmp_path / "sweep" / "0_seed0"
    trained = agents.train("CartPole-v1", f"run_dir={run_dir}", *TINY)
    hydra = {"mode": RunMode.MULTIRUN, "runtime": {"output_dir": str(job)}, "job": {"num": 0}}
    config = OmegaConf.create({"run_dir": str(run_dir), "resume": None, "hydra": hydra})
    refused = JobReturn(overrides=["seed=0"], status=JobStatus.FAILED, _return_value=UserError("holds a run"))
    saved_at = (run_dir / "checkpoint.pt").stat().st_mtime
    row = job_result(config, refused, 0.1, started_at=saved_at + 1.0)  # the job started a second later
    assert (row.env_steps, row.episodes, row.status) == (None, None, "FAILED") and math.isnan(
        row.final_mean_return
    )
    earlier = job_result(config, refused, 0.1, started_at=saved_at - 1.0)  # saved during the job
    assert (earlier.env_steps, earlier.episodes) == (trained.env_steps, trained.episodes)


def test_sweep_folder_names_are_short():
    name = short_overrides("agent.baseline=mean,agent.hidden_sizes=[64,64],agent.lr=0.022881136684755242")
    assert name == "baseline=mean,hidden_sizes=[64,64],lr=0.02288"
    long = short_overrides(",".join(f"agent.key{i}=0.123456789" for i in range(20)))
    assert long == ",".join(f"key{i}=0.1235" for i in range(5)) and len(long) <= 64  # no key cut in two
    # a namespaced env id made two nested folders (and kept Hydra's backslash escape)
    assert short_overrides(r"env=my_envs\:ns/Maze-v0") == "env=my_envs:ns-Maze-v0"
    # an interpolation stayed one: the folder was made with its text, the log file with job 0's value
    assert short_overrides(r"run_dir=runs/$\{seed\}") == "run_dir=runs-{seed}"
    # a quoted comma split the item: "0_total_env_steps=2000,experiment_name='ab_seed0", quote and all
    quoted = short_overrides(
        "budget.total_env_steps=2000,experiment_name='a:b é, x',agent.hidden_sizes=[8,'8']"
    )
    assert quoted == "total_env_steps=2000,experiment_name=a:b é, x,hidden_sizes=[8,8]"
    assert short_overrides("resume='s/0_lr=0.1,steps=15_seed0',x=1") == "resume=s-0_lr=0.1,steps=15_seed0,x=1"


def test_a_long_sweep_folder_name_keeps_the_swept_keys(tmp_path, monkeypatch, capsys):
    """With many settings the name kept the alphabetically first ones, the same in every job, and
    dropped agent.lr, the one the sweep varied: every job's folder read alike."""
    shared = ["agent.activation=relu", "agent.baseline_lr=0.023456", "agent.discount_weighting=true",
              "agent.entropy_coef=0.001", "agent.gamma=0.99"]  # fmt: skip
    sweep = ["-m", "agent.lr=0.0123456789,0.02", *shared, "budget.total_env_steps=300",
             "logging.progress_bar=false", f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(TRAIN), *sweep])
    runpy.run_path(str(TRAIN), run_name="__main__")
    names = sorted(job.name for job in job_dirs(tmp_path / "sweep"))
    assert len(names) == 2 and "lr=0.01235" in names[0] and "lr=0.02" in names[1] and names[0] != names[1]
    assert all(len(name) <= len("0__seed0") + 64 for name in names)
    assert SWEPT_KEYS_VARIABLE not in os.environ  # the command line's, for its jobs only


@pytest.mark.slow
def test_a_sweep_job_folder_pastes_back_into_resume_and_evaluate(tmp_path):
    """Job folders hold ``=`` (and ``,`` with several swept keys), which Hydra's override grammar
    parses: ``resume=<job>`` and ``checkpoint=<job>`` work as printed, unquoted."""
    _, _, sweep_dir = run_sweep(tmp_path, "seed=0")
    (job,) = job_dirs(sweep_dir)
    assert "=" in job.name
    for command in (
        [str(TRAIN), f"resume={job}", "budget.total_env_steps=2000", "logging.progress_bar=false"],
        [str(TRAIN.parent / "evaluate.py"), f"checkpoint={job}", "episodes=1", f"csv={tmp_path / 'e.csv'}"],
    ):
        done = subprocess.run(
            [sys.executable, *command], cwd=tmp_path, capture_output=True, text=True, timeout=240
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert load_checkpoint(job)["counters"]["env_steps"] >= 2000


def test_a_sweep_into_a_folder_holding_one_is_refused_before_anything_runs(tmp_path):
    from agents.errors import UserError
    from agents.runtime.config import register_configs
    from agents.tools.sweep_checks import check_sweep_dir

    register_configs()  # as the scripts do before any check
    argv = ["-m", "seed=0,1", f"hydra.sweep.dir={tmp_path}"]
    check_sweep_dir(argv, "train", CONFIG_DIR)  # an empty folder is fine
    (tmp_path / "multirun.yaml").write_text("hydra: {}\n")
    with pytest.raises(UserError, match=r"already holds a sweep \(.*multirun.yaml\)"):
        check_sweep_dir(argv, "train", CONFIG_DIR)
    check_sweep_dir(argv[1:], "train", CONFIG_DIR)  # not a multirun
    # its multirun.yaml removed, or a search (Optuna writes none): the jobs' checkpoints
    (tmp_path / "multirun.yaml").unlink()
    job = tmp_path / "0_lr=0.1_seed0"
    job.mkdir()
    (job / "checkpoint.pt").write_bytes(b"")
    for sweep in (argv, ["-m", "hparams_search=cartpole_tpe", f"hydra.sweep.dir={tmp_path}"]):
        with pytest.raises(UserError, match=r"already holds a sweep \(.*0_lr=0.1_seed0/checkpoint.pt\)"):
            check_sweep_dir(sweep, "train", CONFIG_DIR)
    # a single run's folder (hydra.sweep.subdir=.): the refused job's .hydra/ had replaced the run's own
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(UserError, match=r"already holds a run \(.*run/checkpoint.pt\)"):
        check_sweep_dir(
            ["-m", "seed=5", f"hydra.sweep.dir={run}", "hydra.sweep.subdir=."], "train", CONFIG_DIR
        )


def test_a_sweep_over_envs_gets_one_folder_unless_the_user_names_one():
    from agents.tools.sweep_checks import ENV_SWEEP_DIR, with_env_sweep_dir

    assert ENV_SWEEP_DIR in with_env_sweep_dir(["-m", "env=CartPole-v1,Acrobot-v1"])  # (among the settings:
    assert ENV_SWEEP_DIR in with_env_sweep_dir(["--multirun", "env=choice(CartPole-v1,Acrobot-v1)"])  # first)
    for argv in (["-m", "env=Acrobot-v1", "seed=0,1"], ["env=CartPole-v1,Acrobot-v1"],
                 ["-m", "env=CartPole-v1,Acrobot-v1", "hydra.sweep.dir=x"]):  # fmt: skip
        assert with_env_sweep_dir(argv) == argv


@pytest.mark.slow
def test_env_sweeps_and_preset_sweeps_run_and_every_job_is_in_the_summary(tmp_path):
    """``-m env=A,B`` lists both jobs in one summary; ``-m env=Acrobot-v1 seed=0,1`` (a preset applies)
    runs (it was Hydra's usage text); a second sweep into the same folder is refused, nothing rewritten."""
    command = [sys.executable, str(TRAIN), "-m", "env=CartPole-v1,Acrobot-v1", *TINY]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    (summary,) = (tmp_path / "multirun" / "env_sweep").glob(f"*/{SUMMARY_NAME}")
    assert "| 0 | CartPole-v1" in summary.read_text() and "| 1 | Acrobot-v1" in summary.read_text()
    assert "preset: none (env is swept" in done.stdout
    output, _, sweep_dir = run_sweep(tmp_path, "env=Acrobot-v1", "seed=0,1")
    assert "preset: experiment=acrobot" in output and len(job_dirs(sweep_dir)) == 2
    before = {path: path.read_bytes() for path in sweep_dir.rglob("*") if path.is_file()}
    again = [sys.executable, str(TRAIN), "-m", "env=Acrobot-v1", "seed=0,1", *TINY]
    again.append(f"hydra.sweep.dir={sweep_dir}")
    done = subprocess.run(again, cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 2 and "already holds a sweep" in done.stderr
    assert {path: path.read_bytes() for path in sweep_dir.rglob("*") if path.is_file()} == before


def test_a_stopped_job_reports_its_checkpoints_return_and_result_json_is_strict(tmp_path):
    """An interrupted job's row said nan although its checkpoint held the last window's returns,
    and ``result.json`` held ``NaN``, which strict JSON readers refuse."""
    import math

    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    import agents
    from agents.errors import RunInterrupted
    from agents.tools.sweep import job_result, read_result, result_json

    trained = agents.train("CartPole-v1", *TINY, f"run_dir={tmp_path / 'job'}")
    hydra = {"runtime": {"output_dir": str(tmp_path / "job")}, "job": {"num": 3}}
    config = OmegaConf.create({"hydra": hydra})
    stopped = JobReturn(overrides=["seed=0"], status=JobStatus.FAILED)
    stopped._return_value = RunInterrupted("stop", 130)
    row = job_result(config, stopped, 1.0)
    assert row.status == "INTERRUPTED" and row.env_steps == trained.seed_results[0].env_steps
    assert row.final_mean_return == trained.final_mean_return
    # a job a launcher's worker took after the sweep's stop, which stopped before it trained: its row
    # read "| 4 | nan | | | 0.0 | INTERRUPTED |", as if it had run (the jobs not launched: NOT_LAUNCHED)
    (tmp_path / "queued").mkdir()
    queued = OmegaConf.create(
        {"hydra": {"runtime": {"output_dir": str(tmp_path / "queued")}, "job": {"num": 4}}}
    )
    not_started = JobReturn(overrides=["seed=1"], status=JobStatus.FAILED)
    not_started._return_value = RunInterrupted("not started: the sweep was stopped by a signal", 143)
    assert job_result(queued, not_started, 0.0).status == "NOT_LAUNCHED"
    (tmp_path / "result.json").write_text(result_json(row))
    assert read_result(tmp_path / "result.json") == row
    row.final_mean_return = math.nan
    text = result_json(row)
    assert '"final_mean_return": null' in text and "NaN" not in text
    (tmp_path / "result.json").write_text(text)
    assert math.isnan(read_result(tmp_path / "result.json").final_mean_return)


def test_a_resumed_sweep_job_updates_its_row(tmp_path):
    """Resumed to its end, a stopped job's result.json and the summary still said INTERRUPTED."""
    import agents
    from agents.tools.sweep import refresh_resumed_job, result_json

    job = tmp_path / "sweep" / "0_lr=0.1_seed0"
    result = agents.train(
        "CartPole-v1", f"run_dir={job}", "budget.total_env_steps=600", "logging.progress_bar=false"
    )
    stopped = "interrupted (SIGINT): saved ...; resume with: ..."
    stale = JobResult(
        0, ["agent.lr=0.1", "seed=0"], "INTERRUPTED", 9.0, 300, 12, 1.0, str(job), stopped=stopped
    )
    (job / RESULT_NAME).write_text(result_json(stale))
    (job.parent / SUMMARY_NAME).write_text("old\n")
    refresh_resumed_job(job, "INTERRUPTED", result.final_mean_return, seconds=0.5)  # stopped again: its line
    assert json.loads((job / RESULT_NAME).read_text())["stopped"] == stopped
    refresh_resumed_job(job, "COMPLETED", result.final_mean_return, seconds=2.0)
    fresh = json.loads((job / RESULT_NAME).read_text())
    assert fresh["status"] == "COMPLETED" and fresh["env_steps"] == result.env_steps
    assert fresh["stopped"] == ""  # it kept the first stop's line and its "resume with:"
    assert fresh["final_mean_return"] == result.final_mean_return and fresh["seconds"] == 1.0 + 2.5
    assert "COMPLETED" in (job.parent / SUMMARY_NAME).read_text()
    refresh_resumed_job(tmp_path, "COMPLETED", 1.0, seconds=1.0)  # a folder of no sweep: nothing
    assert not (tmp_path / RESULT_NAME).exists()
    # a one-job sweep with hydra.sweep.subdir=.: its job folder is the sweep's (the summary above was sought)
    (job / SUMMARY_NAME).write_text("old\n")
    (job / "multirun.yaml").write_text("hydra: {}\n")
    refresh_resumed_job(job, "COMPLETED", result.final_mean_return, seconds=1.0)
    assert "COMPLETED" in (job / SUMMARY_NAME).read_text()


def test_a_resumed_job_that_a_second_signal_quit_gets_its_row(tmp_path):
    """A job quit at once has no result.json, only a QUIT row in the sweep's not_launched.json: its
    resume to the end left the row QUIT, with its "resume it" line."""
    import agents
    from agents.tools.sweep import NOT_LAUNCHED_NAME, QUIT, refresh_resumed_job, result_json, write_summary

    job = tmp_path / "sweep" / "1_seed1"
    result = agents.train("CartPole-v1", f"run_dir={job}", "budget.total_env_steps=600", *TINY[1:])
    (job / ".hydra").mkdir()
    (job / ".hydra" / "hydra.yaml").write_text("hydra:\n  job:\n    num: 1\n")
    rows = [JobResult(0, ["seed=0"], "COMPLETED", 9.0, 300, 12, 1.0, str(job.parent / "0_seed0")),
            JobResult(1, ["seed=1"], QUIT, math.nan, None, None, 0.0, "")]  # fmt: skip
    (job.parent / "0_seed0").mkdir()
    (job.parent / "0_seed0" / RESULT_NAME).write_text(result_json(rows[0]))
    (job.parent / NOT_LAUNCHED_NAME).write_text(f"[\n{result_json(rows[1])}\n]\n")
    assert "#1 QUIT" in write_summary(job.parent)
    refresh_resumed_job(job, "COMPLETED", result.final_mean_return, seconds=2.0)
    fresh = json.loads((job / RESULT_NAME).read_text())
    assert fresh["status"] == "COMPLETED" and fresh["env_steps"] == result.env_steps and fresh["num"] == 1
    summary = (job.parent / SUMMARY_NAME).read_text()
    assert "QUIT" not in summary and summary.count("COMPLETED") == 2, summary


@pytest.mark.parametrize("inside", [False, True], ids=["run_dir-elsewhere", "run_dir-in-the-sweep"])
def test_a_job_given_its_own_run_dir_has_its_counters_and_follows_its_resume(tmp_path, inside):
    """``-m seed=0,1 'run_dir=/x/r${seed}'``: the rows' env steps and episodes were empty (read from
    Hydra's job folder, which holds no checkpoint), and ``resume=/x/r0`` left its row as it was.
    Now they come from the job's run_dir, which keeps a copy of result.json for its resume (one row,
    also when that folder lies inside the sweep's)."""
    from hydra.core.utils import JobReturn, JobStatus
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    import agents
    from agents.tools.sweep import SweepSummary, read_result, refresh_resumed_job

    sweep = tmp_path / "sweep"
    job, run_dir = sweep / "0_run_dir=r{seed}_seed0", (sweep if inside else tmp_path / "runs") / "r0"
    job.mkdir(parents=True)
    trained = agents.train("CartPole-v1", f"run_dir={run_dir}", "budget.total_env_steps=600", *TINY[1:])
    hydra = {"mode": RunMode.MULTIRUN, "runtime": {"output_dir": str(job)}, "job": {"num": 0},
             "sweep": {"dir": str(sweep)}}  # fmt: skip
    config = OmegaConf.create({"run_dir": str(run_dir), "resume": None, "hydra": hydra})
    done = JobReturn(
        overrides=["seed=0"], status=JobStatus.COMPLETED, _return_value=trained.final_mean_return
    )
    SweepSummary().on_job_end(config, done)
    row = read_result(job / RESULT_NAME)
    assert (row.env_steps, row.episodes) == (trained.env_steps, trained.episodes) and row.env_steps >= 600
    assert row.run_dir == str(run_dir) and read_result(run_dir / RESULT_NAME) == row
    summary = (sweep / SUMMARY_NAME).read_text()
    assert summary.count("| COMPLETED |") == 1 and f"| {trained.env_steps} " in summary
    resumed = agents.train("CartPole-v1", f"resume={run_dir}", "budget.total_env_steps=1200", *TINY[1:])
    refresh_resumed_job(run_dir, "COMPLETED", resumed.final_mean_return, seconds=1.0)
    for path in (job / RESULT_NAME, run_dir / RESULT_NAME):
        assert read_result(path).env_steps == resumed.env_steps >= 1200
    summary = (sweep / SUMMARY_NAME).read_text()
    assert summary.count("| COMPLETED |") == 1 and f"| {resumed.env_steps} " in summary


def test_a_resumed_sweep_jobs_seconds_include_the_resume(tmp_path, monkeypatch):
    """The row kept the first run's seconds, as if the resume had taken no time."""
    import agents
    import agents.runtime.run
    from agents.tools import commands
    from agents.tools.composing import compose_train_config
    from agents.tools.sweep import result_json

    job = tmp_path / "sweep" / "0_lr=0.1_seed0"
    agents.train("CartPole-v1", f"run_dir={job}", *TINY[1:], "budget.total_env_steps=300")
    stale = JobResult(0, ["agent.lr=0.1", "seed=0"], "INTERRUPTED", 9.0, 300, 12, 1000.0, str(job))
    (job / RESULT_NAME).write_text(result_json(stale))
    resume = [f"resume={job}", *TINY]  # a larger budget, which a resume reads from Hydra's command line
    monkeypatch.setattr(agents.runtime.run, "command_line", lambda: resume)
    cfg = compose_train_config(resume)
    start = time.perf_counter()
    commands._train(cfg)
    took = time.perf_counter() - start
    fresh = json.loads((job / RESULT_NAME).read_text())
    assert fresh["status"] == "COMPLETED" and fresh["env_steps"] == 1500
    assert 0 < fresh["seconds"] - 1000.0 <= took  # the resume's time, added


def test_result_json_is_written_atomically(tmp_path, monkeypatch):
    """A job's result.json was written in place: a full disk or a signal mid-write left half a file
    (and lost the old one), which no summary could read again."""
    import errno

    from hydra.core.utils import JobReturn, JobStatus
    from hydra.types import RunMode
    from omegaconf import OmegaConf

    from agents.tools.sweep import SweepSummary, read_result, refresh_resumed_job, result_json

    job = tmp_path / "sweep" / "0_lr=0.1_seed0"
    job.mkdir(parents=True)
    old = JobResult(0, ["agent.lr=0.1"], "INTERRUPTED", 9.0, 300, 12, 1.0, str(job))
    (job / RESULT_NAME).write_text(result_json(old))
    real_write_text = Path.write_text

    def write_half_then_fail(path: Path, text: str, *args, **kwargs) -> int:
        real_write_text(path, text[: len(text) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(Path, "write_text", write_half_then_fail)
    with pytest.raises(OSError):
        refresh_resumed_job(job, "COMPLETED", 20.0, seconds=1.0)
    hydra = {"mode": RunMode.MULTIRUN, "runtime": {"output_dir": str(job)}, "job": {"num": 0},
             "sweep": {"dir": str(job.parent)}}  # fmt: skip
    done = JobReturn(overrides=["agent.lr=0.1"], status=JobStatus.COMPLETED, _return_value=20.0)
    with pytest.raises(OSError):
        SweepSummary().on_job_end(OmegaConf.create({"hydra": hydra}), done)
    assert read_result(job / RESULT_NAME) == old  # whole, as it was
    assert [path.name for path in job.iterdir()] == [RESULT_NAME]  # no temporary file left


def test_a_result_json_cut_short_is_one_line_not_a_traceback(tmp_path, capsys):
    """A result.json that is no JSON (cut short by a full disk, edited) was a JSONDecodeError
    traceback wherever the sweep's results were read: the summary now leaves it out with a
    warning line, and a resumed job's row says it cannot be updated."""
    from agents.errors import UserError
    from agents.tools.sweep import read_result, refresh_resumed_job, result_json, write_summary

    sweep = tmp_path / "sweep"
    good, cut = sweep / "0_lr=0.1_seed0", sweep / "1_lr=0.2_seed0"
    for number, job in enumerate((good, cut)):
        job.mkdir(parents=True)
        row = JobResult(number, [f"agent.lr=0.{number + 1}"], "COMPLETED", 9.0, 300, 12, 1.0, str(job))
        (job / RESULT_NAME).write_text(result_json(row))
    text = (cut / RESULT_NAME).read_text()
    (cut / RESULT_NAME).write_text(text[: len(text) // 2])
    with pytest.raises(UserError, match=f"{cut / RESULT_NAME} holds no job's result"):
        read_result(cut / RESULT_NAME)
    (sweep / "other").mkdir()
    (sweep / "other" / RESULT_NAME).write_text("[1, 2]")  # JSON, but no result
    capsys.readouterr()
    table = write_summary(sweep)
    assert "| 0 " in table and "| 1 " not in table
    warnings = capsys.readouterr().err.splitlines()
    assert len(warnings) == 2 and all(line.startswith("warning: ") for line in warnings), warnings
    assert all(line.endswith(f"; left out of {SUMMARY_NAME}") for line in warnings)
    refresh_resumed_job(cut, "COMPLETED", 20.0, seconds=1.0)
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"warning: {cut / RESULT_NAME} holds no job's result") and "not updated" in line
    assert (cut / RESULT_NAME).read_text() == text[: len(text) // 2]  # left as it was


def test_a_num_seeds_jobs_row_sums_its_seeds_and_follows_their_resumes(tmp_path):
    """A num_seeds job's row had empty env steps and episodes (its checkpoints are in seed*/), and
    resuming its stopped seeds never updated it (result.json is in the job folder, one level up)."""
    import math

    import torch
    from hydra.core.utils import JobReturn, JobStatus
    from omegaconf import OmegaConf

    import agents
    from agents.errors import RunInterrupted
    from agents.runtime.checkpoint import load_checkpoint
    from agents.tools.sweep import job_result, refresh_resumed_job, result_json

    job = tmp_path / "sweep" / "0_num_seeds=2"
    trained = agents.train("CartPole-v1", f"run_dir={job}", "num_seeds=2", "budget.total_env_steps=600",
                           "logging.progress_bar=false")  # fmt: skip
    seeds = trained.seed_results
    config = OmegaConf.create({"hydra": {"runtime": {"output_dir": str(job)}, "job": {"num": 0}}})
    stopped = JobReturn(overrides=["num_seeds=2"], status=JobStatus.FAILED)
    stopped._return_value = RunInterrupted("stop", 130)
    row = job_result(config, stopped, 1.0)
    assert row.env_steps == sum(s.env_steps for s in seeds) and row.episodes == sum(s.episodes for s in seeds)
    assert row.final_mean_return == trained.final_mean_return  # the mean over seeds
    stale = JobResult(0, ["num_seeds=2"], "INTERRUPTED", math.nan, None, None, 1.0, str(job))
    (job / RESULT_NAME).write_text(result_json(stale))
    (job.parent / SUMMARY_NAME).write_text("old\n")
    state = load_checkpoint(job / "seed0")
    state["counters"]["env_steps"] = 100  # seed0 still stopped short of its budget
    torch.save(state, job / "seed0" / "checkpoint.pt")
    refresh_resumed_job(job / "seed1", "COMPLETED", 5.0, seconds=1.0)  # seed1 resumed to its end
    fresh = json.loads((job / RESULT_NAME).read_text())
    assert fresh["status"] == "INTERRUPTED" and fresh["env_steps"] == 100 + seeds[1].env_steps
    state["counters"]["env_steps"] = seeds[0].env_steps
    torch.save(state, job / "seed0" / "checkpoint.pt")
    refresh_resumed_job(job / "seed0", "COMPLETED", 5.0, seconds=1.0)  # and seed0: the job is complete
    fresh = json.loads((job / RESULT_NAME).read_text())
    assert fresh["status"] == "COMPLETED" and fresh["final_mean_return"] == trained.final_mean_return
    assert "COMPLETED" in (job.parent / SUMMARY_NAME).read_text()


def test_every_dated_output_folder_carries_microseconds():
    """Two searches started in the same second shared ``hparams_search/<time>/``: one
    ``optimization_results.yaml`` and both searches' trials in one summary."""
    dated = [
        (path.name, line.strip())
        for path in sorted(Path(CONFIG_DIR).rglob("*.yaml"))
        for line in path.read_text().splitlines()
        if "${now:" in line
    ]
    assert len(dated) >= 3  # train.yaml's run and sweep folders, the search's
    assert [entry for entry in dated if "%S-%f}" not in entry[1]] == []


def test_a_job_resumed_with_other_settings_says_so_in_its_row(tmp_path, monkeypatch):
    """``resume=<job> agent.lr=0.05`` left the row reading ``agent.lr=0.1`` (the overrides it started
    with) beside the counters of a run that went on at 0.05: now a "resumed with" column says what
    the resume changed (against Hydra's record of the job's config), and only when some job has it."""
    from omegaconf import OmegaConf

    import agents
    import agents.runtime.run
    from agents.tools import commands
    from agents.tools.composing import compose_train_config
    from agents.tools.sweep import read_result, result_json, summary_table

    sweep = tmp_path / "sweep"
    rows = []
    for num, lr in enumerate(("0.1", "0.2")):
        job = sweep / f"{num}_lr={lr}"
        overrides = [f"agent.lr={lr}", "budget.total_env_steps=300", "logging.progress_bar=false"]
        agents.train("CartPole-v1", f"run_dir={job}", *overrides)
        (job / ".hydra").mkdir()
        OmegaConf.save(compose_train_config(overrides), job / ".hydra" / "config.yaml")  # Hydra's record
        rows.append(JobResult(num, overrides[:1], "COMPLETED", 9.0, 300, 12, 1.0, str(job)))
        (job / RESULT_NAME).write_text(result_json(rows[-1]).replace('  "resumed_with": [],\n', ""))
    assert read_result(sweep / "0_lr=0.1" / RESULT_NAME) == rows[0]  # an older result.json reads
    assert "resumed with" not in summary_table(rows)
    (sweep / SUMMARY_NAME).write_text(summary_table(rows))
    for job, changes in ((rows[0].output_dir, ["agent.lr=0.05"]), (rows[1].output_dir, [])):
        resume = [f"resume={job}", *changes, "budget.total_env_steps=600", "logging.progress_bar=false"]
        monkeypatch.setattr(agents.runtime.run, "command_line", lambda resume=resume: resume)
        commands._train(compose_train_config(resume))
    first, second = (read_result(Path(row.output_dir) / RESULT_NAME) for row in rows)
    assert first.resumed_with == ["agent.lr=0.05", "budget.total_env_steps=600"] and first.env_steps == 600
    assert second.resumed_with == ["budget.total_env_steps=600"]
    table = (sweep / SUMMARY_NAME).read_text()
    assert "| # | agent.lr | resumed with " in table
    assert "| 0 | 0.1      | agent.lr=0.05 budget.total_env_steps=600 |" in table


def _resume_job(monkeypatch, folder: Path, *changes: str) -> None:
    """``train.py resume=<folder> <changes>`` as a sweep job's resume runs it (in this process)."""
    import agents.runtime.run
    from agents.tools import commands
    from agents.tools.composing import compose_train_config

    resume = [f"resume={folder}", *changes, "logging.progress_bar=false"]
    monkeypatch.setattr(agents.runtime.run, "command_line", lambda: resume)
    commands._train(compose_train_config(resume))


def test_a_num_seeds_jobs_row_says_each_seeds_resumed_settings_and_needs_no_hydra_record(
    tmp_path, monkeypatch
):
    """Seeds resumed with other settings each: the row showed the last seed's as the whole job's.
    A job without Hydra's record (``hydra.output_subdir=null``) showed no change at all: now its
    overrides are compared (Hydra's reading of them: ``1e-3`` is a float)."""
    import agents
    from agents.tools.sweep import read_result, result_json

    job = tmp_path / "sweep" / "0_lr=1e-3"
    agents.train("CartPole-v1", f"run_dir={job}", "num_seeds=2", "agent.lr=1e-3", *TINY[1:],
                 "budget.total_env_steps=300")  # fmt: skip
    row = JobResult(0, ["agent.lr=1e-3", "num_seeds=2"], "COMPLETED", 9.0, 600, 12, 1.0, str(job))
    (job / RESULT_NAME).write_text(result_json(row))
    (job.parent / SUMMARY_NAME).write_text("old\n")
    _resume_job(monkeypatch, job / "seed0", "budget.total_env_steps=600")
    assert read_result(job / RESULT_NAME).resumed_with == []  # the budget is no override of the job's
    _resume_job(monkeypatch, job / "seed1", "agent.lr=0.05", "budget.total_env_steps=600")
    assert read_result(job / RESULT_NAME).resumed_with == ["seed0: unchanged", "seed1: agent.lr=0.05"]
    assert "| seed0: unchanged; seed1: agent.lr=0.05 |" in (job.parent / SUMMARY_NAME).read_text()  # was
    # "seed0: unchanged seed1: agent.lr=0.05": one seed's change read as the other's
    _resume_job(monkeypatch, job / "seed0", "agent.lr=0.05", "budget.total_env_steps=900")
    assert read_result(job / RESULT_NAME).resumed_with == ["agent.lr=0.05"]  # the seeds alike again
    assert "| agent.lr=0.05 " in (job.parent / SUMMARY_NAME).read_text()


@pytest.mark.parametrize("bad", ["5", "null", '"agent.lr=0.3"', "[1, 2]", '{"a": 1}'])
def test_a_result_json_with_a_bad_resumed_with_is_left_out_with_a_warning(tmp_path, capsys, bad):
    """A hand-edited ``"resumed_with": 5`` made the summary a TypeError traceback; a string was
    spelled out letter by letter."""
    from agents.tools.sweep import read_results, result_json

    for num in (0, 1):
        text = result_json(
            JobResult(num, ["seed=0"], "COMPLETED", 9.0, 300, 12, 1.0, str(tmp_path / str(num)))
        )
        edited = text.replace('"resumed_with": []', f'"resumed_with": {bad}')
        (tmp_path / str(num)).mkdir()
        (tmp_path / str(num) / RESULT_NAME).write_text(edited if num else text)
    assert [result.num for result in read_results(tmp_path)] == [0]
    assert "resumed_with is" in capsys.readouterr().err
