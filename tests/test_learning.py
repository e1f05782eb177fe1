"""Learning thresholds with fixed seeds (slow: `make test-slow`; CI runs them after the quick suite)."""

from __future__ import annotations

import pytest

from agents.runtime.multi_seed import MultiSeedTrainer


@pytest.mark.slow
def test_default_config_solves_cartpole_for_at_least_4_of_5_seeds(make_config):
    """CartPole-v1's reward_threshold (475, last-100 mean) within the default 200k-step budget."""
    result = MultiSeedTrainer(
        make_config("env=CartPole-v1", "seed=0", "num_seeds=5", "logging.tensorboard=false")
    ).run()
    print(result.table())
    solved = [r for r in result.results if r.reached_target and r.final_mean_return >= 475]
    assert len(solved) >= 4


@pytest.mark.slow
def test_acrobot_preset_swings_up_on_at_least_4_of_5_seeds(make_config):
    """Acrobot-v1's threshold (-100, last-100 mean) within the preset's 200k steps: the time baseline
    keeps the seeds that time out at -500 from drifting (configs/experiment/acrobot_mlp.yaml)."""
    result = MultiSeedTrainer(
        make_config("experiment=acrobot_mlp", "seed=0", "num_seeds=5", "logging.tensorboard=false")
    ).run()
    print(result.table())
    assert sum(r.reached_target and r.final_mean_return >= -100 for r in result.results) >= 4
