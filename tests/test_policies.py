"""The score function: closed form against autograd, finite differences and identities (float64)."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.core import registry as registry_module
from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy, MLPSoftmaxPolicy
from agents.core.policy import POLICIES, SoftmaxPolicy, make_policy
from agents.core.registry import Registry
from agents.errors import UserError
from agents.features.inputs import state_action_features
from agents.runtime.acting import Actor, fill_gumbel

F64 = torch.float64


def linear_policy(state_dim: int, n_actions: int, generator: torch.Generator, scale: float = 1.0):
    policy = LinearSoftmaxPolicy(state_dim, n_actions, dtype=F64)
    with torch.no_grad():
        policy.weight.copy_(scale * torch.randn(state_dim, n_actions, dtype=F64, generator=generator))
    return policy


def action_policy(feature_dim: int, generator: torch.Generator, scale: float = 1.0):
    policy = ActionFeatureSoftmaxPolicy(feature_dim, dtype=F64)
    with torch.no_grad():
        policy.theta.copy_(scale * torch.randn(feature_dim, dtype=F64, generator=generator))
    return policy


def batch(generator: torch.Generator, size: int, shape: tuple[int, ...], n_actions: int):
    features = torch.randn(size, *shape, dtype=F64, generator=generator)
    actions = torch.randint(n_actions, (size,), generator=generator)
    return features, actions


def eight_steps_of(form: str, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, SoftmaxPolicy]:
    """Inputs and actions of 8 steps, 3 actions, and a policy of ``form`` (linear, action, mlp) for them."""
    x, a = batch(generator, 8, (3, 5) if form == "action" else (6,), 3)
    policy = {
        "linear": lambda: linear_policy(6, 3, generator),
        "action": lambda: action_policy(5, generator),
        "mlp": lambda: MLPSoftmaxPolicy(6, 3, (5,), "tanh", F64, generator),
    }[form]()
    return x, a, policy


def test_linear_score_equals_autograd(generator):
    policy = linear_policy(6, 4, generator)
    x, a = batch(generator, 64, (6,), 4)
    score, reference = policy.score(x, a), policy.autograd_score(x, a)
    assert score.shape == reference.shape == (64, 6, 4)
    assert torch.allclose(score, reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bad", [-1, 4])
def test_score_refuses_actions_outside_the_action_set(generator, bad):
    """``-1`` would index the one-hot from the end: the last action's score, silently."""
    policy = linear_policy(6, 4, generator)
    x, a = batch(generator, 8, (6,), 4)
    a[3] = bad
    with pytest.raises(IndexError, match=r"actions must be in 0\.\.3"):
        policy.score(x, a)
    assert policy.score(x[:0], a[:0]).shape == (0, 6, 4)
    with pytest.raises(IndexError, match=r"actions must be in 0\.\.3"):
        policy.policy_gradient(x, a, torch.ones(8, dtype=F64))
    mlp = MLPSoftmaxPolicy(6, 4, (5,), "tanh", F64, generator)  # its score backpropagates -pi for a = -1
    with pytest.raises(IndexError, match=r"actions must be in 0\.\.3"):
        mlp.score(x, a)
    action = action_policy(5, generator)  # its actions are phi's rows: [B, A=3, d]
    phi, a = batch(generator, 8, (3, 5), 3)
    a[0] = bad if bad < 0 else 3
    with pytest.raises(IndexError, match=r"actions must be in 0\.\.2"):
        action.score(phi, a)


def test_actions_that_are_not_integers_are_refused_and_a_policy_needs_an_action(generator):
    """A float action 0.7 was read as 0 by ``score`` and as no action at all by the linear
    ``policy_gradient`` (its one-hot compared ``arange(A) == 0.7``): two different wrong answers;
    -0.5 passed the range check as 0. ``n_actions=0`` built a policy of empty logits."""
    policy = linear_policy(6, 4, generator)
    x, a = batch(generator, 3, (6,), 4)
    coefficients = torch.ones(3, dtype=F64)
    for actions in (torch.tensor([0.7, 1.9, -0.5]), a.double(), a.bool(), a.numpy()):
        with pytest.raises(TypeError, match=r"^actions must be a tensor of action indices \(torch.int64\)"):
            policy.score(x, actions)
        with pytest.raises(TypeError, match=r"^actions must be a tensor of action indices"):
            policy.policy_gradient(x, actions, coefficients)
        mlp = MLPSoftmaxPolicy(6, 4, (5,), "tanh", F64, generator)  # the update's entry point, both forms
        for form in (policy, mlp):
            with pytest.raises(TypeError, match=r"^actions must be a tensor of action indices"):
                form.policy_gradient_and_log_probs(x, actions, coefficients)
    for call in (policy.log_prob, policy.autograd_score):  # torch's "index 4 is out of bounds for dimension"
        with pytest.raises(IndexError, match=r"^actions must be in 0\.\.3; got values from 0 to 4"):
            call(x, torch.tensor([0, 4, 1]))
        with pytest.raises(TypeError, match=r"^actions must be a tensor of action indices"):
            call(x, a.double())
    assert torch.equal(policy.score(x, a.int()), policy.score(x, a))  # int32 is an index too
    for make in (
        lambda: LinearSoftmaxPolicy(6, 0),
        lambda: MLPSoftmaxPolicy(6, 0, (5,)),
        lambda: LinearSoftmaxPolicy(0, 2),
    ):
        with pytest.raises(ValueError, match=r"^a policy needs input_dim >= 1 and n_actions >= 1"):
            make()


@pytest.mark.parametrize("form", ["linear", "action", "mlp"])
def test_score_refuses_actions_not_one_per_input(generator, form):
    """A ``[B, 1]`` column of actions would broadcast against ``[B, A]`` into a wrong score."""
    x, a, policy = eight_steps_of(form, generator)
    for wrong in (a[:, None], a[:5]):
        with pytest.raises(
            ValueError,
            match=rf"^actions must have shape \[8\], one per input; got {re.escape(str(list(wrong.shape)))}$",
        ):
            policy.score(x, wrong)
        with pytest.raises(ValueError, match=r"^actions must have shape \[8\]"):
            policy.policy_gradient(x, wrong, torch.ones(8, dtype=F64))
    assert policy.score(x, a).shape[0] == 8


@pytest.mark.parametrize("form", ["linear", "action", "mlp"])
def test_policy_gradient_refuses_coefficients_not_one_per_step(generator, form):
    """A ``[T, 1]`` column (an SB3-style advantage) gave ``[T, *param]`` unsummed terms, the MLP's
    closed form a torch error, and a ``[1]`` tensor weighted every step with its one value."""
    x, a, policy = eight_steps_of(form, generator)
    returns = torch.randn(8, dtype=F64, generator=generator)
    for wrong in (returns[:, None], returns[:1], returns.tolist()):
        got = re.escape(str(list(wrong.shape))) if isinstance(wrong, torch.Tensor) else "list"
        for call in (
            policy.policy_gradient,
            policy.autograd_policy_gradient,
            policy.policy_gradient_and_log_probs,
        ):
            message = (
                rf"^coefficients must be a tensor of the actions' shape \[8\], one c_t per step; got {got}$"
            )
            with pytest.raises(ValueError, match=message):
                call(x, a, wrong)
    assert policy.policy_gradient(x, a, returns).shape == policy.param.shape
    for other in (returns.float(), returns.long(), returns > 0):  # torch's "same dtype"; ints one path took
        for call in (
            policy.policy_gradient,
            policy.autograd_policy_gradient,
            policy.policy_gradient_and_log_probs,
        ):
            with pytest.raises(
                TypeError,
                match=rf"^coefficients must have the features' dtype torch.float64; got {other.dtype}$",
            ):
                call(x, a, other)


@pytest.mark.parametrize("form", ["linear", "action", "mlp"])
def test_one_state_without_a_batch_axis_gets_its_score_and_a_gradient_asks_for_a_step_axis(generator, form):
    """``log_prob`` of one state took it as torch's functions do, while ``score``,
    ``autograd_score`` and ``entropy_gradient`` ended in torch errors (``tensor.mT is only
    supported on matrices``), and the policy gradients in whichever each form hit first."""
    x, a, policy = eight_steps_of(form, generator)
    for t in (0, 5):
        for per_sample in (policy.score, policy.autograd_score):
            assert per_sample(x[t], a[t]).shape == policy.param.shape
            torch.testing.assert_close(per_sample(x[t], a[t]), per_sample(x, a)[t], rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(
            policy.entropy_gradient(x[t]), policy.entropy_gradient(x)[t], rtol=1e-12, atol=1e-14
        )
    one = torch.tensor(2.0, dtype=F64)
    for call in (
        policy.policy_gradient,
        policy.autograd_policy_gradient,
        policy.policy_gradient_and_log_probs,
    ):
        with pytest.raises(
            ValueError, match=r"^a policy gradient sums over steps: give features \[T, \.\.\.\]"
        ):
            call(x[0], a[0], one)
    torch.testing.assert_close(
        policy.policy_gradient(x[:1], a[:1], one[None]), 2 * policy.score(x[0], a[0]), rtol=1e-12, atol=1e-14
    )


@pytest.mark.parametrize("form", ["linear", "action", "mlp"])
@pytest.mark.parametrize("mistake", ["shape", "dtype"])
def test_a_score_with_of_the_wrong_shape_or_dtype_is_named(generator, form, mistake):
    """A form's ``score_with`` without the action's axis, or in float32, ended in torch's
    "attempting to assign a gradient of size '[5]' to a tensor of size '[5, 2]'" in the update, or
    "both inputs should have same dtype", with nothing naming the score."""
    x, a, policy = eight_steps_of(form, generator)
    parent = type(policy)

    def wrong_score_with(self, param, features, actions):
        score = parent.score_with(self, param, features, actions)
        return score[..., :-1] if mistake == "shape" else score.float()

    wrong = type(f"Wrong{parent.__name__}", (parent,), {"score_with": wrong_score_with})
    policy.__class__ = wrong
    returns = torch.randn(8, dtype=F64, generator=generator)
    segments = torch.tensor([0, 0, 0, 1, 1, 1, 1, 1])
    param_shape = ", ".join(map(str, policy.param.shape))  # steps: 8, or a segment's 5 (padded)
    error, message = {
        "shape": (
            ValueError,
            rf"^Wrong\w+\.score_with must return one grad log pi per action, shape \[\d, {param_shape}\] ",
        ),
        "dtype": (
            TypeError,
            r"^Wrong\w+\.score_with must return the parameters' dtype torch.float64; got torch.float32$",
        ),
    }[mistake]
    stacked = torch.stack([policy.param.detach()] * 2)
    for call in (
        lambda: policy.score(x, a),
        lambda: policy.policy_gradient(x, a, returns),
        lambda: policy.policy_gradient_and_log_probs(x, a, returns),
        lambda: policy.segment_policy_gradient(stacked, x, a, returns, segments),
    ):
        with pytest.raises(error, match=message):
            call()


def test_make_policy_reads_a_plain_mapping_of_options():
    policy = make_policy("mlp", 3, 2, {"hidden_sizes": [8], "activation": "relu"}, F64)
    assert (policy.hidden_sizes, policy.activation_name) == ((8,), "relu")


def test_action_feature_score_equals_autograd(generator):
    policy = action_policy(7, generator)
    phi, a = batch(generator, 64, (5, 7), 5)
    score, reference = policy.score(phi, a), policy.autograd_score(phi, a)
    assert score.shape == reference.shape == (64, 7)
    assert torch.allclose(score, reference, rtol=0, atol=1e-12)


def test_score_matches_central_finite_differences(generator):
    policy = linear_policy(3, 3, generator)
    x, a = batch(generator, 5, (3,), 3)
    score = policy.score(x, a)
    eps = 1e-6
    numeric = torch.zeros_like(score)
    with torch.no_grad():
        for i in range(3):
            for j in range(3):
                policy.weight[i, j] += eps
                plus = policy.log_prob(x, a)
                policy.weight[i, j] -= 2 * eps
                minus = policy.log_prob(x, a)
                policy.weight[i, j] += eps
                numeric[:, i, j] = (plus - minus) / (2 * eps)
    assert torch.allclose(score, numeric, rtol=0, atol=1e-8)


def test_action_score_matches_central_finite_differences(generator, central_difference_score):
    policy = action_policy(4, generator)
    phi, a = batch(generator, 5, (3, 4), 3)
    score = policy.score(phi, a)
    numeric = central_difference_score(policy, phi, a)
    assert torch.allclose(score, numeric, rtol=0, atol=1e-8)


def expected_score(policy, features: torch.Tensor, n_actions: int) -> torch.Tensor:
    """sum_a pi(a|s) score(s, a), per state."""
    probs = policy.probs(features)
    total = 0
    for action in range(n_actions):
        actions = torch.full((features.shape[0],), action)
        total = total + probs[:, action].reshape(-1, *[1] * (policy.param.dim())) * policy.score(
            features, actions
        )
    return total


def test_expected_score_is_zero(generator):
    linear = linear_policy(4, 3, generator, scale=3.0)
    x, _ = batch(generator, 32, (4,), 3)
    assert expected_score(linear, x, 3).abs().max() < 1e-13
    action = action_policy(6, generator, scale=3.0)
    phi, _ = batch(generator, 32, (3, 6), 3)
    assert expected_score(action, phi, 3).abs().max() < 1e-13


@pytest.mark.parametrize("form", ["state", "action"])
def test_the_forms_expected_score_is_the_coefficient_weighted_sum_of_scores(generator, form):
    """``expected_score(s, c) = sum_a c_a score(s, a)`` for any coefficients ``c`` (the entropy
    gradient's coefficients sum to 0 per state, which hid a dropped ``-(sum_a c_a) pi`` term)."""
    if form == "state":
        policy, (features, _) = linear_policy(4, 3, generator, scale=2.0), batch(generator, 16, (4,), 3)
    else:
        policy, (features, _) = action_policy(5, generator, scale=2.0), batch(generator, 16, (3, 5), 3)
    coef = torch.randn(16, 3, dtype=F64, generator=generator) + 1.0  # rows do not sum to 0
    by_actions = sum(
        coef[:, a].reshape(-1, *[1] * policy.param.dim()) * policy.score(features, torch.full((16,), a))
        for a in range(3)
    )
    torch.testing.assert_close(policy.expected_score(features, coef), by_actions, rtol=0, atol=1e-12)


def test_shift_invariance(generator):
    """Adding c(s) to every action's logit changes neither pi nor the score."""
    policy = action_policy(5, generator)
    phi, a = batch(generator, 16, (4, 5), 4)
    # a shift of every logit by the same amount: phi(s, a) += v(s) for all a
    shifted = phi + torch.randn(16, 1, 5, dtype=F64, generator=generator)
    assert torch.allclose(policy.probs(phi), policy.probs(shifted), atol=1e-12)
    assert torch.allclose(policy.score(phi, a), policy.score(shifted, a), atol=1e-12)
    linear = linear_policy(3, 4, generator)
    x, a = batch(generator, 16, (3,), 4)
    before = linear.score(x, a)
    with torch.no_grad():
        linear.weight += torch.randn(3, 1, dtype=F64, generator=generator)  # same shift per action
    assert torch.allclose(linear.score(x, a), before, atol=1e-12)


def test_huge_logits_stay_finite(generator):
    policy = linear_policy(2, 3, generator)
    with torch.no_grad():
        policy.weight.copy_(torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype=F64))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=F64)
    a = torch.tensor([1, 0, 2])
    for value in (policy.score(x, a), policy.autograd_score(x, a), policy.log_prob(x, a), policy.entropy(x)):
        assert torch.isfinite(value).all()
    assert torch.allclose(policy.score(x, a), policy.autograd_score(x, a), atol=1e-12)
    # the least likely action has log-probability about -2e4, not -inf
    assert policy.log_prob(x, a)[0] < -1e4


def test_linear_equals_action_feature_policy_with_kronecker_features(generator):
    linear = linear_policy(4, 3, generator)
    action = ActionFeatureSoftmaxPolicy(12, dtype=F64)
    with torch.no_grad():
        action.theta.copy_(linear.weight.flatten())
    x, a = batch(generator, 20, (4,), 3)
    phi = state_action_features(x, 3)
    assert phi.shape == (20, 3, 12)
    assert torch.allclose(linear.logits(x), action.logits(phi), atol=1e-12)
    assert torch.allclose(linear.score(x, a).flatten(1), action.score(phi, a), atol=1e-12)
    assert torch.allclose(linear.entropy(x), action.entropy(phi), atol=1e-12)


def test_entropy_gradient_equals_autograd(generator):
    for policy, shape, n_actions in (
        (linear_policy(3, 4, generator), (3,), 4),
        (action_policy(5, generator), (4, 5), 4),
    ):
        features, _ = batch(generator, 8, shape, n_actions)
        param = policy.param

        def entropy_sum(p, features=features, policy=policy):
            log_probs = torch.log_softmax(policy.logits_with(p, features), -1)
            return -(log_probs.exp() * log_probs).sum()

        reference = torch.func.grad(entropy_sum)(param.detach())
        assert torch.allclose(policy.entropy_gradient(features).sum(0), reference, atol=1e-12)


@pytest.mark.parametrize("form", ["state", "action"])
def test_the_actor_samples_from_probs(generator, form):
    """The one sampler (Gumbel-max in :class:`Actor`) draws each action with probability pi(a|s)."""
    x = torch.tensor([[0.3, -0.2]], dtype=F64)
    if form == "state":
        policy, inputs = linear_policy(2, 3, generator), x
    else:  # phi(s, a) = x (x) e_a: 2 features x 3 actions
        policy, inputs = action_policy(6, generator), state_action_features(x, 3)
    actor = Actor.for_policy(policy, np.random.default_rng(3))
    repeated = np.repeat(inputs.numpy(), 40_000, axis=0)
    frequencies = np.bincount(actor(repeated), minlength=3) / 40_000
    np.testing.assert_allclose(frequencies, policy.probs(inputs)[0].detach().numpy(), atol=0.01)


def test_one_states_actions_step_by_step_follow_pi(generator):
    """A run acts on one state per step through the actor's cached noise rows (a block drawn at
    a time, one row per step): over many steps the actions follow pi(.|s) too."""
    policy = linear_policy(2, 3, generator)
    x = np.array([[0.3, -0.2]])
    actor = Actor.for_policy(policy, np.random.default_rng(5))
    actions = np.array([actor(x)[0] for _ in range(20_000)])
    frequencies = np.bincount(actions, minlength=3) / 20_000
    np.testing.assert_allclose(frequencies, policy.probs(torch.from_numpy(x))[0].detach().numpy(), atol=0.015)


def test_fill_gumbel_draws_numpys_gumbel_values_from_the_same_doubles():
    """The actor's noise: the values ``rng.gumbel`` gives (up to the last bit of the logs) from
    the same draws, leaving the generator where ``gumbel`` leaves it."""
    ours, numpys = np.random.default_rng(11), np.random.default_rng(11)
    out = np.empty((8, 256, 2))
    fill_gumbel(ours, out)
    expected = numpys.gumbel(size=out.shape)
    np.testing.assert_allclose(out, expected, rtol=0, atol=4 * np.finfo(float).eps)
    assert ours.bit_generator.state == numpys.bit_generator.state
    assert ours.random() == numpys.random()


class _ZeroAt:
    """A generator whose ``random`` returns the given doubles (as numpy's gumbel would read them)."""

    def __init__(self, doubles: list[float]) -> None:
        self.doubles = list(doubles)

    def random(self, out: np.ndarray) -> np.ndarray:
        out[:] = [self.doubles.pop(0) for _ in range(out.size)]
        return out


def test_fill_gumbel_redraws_a_zero_as_numpys_gumbel_does():
    """``r = 0`` (``U = 1``, probability 2^-53) is skipped and the next double used instead."""
    doubles = [0.25, 0.0, 0.5, 0.75, 0.0, 0.0, 0.125, 0.9]
    out = fill_gumbel(_ZeroAt(doubles), np.empty(5))  # type: ignore[arg-type]
    used = np.array([0.25, 0.5, 0.75, 0.125, 0.9])
    np.testing.assert_array_equal(out, -np.log(-np.log(1.0 - used)))


def test_the_actor_is_reproducible_with_a_seed():
    policy = LinearSoftmaxPolicy(3, 4)
    x = np.random.default_rng(0).normal(size=(100, 3))
    first = Actor.for_policy(policy, np.random.default_rng(7))(x)
    second = Actor.for_policy(policy, np.random.default_rng(7))(x)
    np.testing.assert_array_equal(first, second)


@settings(max_examples=40, deadline=None)
@given(
    batch_size=st.integers(1, 9),
    state_dim=st.integers(1, 6),
    n_actions=st.integers(2, 6),
    scale=st.floats(1e-3, 50.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_score_matches_autograd(batch_size, state_dim, n_actions, scale, seed):
    generator = torch.Generator().manual_seed(seed)
    policy = linear_policy(state_dim, n_actions, generator, scale=scale)
    x, a = batch(generator, batch_size, (state_dim,), n_actions)
    assert torch.allclose(policy.score(x, a), policy.autograd_score(x, a), rtol=1e-10, atol=1e-10)
    action = action_policy(state_dim, generator, scale=scale)
    phi, a = batch(generator, batch_size, (n_actions, state_dim), n_actions)
    assert torch.allclose(action.score(phi, a), action.autograd_score(phi, a), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("scale", [1.0, 200.0])
def test_linear_policy_gradient_is_the_generic_contraction_bit_for_bit(generator, scale):
    """The update's gradient without statistics (batch last, one-hot columns from numpy) is the
    generic ``sum_t c_t score_t`` bit for bit: a faster path that changed the summation order
    changed every seed's run (seed 0 of ``make train`` no longer reached 475); and it is the sum
    of the autograd scores, finite for huge logits, as is the pure ``policy_gradient_with``
    that ``vmap`` maps over runs."""
    policy = linear_policy(5, 3, generator, scale=scale)
    x, a = batch(generator, 300, (5,), 3)
    c = torch.randn(300, dtype=F64, generator=generator)
    expected = torch.tensordot(c, policy.autograd_score(x, a), dims=1)
    with torch.no_grad():
        gradient = policy.policy_gradient(x, a, c)
        assert torch.equal(gradient, torch.tensordot(c, policy.score(x, a), dims=1))
        assert torch.isfinite(gradient).all()
        torch.testing.assert_close(gradient, expected, rtol=0, atol=1e-12 * scale * 300)
        params = torch.stack([policy.weight.detach(), -policy.weight.detach()])
        mapped = torch.func.vmap(policy.policy_gradient_with, in_dims=(0, None, None, None))(params, x, a, c)
    torch.testing.assert_close(mapped[0], expected, rtol=0, atol=1e-12 * scale * 300)
    reference = torch.tensordot(c, policy.autograd_score_with(params[1], x, a), dims=1)
    torch.testing.assert_close(mapped[1], reference, rtol=0, atol=1e-12 * scale * 300)


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_linear_gradient_and_log_probs_from_one_pass(generator, dtype):
    """The same gradient as ``policy_gradient`` bit for bit (its one-hot columns from numpy, the
    score's from an identity); the log-probabilities of the transposed logits equal
    ``log_probs`` to rounding."""
    policy = LinearSoftmaxPolicy(4, 3, dtype=dtype)
    with torch.no_grad():
        policy.weight.normal_(generator=generator)
    x = torch.randn(50, 4, dtype=dtype, generator=generator)
    a = torch.randint(3, (50,), generator=generator)
    c = torch.randn(50, dtype=dtype, generator=generator)
    gradient, log_probs = policy.policy_gradient_and_log_probs(x, a, c)
    assert torch.equal(gradient, policy.policy_gradient(x, a, c))
    tolerance = 1e-14 if dtype == F64 else 1e-6
    torch.testing.assert_close(log_probs, policy.log_probs(x), rtol=0, atol=tolerance)


class DoubledLinear(LinearSoftmaxPolicy):
    """A user's form: ``h = 2 x W``, with its own score ``2 x (e_a - pi)^T``."""

    def logits_with(self, param, features):
        return 2 * super().logits_with(param, features)

    def score_with(self, param, features, actions):
        return 2 * super().score_with(2 * param, features, actions)


class DoubledActionFeatures(ActionFeatureSoftmaxPolicy):
    """``h = 2 phi^T theta``, with its own score ``2 (phi(s,a) - E_pi phi)`` (the parent's takes
    ``pi`` from the redefined logits)."""

    def logits_with(self, param, features):
        return 2 * super().logits_with(param, features)

    def score_with(self, param, features, actions):
        return 2 * super().score_with(param, features, actions)


@pytest.mark.parametrize("form", [DoubledLinear, DoubledActionFeatures])
def test_a_subclass_that_redefines_the_logits_and_score_is_trained_with_them(generator, form):
    """The fused gradients (the update's with its statistics, the many-seeds one) computed the
    parent's logits and score inline: a subclass doubling its logits ascended its parent's gradient."""
    policy = form(4, 3, dtype=F64) if form is DoubledLinear else form(12, dtype=F64, n_actions=3)
    with torch.no_grad():
        policy.param.normal_(generator=generator)
    shape = (4,) if form is DoubledLinear else (3, 12)
    x, a = batch(generator, 40, shape, 3)
    c = torch.randn(40, dtype=F64, generator=generator)
    autograd = policy.autograd_score(x, a)
    torch.testing.assert_close(policy.score(x, a), autograd, rtol=0, atol=1e-12)  # the form is right
    gradient, log_probs = policy.policy_gradient_and_log_probs(x, a, c)
    torch.testing.assert_close(gradient, torch.tensordot(c, autograd, dims=1), rtol=0, atol=1e-12)
    torch.testing.assert_close(log_probs, torch.log_softmax(2 * (x @ policy.param), -1), rtol=0, atol=1e-12)
    params = torch.stack([policy.param.detach(), 2 * policy.param.detach()])  # two runs' rows
    segments = torch.repeat_interleave(torch.arange(2), torch.tensor([15, 25]))
    expected = torch.stack([
        torch.tensordot(c[segment], policy.autograd_score_with(row, x[segment], a[segment]), dims=1)
        for row, segment in zip(params, (slice(0, 15), slice(15, 40)), strict=True)
    ])  # fmt: skip
    torch.testing.assert_close(
        policy.segment_policy_gradient(params, x, a, c, segments), expected, rtol=0, atol=1e-12
    )
    acting = policy.acting_logits(params.numpy(), np.stack([x.numpy(), x.numpy()]))  # the runs act on
    expected_logits = torch.stack([policy.logits_with(row, x) for row in params])  # their own logits
    np.testing.assert_allclose(acting, expected_logits.numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(policy.acting_logits(params[0].numpy(), x.numpy()), expected_logits[0].numpy())
    entropy = torch.func.grad(
        lambda p: -torch.special.entr(torch.softmax(policy.logits_with(p, x), -1)).sum()
    )
    torch.testing.assert_close(  # the entropy bonus's gradient follows the subclass's logits too
        policy.entropy_gradient(x).sum(0), -entropy(policy.param.detach()), rtol=0, atol=1e-12
    )


class Temperature:
    """A mixin listed before the form: ``h = x W / 0.25``."""

    def logits_with(self, param, features):
        return super().logits_with(param, features) / 0.25

    def score_with(self, param, features, actions):
        return super().score_with(param / 0.25, features, actions) / 0.25


class Cold(Temperature, LinearSoftmaxPolicy):
    pass


def test_a_mixin_that_redefines_the_logits_acts_and_takes_its_entropy_gradient_with_them(generator):
    policy = Cold(4, 3, dtype=F64)
    with torch.no_grad():
        policy.param.normal_(generator=generator)
    x, _ = batch(generator, 20, (4,), 3)
    logits = policy.logits_with(policy.param.detach(), x)
    np.testing.assert_allclose(policy.acting_logits(policy.param.detach().numpy(), x.numpy()), logits.numpy())
    entropy = torch.func.grad(
        lambda p: -torch.special.entr(torch.softmax(policy.logits_with(p, x), -1)).sum()
    )
    torch.testing.assert_close(
        policy.entropy_gradient(x).sum(0), -entropy(policy.param.detach()), rtol=0, atol=1e-12
    )


class HalfLogits(LinearSoftmaxPolicy):
    """Redefines the logits only: ``h = x W / 2``."""

    def logits_with(self, param, features):
        return features @ param / 2


class TripleLogits(ActionFeatureSoftmaxPolicy):
    def logits_with(self, param, features):
        return 3 * (features @ param)


class ShiftedLogits(MLPSoftmaxPolicy):
    def logits_with(self, param, features):
        return super().logits_with(param, features) * 1.5 + features[:, :1]


@pytest.mark.parametrize(
    ("form", "shape"),
    [(lambda: HalfLogits(4, 3, dtype=F64), (4,)), (lambda: TripleLogits(5, dtype=F64), (3, 5)),
     (lambda: ShiftedLogits(4, 3, hidden_sizes=(6,), dtype=F64), (4,))],
    ids=["state", "action", "mlp"],
)  # fmt: skip
def test_a_form_that_redefines_only_the_logits_takes_its_score_from_them(generator, form, shape):
    """Its parent's hand-derived score is the gradient of the parent's logits (0.4 apart here for
    the linear form, which trained on it without a word): the score, the update's gradient and
    its fused twin come from the new logits by autograd."""
    policy = form()
    with torch.no_grad():
        policy.param.normal_(generator=generator)
    x, actions = batch(generator, 20, shape, 3)
    coefficients = torch.randn(20, dtype=F64, generator=generator)
    reference = policy.autograd_score(x, actions)
    with torch.no_grad():
        torch.testing.assert_close(policy.score(x, actions), reference, rtol=0, atol=1e-12)
        expected = torch.tensordot(coefficients, reference, dims=1)
        torch.testing.assert_close(
            policy.policy_gradient(x, actions, coefficients), expected, rtol=0, atol=1e-12
        )
        gradient, log_probs = policy.policy_gradient_and_log_probs(x, actions, coefficients)
    torch.testing.assert_close(gradient, expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(log_probs, policy.log_probs(x).detach(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("form", ["linear", "action", "mlp"])
def test_inputs_of_another_dtype_or_more_axes_and_odd_coefficients_are_named(generator, form):
    """Features of another dtype than the parameters' ended in torch's "expected m1 and m2 to have
    the same dtype"; ``[2, 5, d]`` features passed the checks and failed in each form its own way;
    ``expected_score`` broadcast a ``[B, 1]`` column into a result of no meaning and failed on one
    state without a batch axis (``mT``), where ``score`` takes it."""
    x, a, policy = eight_steps_of(form, generator)
    coef = torch.rand(*x.shape[: x.ndim - (2 if form == "action" else 1)], 3, dtype=F64, generator=generator)
    calls = {
        "score": lambda f: policy.score(f, a[: len(f)]),
        "policy_gradient": lambda f: policy.policy_gradient(
            f, a[: len(f)], torch.ones(len(f), dtype=f.dtype)
        ),
        "probs": policy.probs,
        "log_probs": policy.log_probs,
        "entropy_gradient": policy.entropy_gradient,
        "expected_score": lambda f: policy.expected_score(f, coef.to(f.dtype)),
    }
    for name, call in calls.items():
        with pytest.raises(
            TypeError, match=r"^features must have the parameters' dtype torch.float64; got torch"
        ):
            call(x.float())
        if name in ("probs", "log_probs"):  # these broadcast over more leading axes, as they did
            assert torch.equal(call(x[None].expand(2, *x.shape))[1], call(x))
            continue
        with pytest.raises(ValueError, match=r"^features must be \[B, "):
            call(x[None].expand(2, *x.shape)) if name != "score" else policy.score(x[None], a[None])
    with pytest.raises(
        ValueError, match=r"^coef must be a tensor of shape \[8, 3\], one c_a per state and action"
    ):
        policy.expected_score(x, coef[:, :1])
    with pytest.raises(
        TypeError, match=re.escape("coef must have the features' dtype torch.float64; got torch.float32")
    ):
        policy.expected_score(x, coef.float())
    for call in (policy.logits, policy.probs):  # fewer axes than one state's: refused, as before
        with pytest.raises(ValueError, match=r"^features must be \[B, "):
            call(x[0, 0])  # a scalar, or one action's features
    one = policy.expected_score(x[0], coef[0])  # one state without a batch axis, as score takes it
    torch.testing.assert_close(one, policy.expected_score(x, coef)[0])
    summed = sum(coef[0, action] * policy.score(x[0], torch.tensor(action)) for action in range(3))
    torch.testing.assert_close(one, summed)


@pytest.mark.parametrize("form", ["linear", "action", "mlp"])
def test_features_of_another_width_are_refused_by_every_method(generator, form):
    """Features one wider or narrower than the policy's input width ended in torch's "mat1 and mat2
    shapes cannot be multiplied" (or an einsum's), from deep in each form."""
    x, a, policy = eight_steps_of(form, generator)
    width = x.shape[-1]
    assert policy.input_width == width
    coef = torch.rand(8, 3, dtype=F64, generator=generator)
    calls = {
        "logits": policy.logits,
        "probs": policy.probs,
        "log_prob": lambda f: policy.log_prob(f, a),
        "score": lambda f: policy.score(f, a),
        "policy_gradient": lambda f: policy.policy_gradient(f, a, torch.ones(8, dtype=F64)),
        "entropy_gradient": policy.entropy_gradient,
        "expected_score": lambda f: policy.expected_score(f, coef),
    }
    for other in (width - 1, width + 1):
        wrong = torch.zeros(*x.shape[:-1], other, dtype=F64)
        for call in calls.values():
            with pytest.raises(ValueError, match=rf"^features must be {width} wide, the policy's input"):
                call(wrong)
            call(x)  # the right width still computes


def test_a_form_whose_own_logits_read_other_inputs_is_not_held_to_its_parents_width():
    """A subclass of a shipped form whose ``logits_with`` adds its own bias column (inputs one
    narrower than the parent's weight) was refused as "features must be 5 wide" by 036fef1."""

    class BiasLinear(LinearSoftmaxPolicy):
        def __init__(self, state_dim: int, n_actions: int) -> None:
            super().__init__(state_dim + 1, n_actions, dtype=F64)

        def logits_with(self, param, features):
            ones = torch.ones(*features.shape[:-1], 1, dtype=features.dtype)
            return torch.cat([features, ones], -1) @ param

    class Wider(BiasLinear):
        @property
        def input_width(self) -> int:
            return self.state_dim - 1

    x, a = torch.randn(5, 4, dtype=F64), torch.zeros(5, dtype=torch.long)
    policy = BiasLinear(4, 3)
    assert policy.input_width is None and policy.logits(x).shape == (5, 3)
    torch.testing.assert_close(policy.score(x, a), policy.autograd_score(x, a))
    with pytest.raises(ValueError, match=r"^features must be 4 wide"):
        Wider(4, 3).logits(torch.randn(5, 5, dtype=F64))


def test_a_registry_imports_the_module_that_registers_its_classes(tmp_path, monkeypatch):
    """``agent.policy`` looked up from :mod:`agents.core.policy` alone held no form, so
    ``make_policy("state", ...)`` was refused as "not one of " and an empty list."""
    registry = Registry("thing", home="zz_registers_things")
    monkeypatch.setattr(registry_module, "THINGS", registry, raising=False)
    (tmp_path / "zz_registers_things.py").write_text(
        "from agents.core import registry\nregistry.THINGS.register('int')(int)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "zz_registers_things", raising=False)
    assert registry.lookup("int") is int
    with pytest.raises(UserError, match=r"^thing='float' is not one of int$"):
        registry.lookup("float")
    assert POLICIES.home == "agents.core.policies"


def test_sizes_options_dtype_and_storage_are_checked_where_the_policy_is_built():
    """``LinearSoftmaxPolicy(2.5, 2)`` was torch's "zeros() takes 1 positional argument",
    ``ActionFeatureSoftmaxPolicy(0)`` an empty theta, ``MLPSoftmaxPolicy(3, 2, [np.int64(4)])``
    refused, a misspelt option (``hidden_size``) the default widths without a word,
    ``dtype="float64"`` a TypeError from torch, and ``bind_param`` of float32 storage a float64
    policy turned float32."""
    for sizes in ((2.5, 2), (True, 2), (3, None)):
        with pytest.raises(TypeError, match=r"a policy's (input_dim|n_actions) must be an int"):
            LinearSoftmaxPolicy(*sizes)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=re.escape("a policy needs input_dim >= 1 and n_actions >= 0")):
            ActionFeatureSoftmaxPolicy(bad)
    with pytest.raises(ValueError, match=re.escape("n_actions >= 0; got 3 and -5")):
        ActionFeatureSoftmaxPolicy(3, n_actions=-5)
    assert LinearSoftmaxPolicy(np.int64(2), np.int64(3)).weight.shape == (2, 3)
    assert MLPSoftmaxPolicy(3, 2, [np.int64(4)]).hidden_sizes == (4,)
    with pytest.raises(
        ValueError, match="option 'hidden_size' is read by no policy form: did you mean 'hidden_sizes'"
    ):
        make_policy("mlp", 3, 2, {"hidden_size": [4]})
    with pytest.raises(
        ValueError, match="option 'activaton' is read by no policy form: did you mean 'activation'"
    ):
        make_policy("state", 3, 2, {"activaton": "relu"})
    with pytest.raises(
        ValueError, match=r"option 'sizes' is read by no policy form \(the forms read activation"
    ):
        make_policy("mlp", 3, 2, {"sizes": [4]})
    with pytest.raises(ValueError, match="options are keyword settings; got the key 1"):
        make_policy("mlp", 3, 2, {1: 2})  # was SimpleNamespace's "keywords must be strings"
    agent = {"policy": "mlp", "lr": 0.1, "gamma": 0.9, "hidden_sizes": [4], "activation": "relu"}
    assert make_policy("mlp", 3, 2, agent).hidden_sizes == (4,)  # an agent config as a plain dict
    assert make_policy("state", 3, 2, {"hidden_sizes": [4], "activation": "relu"}).weight.shape == (3, 2)
    assert make_policy("mlp", 3, 2, {"hidden_sizes": [4]}, "float64").theta.dtype == F64
    for dtype in ("floaty", "int8", torch.int64, 64):
        with pytest.raises(TypeError, match="dtype must be a floating torch dtype"):
            make_policy("state", 3, 2, dtype=dtype)
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    with pytest.raises(
        TypeError, match=re.escape("storage dtype torch.float32 != param dtype torch.float64")
    ):
        policy.bind_param(torch.zeros(3, 2))
    assert policy.weight.dtype == F64
