"""Returns G_t against hand-computed examples, and the gamma^t weights."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from agents.core.returns import (
    _scan,
    discount_weights,
    discounted_returns,
    longest_episode,
    steps_since_start,
)

F64 = torch.float64


def sequential(rewards: list[float], gamma: float) -> list[float]:
    out, running = [], 0.0
    for reward in reversed(rewards):
        running = reward + gamma * running
        out.append(running)
    return out[::-1]


def test_hand_computed_example():
    rewards = torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    # G_2 = 3, G_1 = 2 + 0.5 * 3 = 3.5, G_0 = 1 + 0.5 * 3.5 = 2.75
    assert discounted_returns(rewards, 0.5).tolist() == [2.75, 3.5, 3.0]


def test_gamma_zero_returns_rewards():
    rewards = torch.tensor([1.0, -2.0, 3.0, 4.0], dtype=F64)
    assert discounted_returns(rewards, 0.0).tolist() == rewards.tolist()


def test_gamma_one_is_reverse_cumulative_sum():
    rewards = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=F64)
    assert discounted_returns(rewards, 1.0).tolist() == [15.0, 14.0, 12.0, 9.0, 5.0]


def test_episode_boundaries_cut_the_return():
    rewards = torch.tensor([1.0, 1.0, 1.0, 10.0, 10.0], dtype=F64)
    dones = torch.tensor([False, False, True, False, True])
    assert discounted_returns(rewards, 1.0, dones).tolist() == [3.0, 2.0, 1.0, 20.0, 10.0]


@pytest.mark.parametrize("length", [1, 2, 3, 7, 64, 500, 1001])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99, 1.0])
def test_matches_sequential_recursion(length, gamma):
    rewards = torch.randn(length, dtype=F64, generator=torch.Generator().manual_seed(length))
    expected = torch.tensor(sequential(rewards.tolist(), gamma), dtype=F64)
    assert torch.allclose(discounted_returns(rewards, gamma), expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("lengths", [[1], [5, 1, 3], [2, 17, 4, 33, 1], [64, 65]])
def test_the_scan_may_stop_at_the_longest_episode(lengths):
    """Told the longest episode, the scan stops after ceil(log2 L) doubling steps and gives the
    same returns as the full one (and as the recursion, episode by episode)."""
    rewards = torch.randn(sum(lengths), dtype=F64, generator=torch.Generator().manual_seed(len(lengths)))
    dones = torch.zeros(sum(lengths), dtype=torch.bool)
    dones[torch.cumsum(torch.tensor(lengths), 0) - 1] = True
    expected = torch.cat([torch.tensor(sequential(part.tolist(), 0.9), dtype=F64)
                          for part in rewards.split(lengths)])  # fmt: skip
    full = discounted_returns(rewards, 0.9, dones)
    assert torch.equal(discounted_returns(rewards, 0.9, dones, max(lengths)), full)
    torch.testing.assert_close(full, expected, rtol=1e-12, atol=1e-12)


def _scan_with_fresh_arrays(
    rewards: torch.Tensor, gamma: float, dones: torch.Tensor, span: int
) -> torch.Tensor:
    """The scan as first written (a new array per operation, zeros shifted in past the end)."""
    decay = torch.full_like(rewards, gamma) * (~dones).to(rewards.dtype)
    returns, offset = rewards.clone(), 1

    def shifted(values: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.pad(values[..., offset:], (0, offset))

    while offset < span:
        returns = returns + decay * shifted(returns)
        decay = decay * shifted(decay)
        offset *= 2
    return returns


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("gamma", [0.0, 0.9888, 1.0])
def test_the_in_place_scan_gives_the_same_bits_as_fresh_arrays(dtype, gamma):
    """The scan reuses two arrays; its numbers are those of the version that allocated a new
    array per step (the documented runs depend on them)."""
    generator = torch.Generator().manual_seed(5)
    rewards = torch.randn(3000, dtype=dtype, generator=generator)
    dones = torch.rand(3000, generator=generator) < 0.02
    dones[-1] = True
    span = longest_episode(dones)
    expected = _scan_with_fresh_arrays(rewards, gamma, dones, span)
    assert torch.equal(discounted_returns(rewards, gamma, dones, span), expected)
    full = _scan_with_fresh_arrays(rewards, gamma, dones, 3000)
    assert torch.equal(discounted_returns(rewards, gamma, dones), full)
    assert torch.equal(_scan(rewards, gamma, dones, span, apart=True), expected)  # the inf-proof scan too
    wanting = rewards.clone().requires_grad_()  # the scan of new tensors, which autograd follows
    assert torch.equal(discounted_returns(wanting, gamma, dones, span), expected)
    assert torch.equal(_scan(wanting, gamma, dones, span, apart=True), expected)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan")])
def test_an_inf_or_nan_reward_stays_in_its_episode(dtype, gamma, bad):
    """0 * inf across an episode end made every earlier episode's returns nan; they are now those
    of the finite rewards, bit for bit."""
    generator = torch.Generator().manual_seed(3)
    rewards = torch.randn(400, dtype=dtype, generator=generator)
    dones = torch.rand(400, generator=generator) < 0.05
    dones[-1] = True
    finite = discounted_returns(rewards, gamma, dones, longest_episode(dones))
    ends = torch.nonzero(dones).flatten().tolist()
    start, end = ends[-3] + 1, ends[-2]  # the episode steps start..end, the second from the end
    rewards[end] = bad  # its last step: in every step's return of it
    returns = discounted_returns(rewards, gamma, dones, longest_episode(dones))
    assert torch.equal(returns[:start], finite[:start]) and torch.equal(returns[end + 1 :], finite[end + 1 :])
    assert not torch.isfinite(returns[end]), "the episode itself keeps its inf/nan"
    carried = discounted_returns(rewards.requires_grad_(), gamma, dones, longest_episode(dones))
    assert torch.equal(carried[:start], finite[:start]), "the scan autograd follows, the same numbers"


def test_batched_rows_are_independent():
    rewards = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 2.0]], dtype=F64)
    assert discounted_returns(rewards, 0.5).tolist() == [[1.75, 1.5, 1.0], [0.5, 1.0, 2.0]]


def test_long_episode_with_small_gamma_does_not_overflow():
    rewards = torch.ones(5000, dtype=F64)
    returns = discounted_returns(rewards, 0.01)
    assert torch.isfinite(returns).all()
    assert returns[0].item() == pytest.approx(1 / 0.99)


def test_steps_since_start_and_discount_weights():
    dones = torch.tensor([False, False, True, False, True, True])
    assert steps_since_start(dones).tolist() == [0, 1, 2, 0, 1, 0]
    assert discount_weights(dones, 0.5).tolist() == [1.0, 0.5, 0.25, 1.0, 0.5, 1.0]
    assert discount_weights(dones, 0.0).tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]
    for gamma in (1.5, -0.1, float("nan")):  # 1.5 made the weights grow as 1.5^t
        with pytest.raises(ValueError, match=r"must be a number in \[0, 1\]"):
            discount_weights(dones, gamma)


def test_discount_weights_take_what_discounted_returns_takes_and_its_dtype():
    """Numpy dones were "'numpy.ndarray' object has no attribute 'bool'", ``[N, T]`` dones a size
    mismatch, and float64 weights times float32 returns made a gradient a float32 policy refused."""
    rows = [[False, False, True, False], [True, False, False, True]]
    assert steps_since_start(np.array(rows)).tolist() == [[0, 1, 2, 0], [0, 0, 1, 2]]
    assert discount_weights(rows, 0.5).tolist() == [[1.0, 0.5, 0.25, 1.0], [1.0, 1.0, 0.5, 0.25]]
    rewards = torch.ones(4)
    weighted = discount_weights(np.array(rows[0]), 0.5) * discounted_returns(rewards, 0.5, rows[0])
    assert weighted.dtype == rewards.dtype == torch.float32
    assert discount_weights(rows[0], 0.5, torch.float64).dtype == torch.float64
    with pytest.raises(ValueError, match=r"^dones must have a time axis, \[\.\.\., T\] \(got a scalar\)$"):
        discount_weights(torch.tensor(True), 0.5)


def test_gamma_0_returns_are_the_rewards_with_dones_or_without():
    """Without dones, an inf reward's 0 * inf made the step before it nan."""
    rewards = torch.tensor([1.0, math.inf, 2.0])
    for dones in (None, [False, False, True]):
        assert discounted_returns(rewards, 0.0, dones).tolist() == [1.0, math.inf, 2.0]


def test_longest_episode():
    dones = torch.tensor([False, True, True, False, False, False, True])
    assert longest_episode(dones) == 4
    assert longest_episode(torch.tensor([True])) == 1


def test_integer_and_numpy_rewards_give_float_returns_and_gamma_is_checked():
    """torch.full_like on an int tensor made gamma 0: [1, 1, 1] at 0.5 gave [1, 1, 1]."""
    import numpy as np

    assert discounted_returns(torch.tensor([1, 1, 1]), 0.5).tolist() == [1.75, 1.5, 1.0]
    assert discounted_returns(np.array([1.0, 1.0, 1.0]), 0.5).tolist() == [1.75, 1.5, 1.0]
    for gamma in (1.5, -0.1, float("nan"), "0.5"):
        with pytest.raises(ValueError, match=r"must be a number in \[0, 1\]"):
            discounted_returns(torch.ones(3), gamma)
    with pytest.raises(ValueError, match="time axis"):  # an IndexError from deep inside
        discounted_returns(3.0, 0.5)


def test_dones_may_be_a_list_or_numpy_as_the_rewards_and_must_match_their_shape():
    """``dones=[False, True, False]`` was ``AttributeError: 'list' object has no attribute 'bool'``
    while the rewards took a list; a [T-1] dones broadcast silently."""
    import numpy as np

    for dones in ([False, True, False], np.array([False, True, False])):
        assert discounted_returns([1.0, 2.0, 3.0], 0.5, dones=dones).tolist() == [2.0, 2.0, 3.0]
    with pytest.raises(ValueError, match=r"dones must have the rewards' shape \[3\]; got \[2\]"):
        discounted_returns(torch.ones(3), 0.5, dones=torch.tensor([False, True]))


def test_odd_dones_and_integer_weights_are_refused_and_rewards_with_a_gradient_give_it_on():
    """Dones of 0.5 or 2 read as episode ends without a word; rewards that require a gradient ended
    in torch's "functions with out=... arguments don't support automatic differentiation" (their
    returns now carry it); int64 weights rounded gamma^t to 0 and 1."""
    rewards = torch.ones(4, dtype=F64)
    for dones in ([0, 0.5, 0, 1], torch.tensor([0, 2, 0, 1])):
        with pytest.raises(
            ValueError, match=r"^dones must be flags \(bools, or 0 and 1\), True where an episode"
        ):
            discounted_returns(rewards, 0.5, dones)
        with pytest.raises(ValueError, match="dones must be flags"):
            discount_weights(torch.as_tensor(dones), 0.5)
    as_numbers = discounted_returns(rewards, 0.5, [0, 1, 0, 1])  # 0 and 1 stay flags
    assert torch.equal(as_numbers, discounted_returns(rewards, 0.5, torch.tensor([0, 1, 0, 1]).bool()))
    wanting = torch.randn(2, 7, dtype=F64, requires_grad=True)  # torch's "functions with out=... arguments
    dones = torch.tensor([[0, 0, 1, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0, 1]]).bool()  # don't support autodiff"
    returns = discounted_returns(wanting, 0.9, dones)
    assert torch.equal(returns, discounted_returns(wanting.detach(), 0.9, dones))  # the same numbers
    (gradient,) = torch.autograd.grad(returns[0, 0], wanting)  # d G_0 / d r_k = gamma^k in its episode
    assert torch.equal(gradient[0], torch.tensor([1.0, 0.9, 0.81, 0, 0, 0, 0], dtype=F64))
    assert not gradient[1].any()
    assert torch.autograd.gradcheck(lambda r: discounted_returns(r, 0.9, dones), (wanting,))
    from torch.func import grad, jacfwd, jacrev, vmap  # "Batching rule not implemented for aten::mul.out"

    mapped = vmap(lambda r, d: discounted_returns(r, 0.9, d))(wanting.detach(), dones)
    assert torch.equal(mapped, returns.detach())
    first = vmap(grad(lambda r, d: discounted_returns(r, 0.9, d)[0]))(wanting.detach(), dones)
    assert torch.equal(first[0], gradient[0])
    one = wanting[0].detach()
    with warnings.catch_warnings():  # torch's own forward-mode code: "torch.jit.script is deprecated"
        warnings.simplefilter("ignore", DeprecationWarning)
        forward = jacfwd(lambda r: discounted_returns(r, 0.9, dones[0]))(one)
    assert torch.equal(forward, jacrev(lambda r: discounted_returns(r, 0.9, dones[0]))(one))
    with pytest.raises(
        ValueError, match=r"discount weights are fractions: give a floating dtype, not torch\.int64"
    ):
        discount_weights(torch.tensor([0, 0, 1, 0, 1]).bool(), 0.5, torch.int64)
