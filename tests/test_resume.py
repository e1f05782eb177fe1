"""Checkpoints, exact resume and signals."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.errors import RunInterrupted, UserError
from agents.runtime import tags
from agents.runtime.checkpoint import BEST_CHECKPOINT_NAME, load_checkpoint
from agents.runtime.evaluation import TrainingEvaluation
from agents.runtime.run import train
from agents.runtime.trainer import StopOnSignal, Trainer
from agents.tools.composing import compose_train_config

ROOT = Path(__file__).resolve().parent.parent
RUN = ["agent.dtype=float64", "budget.total_env_steps=6000", "budget.stop_at_target=false", "seed=5"]


@pytest.mark.parametrize(
    "extra", [[], ["features=normalized", "agent.baseline=value", "agent.episodes_per_update=2"]]
)
def test_interrupted_mid_episode_then_resumed_equals_uninterrupted(make_config, tmp_path, extra):
    full = train(make_config(*RUN, *extra, f"run_dir={tmp_path / 'full'}"))

    part = Trainer(make_config(*RUN, *extra, f"run_dir={tmp_path / 'part'}"))
    part.step_limit = 2345  # what a signal does, at a step of our choosing
    part.run()
    assert part.env_steps == 2345
    assert part.buffer.length[0] > 0, "the interruption should fall inside an episode"
    resumed = train(make_config(f"resume={tmp_path / 'part'}"))

    assert resumed.env_steps == full.env_steps
    assert resumed.episodes == full.episodes
    assert resumed.recent_returns == full.recent_returns
    weights = [load_checkpoint(r.run_dir)["policy"]["weight"] for r in (full, resumed)]
    assert (weights[0] - weights[1]).abs().max().item() <= 1e-12


class GlobalRandomRewards(gym.Env):
    """Rewards drawn from python's and numpy's global generators (and one draw in each reset), which
    the observations ([step, last action]) do not show; 10 steps an episode."""

    observation_space = gym.spaces.Box(0.0, 10.0, (2,), np.float64)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        np.random.random()
        return np.zeros(2), {}

    def step(self, action):
        self.t += 1
        reward = float(action) * (random.random() + np.random.random())
        return np.array([float(self.t), float(action)]), reward, self.t >= 10, False, {}


gym.register("test/GlobalRandomRewards-v0", entry_point=GlobalRandomRewards)


def test_an_env_drawing_from_the_global_generators_resumes_exactly(make_config, tmp_path, caplog):
    """The global generators were restored before the episode in progress was replayed, which drew
    from them again: every later reward (and so the parameters) left the uninterrupted run's."""
    common = [
        *RUN,
        "env=test/GlobalRandomRewards-v0",
        "budget.total_env_steps=600",
        "checkpoint.every_steps=0",
    ]
    full = train(make_config(*common, f"run_dir={tmp_path / 'full'}"))
    part = Trainer(make_config(*common, f"run_dir={tmp_path / 'part'}"))
    part.step_limit = 345  # mid-episode
    part.run()
    assert part.buffer.length[0] > 0
    resumed = train(make_config(f"resume={tmp_path / 'part'}"))
    assert resumed.recent_returns == full.recent_returns
    weights = [load_checkpoint(r.run_dir)["policy"]["weight"] for r in (full, resumed)]
    assert torch.equal(weights[0], weights[1])
    assert "env=test/GlobalRandomRewards-v0 drew from the global random generators" in caplog.text


def _same_files(first: Path, second: Path) -> None:
    """Both runs' checkpoints hold the same state (the wall clock and the run folder apart)."""
    for name in ("checkpoint.pt", BEST_CHECKPOINT_NAME):
        states = [load_checkpoint(folder / name) for folder in (first, second)]
        for state in states:
            del state["counters"]["elapsed_seconds"], state["config"]
        assert repr(states[0]) == repr(states[1]), name


def _scalar_steps(run_dir: Path) -> dict[str, list[int]]:
    events = EventAccumulator(str(run_dir)).Reload()
    return {tag: [e.step for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_a_signal_save_is_no_best_candidate_and_the_log_interval_survives(make_config, tmp_path):
    """Resuming every setting against an uninterrupted run found: the save a signal made competed
    for checkpoint_best.pt (the interrupt point's moving mean became the best), and the update
    statistics restarted their logging interval at the resume (logged at other steps)."""
    common = [*RUN, "budget.window=10", "checkpoint.every_steps=2000", "logging.interval_steps=700"]
    full = train(make_config(*common, f"run_dir={tmp_path / 'full'}"))
    part = Trainer(make_config(*common, f"run_dir={tmp_path / 'part'}"))
    part.step_limit, part.stop_signal = 3001, signal.SIGINT  # what a signal does, at a chosen step
    with pytest.raises(RunInterrupted):
        part.run()
    resumed = train(make_config(f"resume={tmp_path / 'part'}"))
    _same_files(full.run_dir, resumed.run_dir)
    steps = [_scalar_steps(run) for run in (full.run_dir, resumed.run_dir)]
    assert steps[0][tags.ENTROPY] == steps[1][tags.ENTROPY] and len(steps[0][tags.ENTROPY]) >= 5


def test_an_evaluation_a_signal_cut_is_done_at_its_step_on_resume(make_config, tmp_path, monkeypatch):
    """It was redone one step late, so every later evaluation (and the best file) moved; the
    linear schedule's lr in a checkpoint saved before the resumed run's first update was the base lr."""
    common = [*RUN, "eval.every_steps=2000", "eval.episodes=2", "agent.lr_schedule=linear"]
    full = train(make_config(*common, f"run_dir={tmp_path / 'full'}"))
    part = Trainer(make_config(*common, f"run_dir={tmp_path / 'part'}"))
    evaluate = TrainingEvaluation.__call__

    def signal_in_the_second(self, env_steps, stop=None):  # a SIGINT while evaluating at step 4000
        if self.count == 1:
            part.stop_signal, part.step_limit = signal.SIGINT, 0
        return evaluate(self, env_steps, stop)

    monkeypatch.setattr(TrainingEvaluation, "__call__", signal_in_the_second)
    with pytest.raises(RunInterrupted):
        part.run()
    monkeypatch.undo()
    assert part.env_steps == 4000 and part.evaluation.count == 1
    resumed = train(make_config(f"resume={tmp_path / 'part'}"))
    _same_files(full.run_dir, resumed.run_dir)
    steps = [_scalar_steps(run)[tags.EVAL_MEAN_RETURN] for run in (full.run_dir, resumed.run_dir)]
    assert steps[0] == steps[1] == [2000, 4000, 6000]


def test_best_checkpoint_is_written(make_config):
    result = train(
        make_config("budget.total_env_steps=4000", "budget.window=5", "checkpoint.every_steps=1000")
    )
    best = load_checkpoint(result.run_dir / BEST_CHECKPOINT_NAME)
    assert best["counters"]["best_mean_return"] > 0
    assert not list(result.run_dir.glob(".*.tmp"))
    # resuming from it would continue in this folder and overwrite the later checkpoint.pt: refused
    latest = (result.run_dir / "checkpoint.pt").read_bytes()
    with pytest.raises(
        UserError, match=r"would continue in .* and overwrite its checkpoint.pt \(the run's latest point\)"
    ):
        train(make_config(f"resume={result.run_dir / BEST_CHECKPOINT_NAME}", "budget.total_env_steps=8000"))
    assert (result.run_dir / "checkpoint.pt").read_bytes() == latest


def test_a_run_whose_save_was_cut_short_before_its_latest_file_resumes_from_the_best(make_config, tmp_path):
    """A kill between the two files of a run's first save (``checkpoint_best.pt`` is written first)
    left no ``checkpoint.pt``: ``resume=<run>`` said "no checkpoint at <run>/checkpoint.pt", and a
    new run there said "already holds a run ... continue it with resume=<run>": each sent the user
    to the other. Both now name the best file, which resumes."""
    run = train(make_config("budget.total_env_steps=3000", "budget.window=5")).run_dir
    assert (run / BEST_CHECKPOINT_NAME).is_file()
    (run / "checkpoint.pt").unlink()  # as a kill after the best file's rename leaves it
    for attempt in (
        lambda: train(make_config(f"resume={run}")),
        lambda: load_checkpoint(run),
    ):
        with pytest.raises(UserError) as refused:
            attempt()
        assert str(refused.value) == (
            f"{run} holds checkpoint_best.pt but no checkpoint.pt (the save that writes both was cut short "
            f"between them): pass {run / BEST_CHECKPOINT_NAME}"
        )
    with pytest.raises(UserError, match=rf"continue it with resume={run / BEST_CHECKPOINT_NAME}, or give"):
        train(compose_train_config(["logging.progress_bar=false", f"run_dir={run}"]))
    seeds = tmp_path / "seeds"  # a num_seeds run whose seed folders were all cut short so
    (seeds / "seed0").mkdir(parents=True)
    shutil.copy(run / BEST_CHECKPOINT_NAME, seeds / "seed0")
    with pytest.raises(UserError, match=r"holds 1 seeds' runs, each in its own folder: pass one of them"):
        load_checkpoint(seeds)  # was "no checkpoint at <seeds>/checkpoint.pt"
    more = ["budget.total_env_steps=4000"]
    resumed = train(make_config(f"resume={run / BEST_CHECKPOINT_NAME}", *more), overrides=more)
    assert resumed.env_steps >= 4000 and load_checkpoint(run)["counters"]["env_steps"] == resumed.env_steps


def test_signal_handler_stops_then_second_signal_interrupts(make_config):
    trainer = Trainer(make_config("budget.total_env_steps=1000"))
    with StopOnSignal([trainer]):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        assert trainer.step_limit == 0 and trainer.stop_signal == signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
    trainer.envs.close()


PROGRAMS = {
    f"python {ROOT}/scripts/train.py": [sys.executable, str(ROOT / "scripts" / "train.py")],
    "softmax-reinforce train": [sys.executable, "-m", "agents.tools.console", "train"],
}
"""How the run is started -> the command line that starts it that way (both said "python
scripts/train.py", which runs only from the repo's folder)."""


@pytest.mark.parametrize(  # one in the quick suite; the others in make test-slow (CI)
    ("sig", "code", "program"),
    [
        (signal.SIGINT, 130, f"python {ROOT}/scripts/train.py"),
        pytest.param(signal.SIGTERM, 143, f"python {ROOT}/scripts/train.py", marks=pytest.mark.slow),
        pytest.param(signal.SIGINT, 130, "softmax-reinforce train", marks=pytest.mark.slow),
    ],
    ids=["script-SIGINT", "script-SIGTERM", "console-SIGINT"],
)
def test_signal_saves_flushes_and_prints_the_resume_command(tmp_path, sig, code, program):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [*PROGRAMS[program], "logging.progress_bar=false",
         "budget.total_env_steps=100000000", "budget.stop_at_target=false", f"run_dir={run_dir}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    deadline = time.time() + 90
    while not list(run_dir.glob("events.out.tfevents.*")) and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)  # let it train a little
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    assert f"resume with: {program} resume={run_dir}" in stderr
    assert "Traceback" not in stderr
    checkpoint = load_checkpoint(run_dir)
    steps = checkpoint["counters"]["env_steps"]
    assert steps > 0
    events = EventAccumulator(str(run_dir)).Reload()
    logged = events.Scalars(tags.EPISODIC_RETURN)
    assert len(logged) == checkpoint["counters"]["episodes"]  # everything was flushed
    assert torch.isfinite(checkpoint["policy"]["weight"]).all()


def test_resuming_a_finished_run_is_refused_and_writes_nothing(make_config, tmp_path):
    """It added an empty event file and printed "finished" as if it had trained again."""
    run_dir = tmp_path / "run"
    train(make_config("budget.total_env_steps=600", "budget.stop_at_target=false", f"run_dir={run_dir}"))
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    with pytest.raises(
        UserError, match=r"has nothing left to do: it took its 600 env steps .* larger budget"
    ):
        train(make_config(f"resume={run_dir}"), overrides=[])
    smaller = ["budget.total_env_steps=100"]  # it said the run "took its 600 env steps (...=100)"
    with pytest.raises(
        UserError, match=r"it has taken 600 env steps, more than budget.total_env_steps=100: .* above 600"
    ):
        train(make_config(f"resume={run_dir}", *smaller), overrides=smaller)
    # a run that stopped at its target (here a low one, set for the test)
    target_dir = tmp_path / "target"
    done = train(make_config("budget.target_return=20", "budget.window=5", f"run_dir={target_dir}"))
    assert done.reached_target and done.env_steps < 50_000
    target_files = {path.name: path.read_bytes() for path in target_dir.iterdir()}
    with pytest.raises(UserError, match=r"reached its target .* budget.stop_at_target=false to train on"):
        train(make_config(f"resume={target_dir}"), overrides=[])
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before
    assert {path.name: path.read_bytes() for path in target_dir.iterdir()} == target_files
    more = train(
        make_config(f"resume={run_dir}", "budget.total_env_steps=900"),
        overrides=["budget.total_env_steps=900"],
    )
    assert more.env_steps >= 900


def test_a_resume_whose_checkpoint_another_resume_saved_over_meanwhile_is_refused(
    make_config, tmp_path, monkeypatch
):
    """Two resumes of one run: each read the checkpoint, then took the folder's lock in turn, and
    both trained it; the later one's checkpoint (fewer steps) replaced the earlier one's."""
    run_dir = tmp_path / "run"
    train(make_config("budget.total_env_steps=600", f"run_dir={run_dir}"))
    checkpoint = run_dir / "checkpoint.pt"
    refuse_finished = Trainer._refuse_finished_resume

    def another_resume_saves(self):  # between this one's read and its lock
        refuse_finished(self)
        saved = checkpoint.read_bytes()
        checkpoint.unlink()
        checkpoint.write_bytes(saved)  # a new file, as every (atomic) save writes

    monkeypatch.setattr(Trainer, "_refuse_finished_resume", another_resume_saves)
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    more = ["budget.total_env_steps=900"]
    with pytest.raises(UserError, match=r"checkpoint.pt was saved again while this resume read it \(another"):
        train(make_config(f"resume={run_dir}", *more), overrides=more)
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before
    monkeypatch.undo()
    assert train(make_config(f"resume={run_dir}", *more), overrides=more).env_steps >= 900


@pytest.mark.parametrize(
    "path",
    ["/tmp/run", "/tmp/sp ace", "/tmp/it's", "/tmp/0_lr=0.1,seed=2", "/tmp/[x]", "/tmp/b\\s2", "/tmp/a\\'b",
     "/tmp/end\\", "/tmp/ünï"],  # backslashes: Hydra keeps them, except before a quote
)  # fmt: skip
def test_the_printed_resume_override_survives_the_shell_and_hydra(path):
    """``resume=/tmp/sp ace`` was printed as is: pasted, Hydra refused ``ace``."""
    import shlex

    from hydra.core.override_parser.overrides_parser import OverridesParser

    from agents.runtime.program import path_override

    (token,) = shlex.split(path_override("resume", path))
    (override,) = OverridesParser.create().parse_overrides([token])
    assert override.key_or_group == "resume" and override.value() == path


def test_a_fault_in_the_env_saves_the_state_before_the_failed_step(make_config, tmp_path, monkeypatch):
    """The save after the user's env raised held the action noise after the failed step: a run
    resumed from it drew its actions one row late and left the uninterrupted run. Now the saved
    noise and generator are a clean run's stopped just before that step."""
    import fault_envs

    common = ["env=fault_envs:fault/Raise-v0", "agent.lr_schedule=constant", "budget.total_env_steps=2000"]
    monkeypatch.setattr(fault_envs.FaultyEnv, "calls", 0)  # raises at its 150th step
    with pytest.raises(UserError, match="failed at env step 150"):
        train(make_config(*common, f"run_dir={tmp_path / 'failed'}"))
    failed = load_checkpoint(tmp_path / "failed")
    monkeypatch.setattr(fault_envs.FaultyEnv, "calls", -(10**9))  # never raises
    clean = Trainer(make_config(*common, f"run_dir={tmp_path / 'clean'}"))
    clean.step_limit = failed["counters"]["env_steps"]
    clean.run()
    saved = load_checkpoint(tmp_path / "clean")
    assert saved["counters"]["env_steps"] == 149
    assert np.array_equal(failed["rng"]["actor"]["unused_noise"], saved["rng"]["actor"]["unused_noise"])
    assert failed["rng"]["actor"]["rng"] == saved["rng"]["actor"]["rng"]
    assert torch.equal(failed["policy"]["weight"], saved["policy"]["weight"])


def test_a_fault_in_one_seeds_env_saves_each_seed_before_its_next_step(make_config, tmp_path, monkeypatch):
    """``num_seeds`` exact: the seeds act through one actor in lockstep, and seed 1's env raises
    in the middle of a vector step (seed 0 has taken it, seed 2 has not). The saves held the
    shared count, one row late for seeds 1 and 2; now each seed's save equals its separate run
    stopped where that seed stopped, and the line says every seed was saved."""
    import fault_envs

    common = ["env=fault_envs:fault/Raise-v0", "agent.lr_schedule=constant", "budget.total_env_steps=2000"]
    monkeypatch.setattr(fault_envs.FaultyEnv, "calls", 1)  # its 150th step call: seed 1's 50th step
    with pytest.raises(UserError, match="failed at env step 50") as raised:
        train(make_config(*common, "num_seeds=3", f"run_dir={tmp_path / 'failed'}"))
    assert f"every other seed's in {tmp_path / 'failed'}/seed*/checkpoint.pt" in str(raised.value)
    assert f"seed 1's last good state is in {tmp_path / 'failed' / 'seed1'}" in str(raised.value)
    monkeypatch.setattr(fault_envs.FaultyEnv, "calls", -(10**9))  # never raises
    for seed, steps in ((0, 50), (1, 49), (2, 49)):
        failed = load_checkpoint(tmp_path / "failed" / f"seed{seed}")
        assert failed["counters"]["env_steps"] == steps
        clean = Trainer(make_config(*common, f"seed={seed}", f"run_dir={tmp_path / f'clean{seed}'}"))
        clean.step_limit = steps
        clean.run()
        saved = load_checkpoint(tmp_path / f"clean{seed}")
        assert np.array_equal(failed["rng"]["actor"]["unused_noise"], saved["rng"]["actor"]["unused_noise"])
        assert failed["rng"]["actor"]["rng"] == saved["rng"]["actor"]["rng"]
        assert torch.equal(failed["policy"]["weight"], saved["policy"]["weight"])


def test_a_lower_logging_interval_given_at_a_resume_applies_from_the_resume(make_config, tmp_path):
    """The next point stayed where the old interval put it: a run logged every 10^9 steps and
    resumed with ``logging.interval_steps=500`` wrote no update statistics in 3,000 more steps."""
    run_dir, no_stop = tmp_path / "run", "budget.stop_at_target=false"
    train(make_config("budget.total_env_steps=3000", no_stop, "logging.interval_steps=1000000000",
                      f"run_dir={run_dir}"))  # fmt: skip
    more = ["budget.total_env_steps=6000", "logging.interval_steps=500"]
    train(make_config(f"resume={run_dir}", no_stop, *more), overrides=more)
    steps = [point.step for point in EventAccumulator(str(run_dir)).Reload().Scalars(tags.LEARNING_RATE)]
    resumed = [step for step in steps if step > 3000]
    assert len(steps) - len(resumed) == 1 and len(resumed) >= 4, steps  # the first update's, then every ~500
    assert max(b - a for a, b in zip([3000, *resumed], resumed, strict=False)) < 1000, steps
