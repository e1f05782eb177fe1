"""num_seeds=N trains N runs side by side with batched acting; each equals its separate run."""

from __future__ import annotations

import numpy as np
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
