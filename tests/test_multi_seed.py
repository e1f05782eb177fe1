"""num_seeds=N trains N runs side by side with batched acting; each equals its separate run."""

from __future__ import annotations

import torch

from agents.checkpoint import load_checkpoint
from agents.multi_seed import MultiSeedTrainer
from agents.trainer import train


def test_multi_seed_equals_separate_runs(make_config, tmp_path):
    common = ["budget.total_env_steps=3000", "agent.dtype=float64", "budget.stop_at_target=false"]
    together = MultiSeedTrainer(
        make_config(*common, "seed=10", "num_seeds=3", f"run_dir={tmp_path / 'multi'}")
    ).run()
    assert [r.run_dir.name for r in together.results] == ["seed10", "seed11", "seed12"]
    for seed, joint in zip((10, 11, 12), together.results, strict=True):
        alone = train(make_config(*common, f"seed={seed}", f"run_dir={tmp_path / f'alone{seed}'}"))
        assert joint.recent_returns == alone.recent_returns
        assert joint.env_steps == alone.env_steps
        weights = [load_checkpoint(r.run_dir)["policy"]["weight"] for r in (joint, alone)]
        assert torch.equal(weights[0], weights[1])
    assert "3 seeds in" in together.table()


def test_multi_seed_action_form_and_vector_envs(make_config):
    result = MultiSeedTrainer(
        make_config("budget.total_env_steps=1000", "num_seeds=2", "agent.policy=action", "vector.num_envs=2")
    ).run()
    assert len(result.results) == 2
    assert all(r.env_steps >= 1000 for r in result.results)
