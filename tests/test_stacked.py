"""StackedReinforce: k runs updated in one batched call equal k separate Reinforce updates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agents.core.batch import EpisodeBatch, NumericalError
from agents.core.policies import make_policy
from agents.core.reinforce import Reinforce
from agents.core.segments import standardize_segments
from agents.core.stacked import RowAdam, RowSGD, StackedReinforce, lr_at

N_ACTIONS, DIM = 3, 4


def _episodes(generator: torch.Generator, lengths: list[int], form: str) -> tuple[torch.Tensor, ...]:
    """Random complete episodes laid end to end: inputs, actions, rewards, dones."""
    steps = sum(lengths)
    shape = (steps, N_ACTIONS, DIM) if form == "action" else (steps, DIM)
    inputs = torch.randn(shape, dtype=torch.float64, generator=generator)
    actions = torch.randint(N_ACTIONS, (steps,), generator=generator)
    rewards = torch.randn(steps, dtype=torch.float64, generator=generator)
    dones = torch.zeros(steps, dtype=torch.bool)
    dones[torch.cumsum(torch.tensor(lengths), 0) - 1] = True
    return inputs, actions, rewards, dones


@pytest.mark.parametrize(
    ("form", "optimizer", "options"),
    [
        ("state", "adam", {}),
        ("state", "sgd", {"normalize_returns": True, "discount_weighting": True}),
        ("action", "adam", {"normalize_returns": True, "entropy_coef": 0.1}),
        ("mlp", "adam", {"normalize_returns": True, "entropy_coef": 0.05, "max_grad_norm": 0.5}),
        ("mlp", "sgd", {"discount_weighting": True, "max_grad_norm": 0.1}),
    ],
)
def test_stacked_update_equals_separate_updates(form, optimizer, options):
    """Three of four runs update twice (different batch sizes, one with a single step); the
    fourth is left alone: its row and optimizer state must not move."""
    generator = torch.Generator().manual_seed(0)
    hidden = {"hidden_sizes": (5,), "activation": "tanh"}
    policies = []
    for seed in range(4):
        torch.manual_seed(seed)
        policies.append(make_policy(form, DIM, N_ACTIONS, hidden, dtype=torch.float64))
    stacked = torch.stack([policy.param.detach().clone() for policy in policies])
    row_optimizer = RowAdam(stacked) if optimizer == "adam" else RowSGD(stacked)
    learner = StackedReinforce(policies[0], optimizer=row_optimizer, gamma=0.9, **options)
    optimizer_class = torch.optim.Adam if optimizer == "adam" else torch.optim.SGD
    lrs = [0.05, 0.01, 0.2, 0.1]
    separate = [
        Reinforce(policy, optimizer=optimizer_class([policy.param], lr=lr), gamma=0.9, **options)
        for policy, lr in zip(policies, lrs, strict=True)
    ]
    rows = torch.tensor([2, 0, 3])
    for lengths_per_run in ([[3, 5], [1], [4, 2, 2]], [[2], [6, 1], [3]]):
        batches = [_episodes(generator, lengths, form) for lengths in lengths_per_run]
        for row, batch in zip(rows.tolist(), batches, strict=True):
            inputs, actions, rewards, dones = batch
            separate[row].update_batch(EpisodeBatch(inputs, inputs, actions, rewards, dones))
        joined = [torch.cat(parts) for parts in zip(*batches, strict=True)]
        segments = torch.cat([torch.full((len(b[1]),), i) for i, b in enumerate(batches)])
        row_lrs = torch.tensor([lrs[r] for r in rows.tolist()], dtype=torch.float64)
        learner.update(rows, *joined, segments, row_lrs)
    for row, policy in enumerate(policies):
        torch.testing.assert_close(stacked[row], policy.param.detach(), rtol=0, atol=1e-12)
    if optimizer == "adam":
        assert row_optimizer.row_state(1) == {} and torch.equal(stacked[1], policies[1].param.detach())
        state = separate[0].optimizer.state_dict()["state"][0]
        torch.testing.assert_close(row_optimizer.row_state(0)["exp_avg_sq"], state["exp_avg_sq"])
        assert float(row_optimizer.row_state(0)["step"]) == float(state["step"]) == 2


def test_standardize_segments_matches_each_segment_alone():
    values = torch.tensor([1.0, 2.0, 4.0, 5.0, -3.0, 7.0, 7.5], dtype=torch.float64)
    segments = torch.tensor([0, 0, 0, 1, 2, 2, 2])
    out = standardize_segments(values, segments, 3)
    for j in range(3):
        part = values[segments == j]
        expected = part if part.numel() < 2 else (part - part.mean()) / (part.std() + 1e-8)
        torch.testing.assert_close(out[segments == j], expected)


def test_linear_lr_schedule_per_run():
    fractions = np.array([0.0, 0.5, 1.2])
    assert lr_at(0.1, "linear", fractions).tolist() == pytest.approx([0.1, 0.05, 0.0])
    assert lr_at(0.1, "constant", fractions).tolist() == pytest.approx([0.1] * 3)


@pytest.mark.parametrize("form", ["state", "action", "mlp"])
def test_segment_policy_gradient_is_each_runs_policy_gradient(form):
    """The form's ``segment_policy_gradient`` (gather-and-scatter for the linear forms, padded
    ``vmap`` for the network) equals ``policy_gradient_with`` run by run, to 1e-12."""
    generator = torch.Generator().manual_seed(1)
    policy = make_policy(
        form, DIM, N_ACTIONS, {"hidden_sizes": (5, 3), "activation": "relu"}, dtype=torch.float64
    )
    params = torch.randn((4, *policy.param.shape), dtype=torch.float64, generator=generator)
    lengths = [3, 1, 7, 2]
    inputs, actions, coefficients, _ = _episodes(generator, lengths, form)
    segments = torch.repeat_interleave(torch.arange(4), torch.tensor(lengths))
    joined = policy.segment_policy_gradient(params, inputs, actions, coefficients, segments)
    for row in range(4):
        steps = segments == row
        expected = policy.policy_gradient_with(
            params[row], inputs[steps], actions[steps], coefficients[steps]
        )
        torch.testing.assert_close(joined[row], expected, rtol=0, atol=1e-12)


def test_a_finite_float32_gradient_past_the_float32_norm_is_clipped():
    """Entries of 5e19 have a finite norm (1e20) whose float32 sum of squares overflows: the
    update stopped on a 'non-finite policy gradient' that clipping would have scaled to the limit."""
    policy = make_policy("state", 2, 2, dtype=torch.float32)
    stacked = torch.zeros(2, 2, 2)
    learner = StackedReinforce(policy, optimizer=RowSGD(stacked), max_grad_norm=0.5)
    inputs = torch.tensor([[1e10, 1e10], [1.0, 1.0]])  # g = G x (e_a - pi)^T: 1e20 (1/2, -1/2) per row
    rewards, two_runs = torch.tensor([1e10, 1.0]), torch.tensor([0, 1])  # one one-step episode each
    actions, dones = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.bool)
    norms = learner.update(two_runs, inputs, actions, rewards, dones, two_runs, torch.ones(2))
    assert norms[0].item() == pytest.approx(1e20, rel=1e-6) and norms[1].item() == pytest.approx(1.0)
    assert stacked[0].double().norm().item() == pytest.approx(0.5, rel=1e-6)
    assert stacked[0].dtype == torch.float32 and stacked[1].norm().item() == pytest.approx(0.5)


def test_an_overflowed_adam_state_stops_the_update_and_keeps_every_rows_state():
    """A run's g = 2e21 entries: RowAdam's average of g^2 overflowed float32 to inf and froze that
    seed's policy, and its checkpoint was refused at a resume as altered. Now the update stops
    before anything is written: every row keeps its parameters, averages and step count."""
    policy = make_policy("state", 2, 2, dtype=torch.float32)
    stacked = torch.zeros(2, 2, 2)
    optimizer = RowAdam(stacked)
    learner = StackedReinforce(policy, optimizer=optimizer)
    inputs, two_runs = torch.ones(2, 2), torch.tensor([0, 1])  # one one-step episode each
    actions, dones = torch.zeros(2, dtype=torch.long), torch.ones(2, dtype=torch.bool)
    learner.update(two_runs, inputs, actions, torch.ones(2), dones, two_runs, torch.full((2,), 0.01))
    before = [
        stacked.clone(),
        optimizer.exp_avg.clone(),
        optimizer.exp_avg_sq.clone(),
        optimizer.steps.copy(),
    ]
    with pytest.raises(NumericalError, match=r"optimizer's state overflowed float32 .* agent.dtype=float64"):
        learner.update(two_runs, inputs, actions, torch.tensor([1.0, 4e21]), dones, two_runs, torch.ones(2))
    after = [stacked, optimizer.exp_avg, optimizer.exp_avg_sq, optimizer.steps]
    assert all(torch.equal(a, b) for a, b in zip(after[:3], before[:3], strict=True))
    assert np.array_equal(after[3], before[3])


def test_a_run_whose_steps_do_not_end_an_episode_or_odd_rows_are_refused():
    """Run 0's cut episode took run 1's reward of 100 into its returns (``[159.9, 0.85]``), no done
    at all was a non-finite gradient, one step size was broadcast over the rows and a repeated row
    applied one of its updates; each is a ValueError naming it, and nothing is stepped."""
    policy = make_policy("state", 3, 3, dtype=torch.float64)
    params = torch.zeros(2, 3, 3, dtype=torch.float64)
    learner = StackedReinforce(policy, optimizer=RowSGD(params), gamma=0.9)
    inputs, actions = torch.randn(4, 3, dtype=torch.float64), torch.tensor([0, 1, 2, 0])
    rewards = torch.tensor([1.0, 1, 100, 1], dtype=torch.float64)
    segments, lrs, rows = (
        torch.tensor([0, 0, 1, 1]),
        torch.tensor([0.1, 0.1], dtype=torch.float64),
        torch.arange(2),
    )
    cut = torch.tensor([False, False, False, True])  # run 0's last step ends no episode
    cases = [
        ((rows, inputs, actions, rewards, cut, segments, lrs), "each run's last step must end one"),
        ((rows, inputs, actions, rewards, torch.zeros(4, dtype=torch.bool), segments, lrs), "must end one"),
        (
            (rows, inputs, actions, rewards, cut | torch.tensor([0, 1, 0, 0]).bool(), segments, lrs[:1]),
            "lrs must",
        ),
        ((torch.tensor([1, 1]), inputs, actions, rewards, cut, segments, lrs), "rows must be distinct"),
        ((torch.tensor([0, 2]), inputs, actions, rewards, cut, segments, lrs), r"rows must be in 0\.\.1"),
        (
            (rows, inputs, actions, rewards, cut, torch.tensor([0, 1, 0, 1]), lrs),
            "segments must run 0..1 in blocks",
        ),
    ]
    for arguments, message in cases:
        with pytest.raises(ValueError, match=message):
            learner.update(*arguments)
        assert not params.any()
    dones = torch.tensor([False, True, False, True])
    norms = learner.update(rows, inputs, actions, rewards, dones, segments, lrs)
    assert norms.shape == (2,) and params.any()
    for options, message in (({"entropy_coef": -1.0}, "entropy_coef=-1.0 must be"),
                             ({"max_grad_norm": float("nan")}, "max_grad_norm=nan must be"),
                             ({"gamma": 1.5}, r"gamma=1\.5 must be")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            StackedReinforce(policy, optimizer=RowSGD(params), **options)
    with pytest.raises(ValueError, match=r"stacked parameters \[2, 3\] must be \[N, \*\[3, 3\]\]"):
        StackedReinforce(policy, optimizer=RowSGD(torch.zeros(2, 3, dtype=torch.float64)))
