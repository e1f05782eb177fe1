"""Fuzzing the math modules with extreme and degenerate inputs (hypothesis).

Every property reads: *the result is finite (and right where a closed form exists), or the
code raises a clear error* (:class:`~agents.core.reinforce.NumericalError` or
:class:`~agents.errors.UserError`). Inputs: empty and length-1 episodes, all-equal returns,
magnitudes up to 1e30 (rewards) and 1e300 (logits), subnormals, gamma at 0 and 1.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.core.baselines import RunningMeanBaseline, ValueBaseline
from agents.core.batch import EpisodeBatch, NumericalError
from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy
from agents.core.policy import entropy_of, mean_entropy
from agents.core.returns import discount_weights, discounted_returns, steps_since_start
from agents.features.inputs import state_action_features
from agents.features.maps import (
    Fourier,
    Normalized,
    Polynomial,
    RadialBasis,
    Raw,
    TileCoding,
    box_bounds,
)
from agents.runtime.build import build_learner
from agents.runtime.config import AgentConfig

F64 = torch.float64
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

SUBNORMAL = 5e-324
EXTREMES = [0.0, -0.0, SUBNORMAL, -SUBNORMAL, 1e-300, 1.0, -1.0, 1e30, -1e30]


def reals(bound: float) -> st.SearchStrategy[float]:
    """Finite floats in ``[-bound, bound]``, subnormals included, plus the hand-picked extremes."""
    return st.one_of(
        st.sampled_from([value for value in EXTREMES if abs(value) <= bound]),
        st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=True),
    )


gammas = st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.99]), st.floats(0.0, 1.0))


@st.composite
def episodes(draw, max_episodes: int = 4, max_length: int = 12, bound: float = 1e30):
    """``(rewards [T], dones [T])`` for 1..max_episodes complete episodes of 1..max_length steps;
    sometimes every reward is the same value (all-equal returns when gamma = 0)."""
    lengths = draw(st.lists(st.integers(1, max_length), min_size=1, max_size=max_episodes))
    total = sum(lengths)
    if draw(st.booleans()):
        rewards = [draw(reals(bound))] * total
    else:
        rewards = draw(st.lists(reals(bound), min_size=total, max_size=total))
    dones = np.zeros(total, dtype=bool)
    dones[np.cumsum(lengths) - 1] = True
    return torch.tensor(rewards, dtype=F64), torch.from_numpy(dones)


def sequential_returns(rewards: list[float], dones: list[bool], gamma: float) -> list[float]:
    """The textbook backward recursion ``G_t = r_t + gamma (1 - done_t) G_{t+1}``."""
    out, running = [], 0.0
    for reward, done in zip(reversed(rewards), reversed(dones), strict=True):
        running = reward + (0.0 if done else gamma * running)
        out.append(running)
    return out[::-1]


# -- returns ----------------------------------------------------------------------------------
@FUZZ
@given(batch=episodes(), gamma=gammas)
def test_returns_are_finite_and_match_the_recursion(batch, gamma):
    rewards, dones = batch
    returns = discounted_returns(rewards, gamma, dones)
    assert returns.shape == rewards.shape
    assert torch.isfinite(returns).all()
    expected = sequential_returns(rewards.tolist(), dones.tolist(), gamma)
    scale = float(rewards.abs().sum())  # rounding differs by the order of the additions only
    for got, want in zip(returns.tolist(), expected, strict=True):
        assert abs(got - want) <= 1e-12 * scale + 1e-300


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0])
def test_returns_of_empty_and_single_step_episodes(gamma):
    assert discounted_returns(torch.zeros(0, dtype=F64), gamma).shape == (0,)
    assert discounted_returns(torch.tensor([SUBNORMAL], dtype=F64), gamma).tolist() == [SUBNORMAL]
    assert discounted_returns(torch.tensor([1e30], dtype=F64), gamma, torch.tensor([True])).tolist() == [1e30]


@FUZZ
@given(batch=episodes(), gamma=gammas)
def test_discount_weights_lie_in_0_1(batch, gamma):
    _, dones = batch
    weights = discount_weights(dones, gamma)
    assert torch.isfinite(weights).all()
    assert ((weights >= 0) & (weights <= 1)).all()
    starts = torch.cat([torch.tensor([True]), dones[:-1]])
    assert (weights[starts] == 1).all()  # gamma^0, also for gamma = 0
    assert (steps_since_start(dones)[starts] == 0).all()


def test_steps_since_start_of_an_empty_stream():
    assert steps_since_start(torch.zeros(0, dtype=torch.bool)).shape == (0,)


# -- policies ---------------------------------------------------------------------------------
@st.composite
def policy_batches(draw, bound: float = 1e300):
    """A float64 state-form policy with logits ``x W`` of magnitude up to ``bound``."""
    batch, dim, n_actions = draw(st.integers(1, 5)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    features = torch.tensor(draw(st.lists(reals(1.0), min_size=batch * dim, max_size=batch * dim)), dtype=F64)
    weight = torch.tensor(
        draw(st.lists(reals(bound), min_size=dim * n_actions, max_size=dim * n_actions)), dtype=F64
    )
    actions = torch.tensor(draw(st.lists(st.integers(0, n_actions - 1), min_size=batch, max_size=batch)))
    policy = LinearSoftmaxPolicy(dim, n_actions, dtype=F64)
    with torch.no_grad():
        policy.weight.copy_(weight.reshape(dim, n_actions))
    return policy, features.reshape(batch, dim), actions


@FUZZ
@given(case=policy_batches())
def test_softmax_is_a_distribution_for_huge_logits(case):
    policy, features, actions = case
    with torch.no_grad():
        probs, log_probs = policy.probs(features), policy.log_probs(features)
        assert torch.isfinite(probs).all() and ((probs >= 0) & (probs <= 1)).all()
        assert torch.allclose(probs.sum(-1), torch.ones(probs.shape[0], dtype=F64))
        assert (log_probs <= 0).all() and not torch.isnan(log_probs).any()
        score = policy.score(features, actions)
        assert torch.isfinite(score).all()
        assert (score.abs() <= features.abs().max() + 1e-12).all()  # |x (e_a - pi)| <= |x|
        assert torch.allclose(score, policy.autograd_score(features, actions), atol=1e-12)


@FUZZ
@given(case=policy_batches(bound=1e150))
def test_entropy_is_finite_and_bounded(case):
    policy, features, _ = case
    with torch.no_grad():
        entropy = policy.entropy(features)
        assert torch.isfinite(entropy).all()
        assert (entropy >= -1e-12).all() and (entropy <= math.log(policy.n_actions) + 1e-9).all()
        assert torch.isfinite(policy.entropy_gradient(features)).all()


@FUZZ
@given(case=policy_batches(bound=1e150))
def test_mean_entropy_is_the_mean_of_the_entropies(case):
    """The update's logged entropy (one sum, made in place) equals the per-state entropies' mean,
    ``0 log 0 = 0`` included (logits far apart give ``log pi = -inf``), on ``[T, A]`` and on the
    ``[A, T]`` view the update passes."""
    policy, features, _ = case
    with torch.no_grad():
        log_probs = policy.log_probs(features)
        expected = float(entropy_of(log_probs).mean())
        for layout in (log_probs, log_probs.mT.contiguous().mT):
            assert math.isclose(mean_entropy(layout), expected, rel_tol=1e-12, abs_tol=1e-12)
        assert torch.equal(log_probs, policy.log_probs(features))  # the input is left as it was
    half_and_half, certain = [-math.log(2), -math.log(2)], [0.0, -math.inf]
    assert mean_entropy(torch.tensor([certain, half_and_half], dtype=F64)) == math.log(2) / 2


def test_entropy_of_logits_too_far_apart_to_subtract():
    policy = LinearSoftmaxPolicy(1, 2, dtype=F64)
    with torch.no_grad():
        policy.weight.copy_(torch.tensor([[1e308, -1e308]], dtype=F64))
        assert torch.isfinite(policy.entropy(torch.ones(1, 1, dtype=F64))).all()
        assert torch.isfinite(policy.entropy_gradient(torch.ones(1, 1, dtype=F64))).all()


def test_action_form_equals_state_form_for_huge_logits():
    state = LinearSoftmaxPolicy(2, 3, dtype=F64)
    with torch.no_grad():
        state.weight.copy_(torch.tensor([[1e300, -1e300, 0.0], [SUBNORMAL, 1e-300, -1.0]], dtype=F64))
    action = ActionFeatureSoftmaxPolicy(6, dtype=F64)
    with torch.no_grad():
        action.theta.copy_(state.weight.flatten())
    features = torch.tensor([[1.0, 1.0], [-1.0, 0.5], [0.0, 0.0]], dtype=F64)
    phi = state_action_features(features, 3)
    assert torch.equal(state.probs(features), action.probs(phi))


# -- the update -------------------------------------------------------------------------------
agent_configs = st.builds(
    AgentConfig,
    dtype=st.sampled_from(["float32", "float64"]),
    gamma=gammas,
    lr=st.sampled_from([1e-3, 1.0, 1e3]),
    optimizer=st.sampled_from(["sgd", "adam"]),
    normalize_returns=st.booleans(),
    discount_weighting=st.booleans(),
    per_step_updates=st.booleans(),
    baseline=st.sampled_from(["none", "mean", "value"]),
    entropy_coef=st.sampled_from([0.0, 0.01]),
    max_grad_norm=st.sampled_from([0.0, 1.0]),
)


@FUZZ
@given(cfg=agent_configs, batch=episodes(max_episodes=3, max_length=8), data=st.data())
def test_update_is_finite_or_raises_numerical_error(cfg, batch, data):
    rewards, dones = batch
    dim, n_actions = 3, 2
    dtype = torch.float32 if cfg.dtype == "float32" else F64
    policy = LinearSoftmaxPolicy(dim, n_actions, dtype=dtype)
    learner = build_learner(policy, cfg, dim)
    steps = rewards.shape[0]
    features = torch.tensor(
        data.draw(st.lists(reals(1e3), min_size=steps * dim, max_size=steps * dim)), dtype=F64
    )
    features = features.reshape(steps, dim).to(dtype)
    actions = torch.tensor(data.draw(st.lists(st.integers(0, 1), min_size=steps, max_size=steps)))
    batch = EpisodeBatch(features, features, actions, rewards.to(dtype), dones)
    moderate = cfg.lr <= 1.0 and features.abs().max() <= 10 and rewards.abs().max() <= 10
    for _ in range(2):  # the second update starts from the first one's parameters and baseline
        try:
            stats = learner.update(batch)
        except NumericalError:
            assert not moderate, "an update of moderate numbers must not fail"  # (one that always raised)
            return
        assert torch.isfinite(policy.param).all()
        assert math.isfinite(stats.grad_norm) and math.isfinite(stats.mean_return)
        assert math.isfinite(stats.entropy) and math.isfinite(stats.policy_objective)


@pytest.mark.parametrize(
    ("lr", "per_step", "baseline"), [(1e3, False, "none"), (1e3, False, "mean"), (1.0, True, "value")]
)
def test_logits_at_the_end_of_float32_are_a_numerical_error_not_a_nan_objective(lr, per_step, baseline):
    """The fuzz test's find: after one update of a -9.4e29 reward, the logits reach 2.5e38, within
    float32, but ``log pi = -5.1e38`` is not: the objective came back inf or nan (the parameters and
    the gradient finite), until the next update's failed. It is a NumericalError now."""
    cfg = AgentConfig(dtype="float32", gamma=0.0, lr=lr, optimizer="sgd", per_step_updates=per_step,
                      baseline=baseline)  # fmt: skip
    policy = LinearSoftmaxPolicy(3, 2, dtype=torch.float32)
    learner = build_learner(policy, cfg, 3)
    features = torch.tensor([[0.0, 0.0, 601.0]])
    batch = EpisodeBatch(
        features, features, torch.tensor([0]), torch.tensor([-9.4209e29]), torch.tensor([True])
    )
    stats = learner.update(batch)
    assert math.isfinite(stats.policy_objective) and math.isfinite(stats.entropy)
    with pytest.raises(NumericalError, match=r"^non-finite log-probabilities: the policy's logits reach the"):
        learner.update(batch)
    assert torch.isfinite(policy.param).all()


def test_update_of_an_empty_batch_is_a_clear_error():
    policy = LinearSoftmaxPolicy(2, 2, dtype=F64)
    learner = build_learner(policy, AgentConfig(dtype="float64"), 2)
    empty = EpisodeBatch(
        torch.zeros(0, 2, dtype=F64), torch.zeros(0, 2, dtype=F64), torch.zeros(0, dtype=torch.long),
        torch.zeros(0, dtype=F64), torch.zeros(0, dtype=torch.bool),
    )  # fmt: skip
    with pytest.raises((NumericalError, ValueError)):
        learner.update(empty)


# -- baselines --------------------------------------------------------------------------------
@FUZZ
@given(chunks=st.lists(st.lists(reals(1e30), min_size=1, max_size=6), min_size=1, max_size=5))
def test_running_mean_baseline_is_the_mean(chunks):
    baseline = RunningMeanBaseline(F64)
    for chunk in chunks:
        baseline.update(torch.zeros(len(chunk), 1, dtype=F64), torch.tensor(chunk, dtype=F64), 1)
    flat = [value for chunk in chunks for value in chunk]
    assert math.isfinite(float(baseline.mean))
    mean = math.fsum(flat) / len(flat)
    assert abs(float(baseline.mean) - mean) <= 1e-9 * max(map(abs, flat)) + 1e-300


@FUZZ
@given(returns=st.lists(reals(1e30), min_size=1, max_size=6), lr=st.sampled_from([1e-3, 0.1]))
def test_value_baseline_stays_finite(returns, lr):
    baseline = ValueBaseline(2, lr, F64)
    states = torch.tensor([[1.0, 0.5]] * len(returns), dtype=F64)
    for _ in range(3):
        baseline.update(states, torch.tensor(returns, dtype=F64), 1)
    assert all(torch.isfinite(weight).all() for weight in baseline.network.parameters())
    assert torch.isfinite(baseline(states)).all()


# -- feature maps -----------------------------------------------------------------------------
BOX = gym.spaces.Box(low=np.array([-1.0, -np.inf, 0.0]), high=np.array([1.0, np.inf, 1e30]), dtype=np.float64)
LOW, HIGH = box_bounds(BOX, [], 5.0)
FEATURE_MAPS = {
    "raw": Raw(3),
    "polynomial": Polynomial(LOW, HIGH, 2),
    "fourier": Fourier(LOW, HIGH, 2),
    "rbf": RadialBasis(LOW, HIGH, 3),
    "tile": TileCoding(LOW, HIGH, 4, 4, 64),
}
observations = st.lists(st.lists(reals(1e300), min_size=3, max_size=3), min_size=1, max_size=6).map(
    lambda rows: np.array(rows, dtype=np.float64)
)


@FUZZ
@given(obs=observations)
def test_bounded_feature_maps_are_finite(obs):
    for name, feature_map in FEATURE_MAPS.items():
        features = feature_map(obs)
        assert features.shape == (obs.shape[0], feature_map.dim), name
        assert np.isfinite(features).all(), name
        if name != "raw":
            assert (np.abs(features) <= 1.0 + 1e-12).all(), name


@FUZZ
@given(batches=st.lists(observations, min_size=1, max_size=4))
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # var = inf -> x = 0
def test_normalized_features_are_finite_and_clipped(batches):
    feature_map = Normalized(3, bias=True, clip=5.0)
    for obs in batches:
        feature_map.update(obs)
        features = feature_map(obs)
        assert np.isfinite(features).all()
        assert (np.abs(features) <= 5.0).all()
