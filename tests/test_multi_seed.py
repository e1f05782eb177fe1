"""num_seeds=N trains N runs side by side with batched acting; each equals its separate run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from agents.errors import UserError
from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.multi_seed import MultiSeedResult, MultiSeedTrainer, std_over_seeds
from agents.runtime.run import train
from agents.runtime.run_lock import RunFolderLock
from agents.runtime.trainer import TrainResult
from agents.tools.results import PresetResult, SeedResult, results_table

ROOT = Path(__file__).resolve().parent.parent


def test_multi_seed_equals_separate_runs(make_config, tmp_path):
    """Seeds stop at a low target at different steps, so the batched acting runs with all seeds
    and with some; each seed's parameters, returns and sampling state equal its own run's."""
    common = ["budget.total_env_steps=3000", "agent.dtype=float64"]
    common += ["budget.target_return=40", "budget.window=5"]
    together = MultiSeedTrainer(
        make_config(*common, "seed=10", "num_seeds=3", f"run_dir={tmp_path / 'multi'}")
    ).run()
    assert [r.run_dir.name for r in together.results] == ["seed10", "seed11", "seed12"]
    for seed, joint in zip((10, 11, 12), together.results, strict=True):
        alone = train(make_config(*common, f"seed={seed}", f"run_dir={tmp_path / f'alone{seed}'}"))
        assert joint.recent_returns == alone.recent_returns
        assert joint.env_steps == alone.env_steps
        joint_state, alone_state = (load_checkpoint(r.run_dir) for r in (joint, alone))
        assert torch.equal(joint_state["policy"]["weight"], alone_state["policy"]["weight"])
        actors = [state["rng"]["actor"] for state in (joint_state, alone_state)]
        assert actors[0]["rng"] == actors[1]["rng"]
        assert np.array_equal(actors[0]["unused_noise"], actors[1]["unused_noise"])
    assert len({r.env_steps for r in together.results}) > 1, "the seeds should stop at different steps"
    assert "3 seeds in" in together.table()


def test_float32_action_form_seeds_equal_their_separate_runs(make_config, tmp_path):
    """Each seed's theta was a row of one stacked tensor at a 40-byte offset, and float32
    ``phi @ theta`` rounded differently there: seed 1 ended 145 episodes against its own run's 159."""
    common = ["agent.policy=action", "budget.total_env_steps=4000", "budget.stop_at_target=false"]
    together = MultiSeedTrainer(
        make_config(*common, "seed=0", "num_seeds=3", f"run_dir={tmp_path / 'm'}")
    ).run()
    for seed, joint in zip((0, 1, 2), together.results, strict=True):
        alone = train(make_config(*common, f"seed={seed}", f"run_dir={tmp_path / f'alone{seed}'}"))
        assert joint.recent_returns == alone.recent_returns
        joint_state, alone_state = (load_checkpoint(r.run_dir) for r in (joint, alone))
        assert torch.equal(joint_state["policy"]["theta"], alone_state["policy"]["theta"])


def test_the_seeds_table_and_the_results_table_give_the_same_std_over_seeds(tmp_path):
    """The seeds table printed the population std (ddof=0) and the results table the sample std
    (ddof=1): the same five returns read 185.34 in one and 207.21 in the other. Both are the
    sample std now, 0 for one seed."""
    returns = [-116.57, -137.00, -112.62, -500.0, -500.0]  # experiment=acrobot's seeds 0-4
    seeds = [
        TrainResult(tmp_path / f"seed{i}", 100, 10, 5, 1.0, value, False) for i, value in enumerate(returns)
    ]
    table = MultiSeedResult(tmp_path, seeds, 5.0).table()
    preset = PresetResult(
        "acrobot", "Acrobot-v1", [SeedResult(i, 100, 1.0, r) for i, r in enumerate(returns)]
    )
    assert std_over_seeds(returns) == preset.std_return == pytest.approx(207.2111, abs=1e-4)
    assert "final mean return -273.24 +- 207.21 (std over seeds, ddof=1)" in table
    assert "-273.24 ± 207.21" in results_table([preset])
    assert std_over_seeds([3.0]) == 0.0 and np.isnan(std_over_seeds([1.0, float("nan")]))


@pytest.mark.parametrize("mode", ["exact", "batched"])
def test_the_seeds_table_is_saved_in_the_runs_folder(make_config, mode):
    """The seeds table went to the console only: the top folder's ``train.log`` is empty."""
    result = train(
        make_config("budget.total_env_steps=600", "num_seeds=2", f"seed_mode={mode}"), summary=False
    )
    assert (result.run_dir / "seeds.txt").read_text() == result.table() + "\n"


def test_a_final_save_that_fails_for_some_seeds_names_each_of_them(make_config, monkeypatch):
    """A full disk at the end named the first seed that could not be saved only; the others had
    no checkpoint either, found only by resuming them ("no checkpoint")."""
    from agents.runtime import trainer

    real_save = trainer.save_checkpoint

    def full_for_seeds_1_and_2(path: Path, state: dict) -> Path:
        if path.parent.name in ("seed1", "seed2"):
            raise UserError(
                f"cannot write checkpoint {path}: No space left on device (free space or another run_dir)"
            )
        return real_save(path, state)

    monkeypatch.setattr(trainer, "save_checkpoint", full_for_seeds_1_and_2)
    cfg = make_config("budget.total_env_steps=600", "num_seeds=3")
    with pytest.raises(UserError) as raised:
        train(cfg, summary=False)
    assert str(raised.value).endswith(
        "No space left on device (free space or another run_dir); of the 3 seeds, seed1, seed2 could not be "
        "saved; saved: seed0"
    )
    assert load_checkpoint(Path(cfg.run_dir) / "seed0")["counters"]["env_steps"] >= 600


def test_multi_seed_action_form_and_vector_envs(make_config):
    result = MultiSeedTrainer(
        make_config("budget.total_env_steps=1000", "num_seeds=2", "agent.policy=action", "vector.num_envs=2")
    ).run()
    assert len(result.results) == 2
    assert all(r.env_steps >= 1000 for r in result.results)


def test_a_signal_lists_only_the_seeds_it_stopped(make_config, tmp_path, monkeypatch):
    """Seeds that had reached their target before Ctrl-C were listed with "resume with:" lines,
    whose commands were then refused ("is finished"); a signal during the last save listed all."""
    from agents.errors import RunInterrupted
    from agents.runtime.trainer import Trainer

    step = Trainer.step
    sent = []

    def step_then_interrupt(self, actions):
        step(self, actions)
        if not sent and any(t.done for t in trainers) and not all(t.done for t in trainers):
            sent.append(self.run_dir.name)
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Trainer, "step", step_then_interrupt)
    multi = MultiSeedTrainer(make_config("budget.total_env_steps=50000", "budget.target_return=40",
                                         "budget.window=5", "seed=10", "num_seeds=3"))  # fmt: skip
    trainers = multi.trainers
    with pytest.raises(RunInterrupted) as stopped:
        multi.run()
    assert stopped.value.exit_code == 130
    finished = [t for t in trainers if t.reached]
    stopped_seeds = [t for t in trainers if not t.reached]
    assert finished and stopped_seeds
    lines = str(stopped.value).splitlines()
    assert len(lines) == len(stopped_seeds)
    for trainer in stopped_seeds:
        assert any(f"resume={trainer.run_dir}" in line for line in lines)
    assert not any(str(trainer.run_dir) in line for line in lines for trainer in finished)


@contextmanager
def held_by_another_process(folder: Path) -> Iterator[int]:
    """``folder``'s run lock held by a child process (as a live run holds it); yields its pid."""
    folder.mkdir(parents=True, exist_ok=True)
    code = (
        "import time; from pathlib import Path; from agents.runtime.run_lock import RunFolderLock; "
        f"lock = RunFolderLock(Path({str(folder)!r})); print('held', flush=True); time.sleep(120)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        yield child.pid
    finally:
        child.kill()
        child.wait()


def test_a_seed_folder_of_a_running_num_seeds_run_takes_no_other_run(make_config, tmp_path):
    """A batched run locked only its top folder, the exact mode only its seed folders: a single run
    trained into a live run's seed1/ (and the num_seeds run's final save then overwrote it), and
    a batched run rewrote the config.yaml of a live exact run's seeds."""
    root = tmp_path / "seeds"
    with held_by_another_process(root) as pid, pytest.raises(UserError) as refused:  # a live num_seeds run
        train(make_config(f"run_dir={root / 'seed1'}", "budget.total_env_steps=500"))
    assert f"run folder {root} is in use by another run (pid {pid})" in str(refused.value)
    assert not (root / "seed1").exists()
    with held_by_another_process(root) as pid, pytest.raises(UserError) as refused:  # was "no checkpoint"
        train(make_config(f"resume={root / 'seed0'}"))
    assert f"run folder {root} is in use by another run (pid {pid})" in str(refused.value)
    seed_run = ("num_seeds=2", "seed_mode=batched", "budget.total_env_steps=500")
    with held_by_another_process(root / "seed1") as pid, pytest.raises(UserError) as refused:  # a live run
        train(make_config(f"run_dir={root}", *seed_run))
    assert f"run folder {root / 'seed1'} is in use by another run (pid {pid})" in str(refused.value)
    assert not (root / "seed1" / "config.yaml").exists() and not (root / "seed0").exists()
    multi = MultiSeedTrainer(make_config(f"run_dir={root}", "num_seeds=2", "budget.total_env_steps=500"))
    with pytest.raises(UserError, match="is in use by another run"):
        RunFolderLock.check_free(root)  # the exact mode holds its top folder too, to the end
    multi.run()
    RunFolderLock.check_free(root)


def test_a_resumed_seed_keeps_its_runs_logging(make_config, tmp_path):
    """A resumed seed took the command line's logging: its curve went from means per interval
    (num_seeds) to one point per episode mid-run. The display follows the command line."""
    root = tmp_path / "seeds"
    train(make_config(f"run_dir={root}", "num_seeds=2", "budget.total_env_steps=1500"))
    train(make_config(f"resume={root / 'seed0'}", "budget.total_env_steps=3000"),
          overrides=["budget.total_env_steps=3000"])  # fmt: skip
    saved = OmegaConf.load(root / "seed0" / "config.yaml")
    assert saved.logging.episode_stats == "mean" and saved.logging.progress_bar is False
    assert load_checkpoint(root / "seed0")["counters"]["env_steps"] >= 3000


def test_a_seed_that_cannot_start_leaves_no_seed_folder_held(make_config, tmp_path, monkeypatch):
    """A file in the way of seed2 failed the run after seeds 0 and 1 had started (their folders,
    event files and locks kept: a retry in the same process was "in use" by itself)."""
    root = tmp_path / "seeds"
    root.mkdir()
    (root / "seed2").write_text("mine")
    seeds = ("num_seeds=3", "budget.total_env_steps=300", f"run_dir={root}")
    with pytest.raises(UserError, match=rf"cannot use run_dir {root / 'seed2'}: it is a file"):
        train(make_config(*seeds))
    assert not (root / "seed0").exists() and (root / "seed2").read_text() == "mine"
    import agents.runtime.multi_seed as multi_seed

    original, built = multi_seed.Trainer, []

    def failing_third_seed(cfg):  # a failure no check can foresee (the env of seed 2 fails to start)
        if len(built) == 2:
            raise UserError("env failed to start")
        built.append(original(cfg))
        return built[-1]

    (root / "seed2").unlink()
    monkeypatch.setattr(multi_seed, "Trainer", failing_third_seed)
    with pytest.raises(UserError, match="env failed to start"):
        train(make_config(*seeds))
    monkeypatch.undo()
    # seeds 0 and 1 made their folder, its lock, their config and event file: gone, not a run's
    # curves (the folders were left, each holding its lock file), and so is the lock file the run
    # made in the folder the user had made (it was left)
    assert list(root.iterdir()) == []
    made = tmp_path / "made" / "by the run"  # the folders the run made go with it
    monkeypatch.setattr(multi_seed, "Trainer", failing_third_seed)
    built.clear()
    with pytest.raises(UserError, match="env failed to start"):
        train(make_config(*seeds[:2], f"run_dir={made}"))
    monkeypatch.undo()
    assert [path.name for path in tmp_path.iterdir()] == ["seeds"]
    assert len(train(make_config(*seeds)).results) == 3  # the retry in this process runs


@pytest.mark.parametrize("mode", ["exact", "batched"])
def test_a_refused_seed_folder_leaves_the_folder_as_it_was(make_config, tmp_path, mode):
    """A file where a seed's folder goes is refused before anything is written: the run's folder
    kept the lock file the run had made in it."""
    root = tmp_path / "seeds"
    root.mkdir()
    (root / "seed1").write_text("mine")
    with pytest.raises(UserError, match=rf"cannot use run_dir {root / 'seed1'}: it is a file"):
        train(make_config("num_seeds=2", f"seed_mode={mode}", "budget.total_env_steps=300",
                          f"run_dir={root}"))  # fmt: skip
    assert [path.name for path in root.iterdir()] == ["seed1"] and (root / "seed1").read_text() == "mine"


def test_an_exact_runs_window_is_not_counted_as_memory(make_config):
    """The deque of recent returns grows with the episodes; only the batched mode makes its ring
    at once, so only there does a huge budget.window count against the memory limit."""
    result = train(make_config("num_seeds=2", "budget.window=10000000", "budget.total_env_steps=300"))
    assert all(r.env_steps >= 300 for r in result.results)
