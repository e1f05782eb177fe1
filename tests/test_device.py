"""``device=cuda``: policy and updates on the GPU, acting from a host copy (skipped without a GPU).

Without a GPU, ``tests/test_cli.py`` checks the one-line error instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.run import train
from agents.runtime.trainer import Trainer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_a_cuda_update_equals_the_cpu_update(make_config, tmp_path):
    """The same complete episodes give the same float64 update on either device."""
    rng = np.random.default_rng(0)
    episodes = [
        (rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 2, n), np.ones(n)) for n in (7, 30, 12)
    ]
    weights = {}
    for device in ("cpu", "cuda"):
        overrides = ["agent.dtype=float64", "agent.episodes_per_update=3", "agent.baseline=value"]
        trainer = Trainer(make_config(*overrides, f"device={device}", f"run_dir={tmp_path / device}"))
        assert trainer.agent.policy.param.device.type == device
        for _ in range(3):  # three updates: Adam's state lives on the device too
            trainer.buffer.load_state_dict({**trainer.buffer.state_dict(), "finished": episodes})
            trainer._update(1.0)
        weights[device] = trainer.agent.policy.param.detach().cpu()
        assert np.array_equal(trainer.actor.param, weights[device].numpy())  # acting reads a host copy
    torch.testing.assert_close(weights["cuda"], weights["cpu"], rtol=1e-10, atol=1e-12)


def test_cuda_training_learns_and_saves_a_cpu_loadable_checkpoint(make_config):
    result = train(make_config("device=cuda", "budget.total_env_steps=20000"))
    assert result.final_mean_return > 100
    weight = load_checkpoint(result.run_dir)["policy"]["weight"]
    assert weight.device.type == "cpu" and torch.isfinite(weight).all()


def test_a_batched_cuda_run_equals_the_cpu_run(make_config):
    """``seed_mode=batched`` with the MLP policy in float64: the stacked updates on the GPU give the
    CPU's parameters (to rounding), so acting from the host copy takes the same actions."""
    checkpoints = {}
    for device in ("cpu", "cuda"):
        result = train(make_config(
            "num_seeds=4", "seed_mode=batched", "experiment=none", "agent.policy=mlp", "agent.dtype=float64",
            "agent.entropy_coef=0.01", "budget.total_env_steps=3000", f"device={device}",
        ))  # fmt: skip
        checkpoints[device] = [load_checkpoint(run.run_dir) for run in result.results]
        assert [run.env_steps for run in result.results] == [3000] * 4
    for cpu, cuda in zip(checkpoints["cpu"], checkpoints["cuda"], strict=True):
        assert cuda["counters"]["updates"] == cpu["counters"]["updates"] > 10
        assert cuda["counters"]["episodes"] == cpu["counters"]["episodes"]
        torch.testing.assert_close(cuda["policy"], cpu["policy"], rtol=1e-9, atol=1e-12)
        moments = [state["learner"]["optimizer"]["state"][0]["exp_avg"].cpu() for state in (cuda, cpu)]
        torch.testing.assert_close(*moments, rtol=1e-9, atol=1e-12)
