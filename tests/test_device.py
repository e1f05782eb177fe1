"""``device=cuda``: policy and updates on the GPU, acting from a host copy (skipped without a GPU).

Without a GPU, ``tests/test_cli.py`` checks the one-line error instead.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import agents
from agents.core.policies import make_policy
from agents.core.stacked import RowAdam, StackedReinforce
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
        trainer.start_clock()  # what run() does before its first update
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


@pytest.mark.parametrize("form", ["state", "action", "mlp"])
def test_a_stacked_cuda_update_equals_the_cpu_update(form):
    """``seed_mode=batched``'s update (:class:`StackedReinforce`, Adam, standardised returns,
    entropy bonus, clipping) on the GPU gives the CPU's rows and Adam moments, in float64; the
    row left out does not move."""
    generator = torch.Generator().manual_seed(0)
    lengths = [[3, 5], [1], [4, 2, 2]]  # each updating row's episodes
    steps = sum(map(sum, lengths))
    inputs = torch.randn(
        (steps, 3, 4) if form == "action" else (steps, 4), dtype=torch.float64, generator=generator
    )
    actions = torch.randint(3, (steps,), generator=generator)
    rewards = torch.randn(steps, dtype=torch.float64, generator=generator)
    dones = torch.zeros(steps, dtype=torch.bool)
    dones[torch.cumsum(torch.tensor([n for run in lengths for n in run]), 0) - 1] = True
    segments = torch.cat([torch.full((sum(run),), index) for index, run in enumerate(lengths)])
    batch = (torch.tensor([2, 0, 3]), inputs, actions, rewards, dones, segments,
             torch.tensor([0.05, 0.01, 0.2], dtype=torch.float64))  # fmt: skip
    moved = {}
    for device in ("cpu", "cuda"):
        torch.manual_seed(0)
        policy = make_policy(form, 4, 3, {"hidden_sizes": (5,), "activation": "tanh"}, dtype=torch.float64)
        policy = policy.to(device)
        params = torch.stack([policy.param.detach() * (1 + row) for row in range(4)])
        optimizer = RowAdam(params)
        learner = StackedReinforce(policy, optimizer=optimizer, gamma=0.9, normalize_returns=True,
                                   entropy_coef=0.05, max_grad_norm=0.5)  # fmt: skip
        for _ in range(3):
            learner.update(*(tensor.to(device) for tensor in batch))
        assert params.device.type == device and optimizer.exp_avg.device.type == device
        moved[device] = [tensor.cpu() for tensor in (params, optimizer.exp_avg, optimizer.exp_avg_sq)]
    for on_gpu, on_cpu in zip(moved["cuda"], moved["cpu"], strict=True):
        torch.testing.assert_close(on_gpu, on_cpu, rtol=1e-10, atol=1e-12)
    assert torch.equal(moved["cuda"][1][1], torch.zeros_like(moved["cuda"][1][1]))  # row 1 never updated


def test_a_batched_cuda_run_learns_and_saves_cpu_loadable_checkpoints(make_config):
    """Acting reads a host copy refreshed after each update; the checkpoints load on the CPU. (Whole
    runs on the two devices are not compared: the GPU rounds differently, and one action that
    differs sends the runs apart; with 4 seeds of 3,000 float64 steps one seed's episode count
    already differed by one.)"""
    result = train(make_config(
        "num_seeds=4", "seed_mode=batched", "experiment=none", "agent.policy=mlp", "device=cuda",
        "agent.hidden_sizes=[64,64]", "agent.lr=0.003", "budget.total_env_steps=20000",
        "budget.stop_at_target=false",
    ))  # fmt: skip
    assert [run.env_steps for run in result.results] == [20000] * 4
    assert result.final_mean_return > 100
    for run in result.results:
        state = load_checkpoint(run.run_dir)
        (param,) = state["policy"].values()
        assert param.device.type == "cpu" and torch.isfinite(param).all()
        assert state["learner"]["optimizer"]["state"][0]["exp_avg"].device.type == "cpu"
        assert agents.load(run.run_dir).predict(np.zeros((3, 4), dtype=np.float32)).shape == (3,)
