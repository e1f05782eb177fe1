"""num_seeds=N trains N runs side by side with batched acting; each equals its separate run."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest
import torch

from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.multi_seed import MultiSeedTrainer
from agents.runtime.run import train


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
