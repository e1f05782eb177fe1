"""The MLP policy's hand-written backward pass: against autograd, finite differences, identities,
the linear policy it contains, and the exact gradient of a small MDP (float64)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.core.mlp import ACTIVATIONS
from agents.core.policies import LinearSoftmaxPolicy, MLPSoftmaxPolicy, make_policy
from agents.errors import UserError
from agents.runtime.acting import Actor
from agents.runtime.build import build_learner, build_policy
from agents.runtime.config import AgentConfig, validate
from agents.runtime.rollout import collect_episodes
from agents.studies.exact_gradient import exact_gradient_autograd, exact_gradient_pg_theorem, tabular_problem
from agents.studies.gradient_variance import episode_gradients

F64 = torch.float64
ARCHITECTURES = [
    ((), "tanh"),
    ((5,), "tanh"),
    ((5,), "relu"),
    ((6, 4), "tanh"),
    ((6, 4), "relu"),
    ((3, 4, 5), "relu"),
]


def mlp_policy(
    state_dim: int,
    n_actions: int,
    hidden_sizes: tuple[int, ...],
    activation: str,
    generator: torch.Generator,
    scale: float = 1.0,
) -> MLPSoftmaxPolicy:
    """Random weights ``scale N(0, 1/n_in)`` and biases ``scale N(0, 1)``, written through the views."""
    policy = MLPSoftmaxPolicy(state_dim, n_actions, hidden_sizes, activation, F64, generator)
    with torch.no_grad():
        for weight, bias in policy.weights_and_biases():
            weight.copy_(
                scale * torch.randn(weight.shape, dtype=F64, generator=generator) / weight.shape[0] ** 0.5
            )
            bias.copy_(scale * torch.randn(bias.shape, dtype=F64, generator=generator))
    return policy


def batch(generator: torch.Generator, size: int, state_dim: int, n_actions: int, scale: float = 1.0):
    features = scale * torch.randn(size, state_dim, dtype=F64, generator=generator)
    return features, torch.randint(n_actions, (size,), generator=generator)


def log_probs_at(policy: MLPSoftmaxPolicy, param, features, actions) -> torch.Tensor:
    log_probs = torch.log_softmax(policy.logits_with(param, features), -1)
    return log_probs.gather(-1, actions[:, None]).squeeze(-1)


def contraction_by_autograd(policy: MLPSoftmaxPolicy, features, actions, coefficients) -> torch.Tensor:
    """``sum_t c_t grad log pi(A_t|S_t)`` by ``torch.func.grad`` of ``sum_t c_t log pi``."""

    def weighted_log_likelihood(param: torch.Tensor) -> torch.Tensor:
        return (coefficients * log_probs_at(policy, param, features, actions)).sum()

    return torch.func.grad(weighted_log_likelihood)(policy.param.detach())


def check_against_autograd(policy: MLPSoftmaxPolicy, features, actions, coefficients) -> None:
    score, reference = policy.score(features, actions), policy.autograd_score(features, actions)
    assert score.shape == reference.shape == (features.shape[0], policy.n_params)
    torch.testing.assert_close(score, reference, rtol=0, atol=1e-12)
    gradient = policy.policy_gradient(features, actions, coefficients)
    assert gradient.shape == (policy.n_params,)
    torch.testing.assert_close(
        gradient, contraction_by_autograd(policy, features, actions, coefficients), rtol=0, atol=1e-12
    )
    torch.testing.assert_close(gradient, torch.tensordot(coefficients, score, dims=1), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("hidden_sizes", "activation"), ARCHITECTURES)
def test_score_and_policy_gradient_equal_autograd(generator, hidden_sizes, activation):
    policy = mlp_policy(6, 4, hidden_sizes, activation, generator)
    x, a = batch(generator, 64, 6, 4)
    check_against_autograd(policy, x, a, torch.randn(64, dtype=F64, generator=generator))


@settings(max_examples=30, deadline=None)
@given(
    hidden_sizes=st.lists(st.integers(1, 8), max_size=3).map(tuple),
    activation=st.sampled_from(["tanh", "relu"]),
    batch_size=st.integers(1, 9),
    state_dim=st.integers(1, 5),
    n_actions=st.integers(2, 5),
    scale=st.floats(0.1, 3.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_score_and_policy_gradient_equal_autograd(
    hidden_sizes, activation, batch_size, state_dim, n_actions, scale, seed
):
    generator = torch.Generator().manual_seed(seed)
    policy = mlp_policy(state_dim, n_actions, hidden_sizes, activation, generator, scale)
    x, a = batch(generator, batch_size, state_dim, n_actions)
    check_against_autograd(policy, x, a, torch.randn(batch_size, dtype=F64, generator=generator))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_score_matches_central_finite_differences(generator, central_difference_score, activation):
    policy = mlp_policy(3, 3, (4, 3), activation, generator)
    x, a = batch(generator, 5, 3, 3)
    score = policy.score(x, a)
    numeric = central_difference_score(policy, x, a)
    assert numeric.abs().max() > 0.1  # not trivially zero
    torch.testing.assert_close(score, numeric, rtol=0, atol=1e-7)


def test_relu_kink_has_derivative_zero_like_autograd(generator):
    """At x = 0 with zero biases every hidden pre-activation is exactly 0: relu'(0) = 0 leaves
    only the last bias with a gradient, as torch's autograd does (relu'(0) = 1 would not)."""
    policy = MLPSoftmaxPolicy(3, 2, (4, 4), "relu", F64, generator)  # zero biases at init
    x, a = torch.zeros(2, 3, dtype=F64), torch.tensor([0, 1])
    score = policy.score(x, a)
    torch.testing.assert_close(score, policy.autograd_score(x, a), rtol=0, atol=0)
    last_bias = policy.layers[-1].bias
    assert score[:, : last_bias.start].abs().max() == 0
    torch.testing.assert_close(score[:, last_bias], torch.tensor([[0.5, -0.5], [-0.5, 0.5]], dtype=F64))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_expected_score_is_zero_and_matches_the_sum_over_actions(generator, activation):
    policy = mlp_policy(4, 3, (5, 4), activation, generator, scale=3.0)
    x, _ = batch(generator, 16, 4, 3)
    scores = torch.stack([policy.score(x, torch.full((16,), action)) for action in range(3)], 1)  # [B, A, P]
    probs = policy.probs(x).detach()
    assert (probs[:, :, None] * scores).sum(1).abs().max() < 1e-12  # E_pi[score] = 0
    coef = torch.randn(16, 3, dtype=F64, generator=generator)
    expected = policy.expected_score(x, coef)
    assert expected.shape == (16, policy.n_params)
    torch.testing.assert_close(expected, (coef[:, :, None] * scores).sum(1), rtol=0, atol=1e-12)


def test_no_hidden_layer_is_the_linear_policy_with_a_bias_column(generator):
    mlp = mlp_policy(4, 3, (), "tanh", generator)
    [(weight, bias)] = mlp.weights_and_biases()
    linear = LinearSoftmaxPolicy(5, 3, dtype=F64)
    with torch.no_grad():
        linear.weight.copy_(torch.cat([weight, bias[None]]))  # W [d+1, A] = [W; b]
    x, a = batch(generator, 20, 4, 3)
    x_with_bias = torch.cat([x, torch.ones(20, 1, dtype=F64)], 1)
    torch.testing.assert_close(mlp.probs(x), linear.probs(x_with_bias), rtol=0, atol=1e-12)
    # flat layout W (row-major [d, A]) then b [A] = the linear score [d+1, A] flattened
    torch.testing.assert_close(mlp.score(x, a), linear.score(x_with_bias, a).flatten(1), rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_huge_inputs_stay_finite(generator, activation):
    policy = mlp_policy(3, 4, (8, 8), activation, generator)
    x, a = batch(generator, 16, 3, 4, scale=1e6)
    coefficients = torch.randn(16, dtype=F64, generator=generator)
    probs, score = policy.probs(x), policy.score(x, a)
    gradient = policy.policy_gradient(x, a, coefficients)
    for value in (probs, score, gradient, policy.log_prob(x, a), policy.entropy_gradient(x)):
        assert torch.isfinite(value).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(16, dtype=F64))
    # relu: logits of order 1e6 (a naive exp overflows); tanh: saturated units with act' = 0
    assert policy.logits(x).abs().max() > (1e4 if activation == "relu" else 0.1)
    torch.testing.assert_close(score, policy.autograd_score(x, a), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_entropy_gradient_equals_autograd(generator, activation):
    policy = mlp_policy(3, 4, (5, 3), activation, generator)
    x, _ = batch(generator, 8, 3, 4)

    def entropy_sum(param: torch.Tensor) -> torch.Tensor:
        log_probs = torch.log_softmax(policy.logits_with(param, x), -1)
        return -(log_probs.exp() * log_probs).sum()

    reference = torch.func.grad(entropy_sum)(policy.param.detach())
    assert reference.abs().max() > 1e-3
    torch.testing.assert_close(policy.entropy_gradient(x).sum(0), reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize(("hidden_sizes", "activation"), ARCHITECTURES)
def test_acting_logits_equal_logits(generator, hidden_sizes, activation):
    policy = mlp_policy(4, 3, hidden_sizes, activation, generator)
    x, _ = batch(generator, 7, 4, 3)
    expected = policy.logits(x).detach().numpy()
    np.testing.assert_allclose(
        policy.acting_logits(policy.theta.detach().numpy(), x.numpy()), expected, atol=1e-12
    )
    params = torch.randn(3, policy.n_params, dtype=F64, generator=generator)  # N = 3 runs
    inputs = torch.randn(3, 7, 4, dtype=F64, generator=generator)
    stacked = policy.acting_logits(params.numpy(), inputs.numpy())
    assert stacked.shape == (3, 7, 3)
    for run in range(3):
        np.testing.assert_allclose(
            stacked[run], policy.logits_with(params[run], inputs[run]).numpy(), atol=1e-12
        )


def test_the_actor_samples_from_probs(generator):
    policy = mlp_policy(2, 3, (4,), "tanh", generator)
    x = torch.tensor([[0.3, -0.2]], dtype=F64)
    actor = Actor.for_policy(policy, np.random.default_rng(3))
    frequencies = np.bincount(actor(np.repeat(x.numpy(), 40_000, axis=0)), minlength=3) / 40_000
    np.testing.assert_allclose(frequencies, policy.probs(x)[0].detach().numpy(), atol=0.01)


def test_policy_gradient_maps_over_stacked_runs(generator):
    """``policy_gradient_with`` is pure, so ``torch.func.vmap`` maps it over N runs' parameters."""
    policy = mlp_policy(3, 2, (4,), "tanh", generator)
    params = torch.randn(4, policy.n_params, dtype=F64, generator=generator)
    x = torch.randn(4, 6, 3, dtype=F64, generator=generator)
    a = torch.randint(2, (4, 6), generator=generator)
    c = torch.randn(4, 6, dtype=F64, generator=generator)
    mapped = torch.func.vmap(policy.policy_gradient_with)(params, x, a, c)
    for run in range(4):
        torch.testing.assert_close(
            mapped[run], policy.policy_gradient_with(params[run], x[run], a[run], c[run])
        )


def test_initialisation_is_seeded_orthogonal_and_near_uniform():
    def make(seed: int) -> MLPSoftmaxPolicy:
        return MLPSoftmaxPolicy(4, 3, dtype=F64, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(make(5).theta, make(5).theta)
    assert not torch.equal(make(5).theta, make(6).theta)
    torch.manual_seed(7)  # without a generator: the global torch RNG
    first = MLPSoftmaxPolicy(4, 3).theta.detach().clone()
    torch.manual_seed(7)
    torch.testing.assert_close(MLPSoftmaxPolicy(4, 3).theta.detach(), first, rtol=0, atol=0)
    policy = make(5)
    assert policy.n_params == 4 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3
    gains = [math.sqrt(2), math.sqrt(2), 0.01]
    for (weight, bias), gain in zip(policy.weights_and_biases(), gains, strict=True):
        assert bias.abs().max() == 0
        gram = weight.mT @ weight if weight.shape[0] >= weight.shape[1] else weight @ weight.mT
        torch.testing.assert_close(gram, gain**2 * torch.eye(gram.shape[0], dtype=F64))
    x = torch.randn(256, 4, dtype=F64, generator=torch.Generator().manual_seed(0))
    assert (policy.probs(x) - 1 / 3).abs().max() < 0.02


def test_unknown_activation_is_a_user_error():
    with pytest.raises(UserError, match=r"^agent.activation='sigmoid' is not one of tanh, relu$"):
        MLPSoftmaxPolicy(3, 2, activation="sigmoid")
    options = AgentConfig(policy="mlp", activation="sigmoid")
    with pytest.raises(UserError, match=r"^agent\.activation="):
        make_policy("mlp", 3, 2, options)


@pytest.mark.parametrize("widths", ["64", [-3], [0], [2.5], [True]])
def test_hidden_sizes_that_are_not_positive_ints_are_a_user_error(widths):
    """``"64"`` built a (6, 4) network from its characters; ``[-3]`` was torch's RuntimeError."""
    with pytest.raises(UserError, match=r"^agent\.hidden_sizes=.* must be a list of positive ints"):
        make_policy("mlp", 3, 2, {"hidden_sizes": widths})


def test_options_and_config(make_config):
    default = MLPSoftmaxPolicy.from_options(4, 2, None, F64)
    assert (default.hidden_sizes, default.activation_name, default.n_params) == ((64, 64), "tanh", 4610)
    cfg = make_config("agent.policy=mlp", "agent.hidden_sizes=[8]", "agent.activation=relu")
    validate(cfg)
    policy = build_policy(cfg.agent, type("Inputs", (), {"dim": 5})(), 3)
    assert isinstance(policy, MLPSoftmaxPolicy)
    assert (policy.hidden_sizes, policy.activation_name, policy.n_params) == (
        (8,),
        "relu",
        5 * 8 + 8 + 8 * 3 + 3,
    )
    assert make_config("agent.policy=mlp").agent.hidden_sizes == [64, 64]
    validate(make_config("agent.policy=mlp", "agent.hidden_sizes=[]"))
    for override, message in (
        ("agent.hidden_sizes=[8,0]", "agent.hidden_sizes entry=0 must be >= 1"),
        ("agent.hidden_sizes=[5000]", "agent.hidden_sizes entry 5000 must be <= 4096"),
        ("agent.activation=sigmoid", "agent.activation='sigmoid' is not one of tanh, relu"),
    ):
        with pytest.raises(UserError, match=f"^{message}$"):
            validate(make_config("agent.policy=mlp", override))


def corridor_mlp(hidden_sizes: tuple[int, ...], activation: str, seed: int = 0):
    """ShortCorridor-v0 (4 states, 2 actions, gamma = 1) with one-hot x(s) and a random MLP."""
    problem = tabular_problem("ShortCorridor-v0", "state")
    generator = torch.Generator().manual_seed(seed)
    policy = mlp_policy(problem.inputs.dim, problem.mdp.num_actions, hidden_sizes, activation, generator)
    return dataclasses.replace(problem, policy=policy)


@pytest.mark.parametrize(("hidden_sizes", "activation"), [((), "tanh"), ((3,), "tanh"), ((4, 3), "relu")])
def test_exact_gradient_by_autograd_equals_the_policy_gradient_theorem(hidden_sizes, activation):
    """Autograd through the linear solve vs the theorem with the hand-derived batch gradient."""
    problem = corridor_mlp(hidden_sizes, activation)
    by_autograd = exact_gradient_autograd(problem.policy, problem.mdp, problem.state_inputs)
    by_theorem = exact_gradient_pg_theorem(problem.policy, problem.mdp, problem.state_inputs)
    assert by_autograd.shape == (problem.policy.n_params,)
    assert by_autograd.abs().max() > 1e-2
    torch.testing.assert_close(by_theorem, by_autograd, rtol=0, atol=1e-12)


def test_reinforce_mean_matches_the_exact_gradient_within_three_standard_errors():
    problem, num_episodes = corridor_mlp((3,), "tanh"), 3000
    exact = exact_gradient_autograd(problem.policy, problem.mdp, problem.state_inputs)
    batch, _ = collect_episodes(problem.env, problem.inputs, problem.policy, num_episodes, seed=0)
    estimates = episode_gradients(problem.policy, batch, 1.0)  # [M, n_params]
    mean, standard_error = estimates.mean(0), estimates.std(0) / math.sqrt(num_episodes)
    visited = standard_error > 0  # the goal state's input weights never see a nonzero input
    assert visited.sum() == problem.policy.n_params - 3
    assert ((mean - exact).abs()[visited] <= 3 * standard_error[visited]).all(), (mean, exact, standard_error)
    assert (mean[~visited] == 0).all() and (exact[~visited].abs() < 1e-12).all()
    # the learner's own estimate (textbook settings, the hand-derived batch gradient) is that mean
    cfg = AgentConfig(gamma=1.0, optimizer="sgd", lr=1e-9, normalize_returns=False, discount_weighting=True)
    build_learner(problem.policy, cfg, problem.inputs.feature_map.dim).update(batch)
    torch.testing.assert_close(-problem.policy.param.grad, mean, rtol=1e-10, atol=1e-12)


def test_acting_logits_follow_in_place_updates_of_the_parameter(generator):
    """The acting path cuts its layer views once per parameter array; an optimizer step changes
    the parameter in place, and the next action must see it."""
    policy = mlp_policy(4, 3, (8, 8), "tanh", generator)
    x, _ = batch(generator, 5, 4, 3)
    acting_params = policy.theta.detach().numpy()  # the view the actor keeps
    before = policy.acting_logits(acting_params, x.numpy())
    with torch.no_grad():
        policy.theta.add_(torch.randn(policy.n_params, dtype=F64, generator=generator))
    after = policy.acting_logits(acting_params, x.numpy())
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, policy.logits(x).detach().numpy(), atol=1e-12)


def test_acting_computes_in_the_parameters_dtype():
    policy = MLPSoftmaxPolicy(4, 2, (8,), dtype=torch.float32, generator=torch.Generator().manual_seed(0))
    logits = policy.acting_logits(policy.theta.detach().numpy(), np.ones((3, 4)))  # float64 inputs
    assert logits.dtype == np.float32
    np.testing.assert_allclose(logits, policy.logits(torch.ones(3, 4)).detach().numpy(), atol=1e-6)


def test_tanh_through_sigmoid_is_tanh():
    """``2 sigmoid(2z) - 1`` (the faster form the policy computes) is ``tanh`` to float64
    rounding, saturating to exactly +-1 for huge inputs."""
    z = torch.cat([torch.linspace(-30, 30, 10001, dtype=F64), torch.tensor([-1e300, 1e300], dtype=F64)])
    torch.testing.assert_close(ACTIVATIONS["tanh"].forward(z), torch.tanh(z), rtol=0, atol=4e-16)
    assert ACTIVATIONS["tanh"].forward(torch.tensor([-1e300, 1e300], dtype=F64)).tolist() == [-1.0, 1.0]


@pytest.mark.parametrize(("hidden_sizes", "activation"), ARCHITECTURES)
def test_gradient_and_log_probs_from_one_pass_equal_the_two_passes(generator, hidden_sizes, activation):
    policy = mlp_policy(4, 3, hidden_sizes, activation, generator)
    features, actions = batch(generator, 17, 4, 3)
    coefficients = torch.randn(17, dtype=F64, generator=generator)
    gradient, log_probs = policy.policy_gradient_and_log_probs(features, actions, coefficients)
    assert torch.equal(gradient, policy.policy_gradient(features, actions, coefficients))
    assert torch.equal(log_probs, policy.log_probs(features))


@pytest.mark.parametrize(("hidden_sizes", "activation"), ARCHITECTURES)
def test_passes_that_overwrite_their_arrays_give_the_same_numbers(generator, hidden_sizes, activation):
    """Under ``torch.no_grad`` (training) the passes compute in place; bit for bit the same as
    with autograd recording, where they may not; a plain vmap over runs works in place too."""
    policy = mlp_policy(4, 3, hidden_sizes, activation, generator)
    features, actions = batch(generator, 9, 4, 3)
    features[0, :] = 0.0  # relu: some z = b exactly; both paths give the kink derivative 0
    coefficients = torch.randn(9, dtype=F64, generator=generator)
    params = torch.randn(2, policy.n_params, dtype=F64, generator=generator)
    action_coefficients = torch.rand(9, 3, dtype=F64, generator=generator)
    original = features.clone()

    def passes() -> list[torch.Tensor]:
        return [
            policy.logits(features),
            policy.score(features, actions),
            policy.policy_gradient(features, actions, coefficients),
            *policy.policy_gradient_and_log_probs(features, actions, coefficients),
            policy.expected_score(features, action_coefficients),
            torch.func.vmap(policy.policy_gradient_with, in_dims=(0, None, None, None))(
                params, features, actions, coefficients
            ),
        ]

    recorded = passes()
    assert recorded[0].requires_grad  # the autograd path really was the one taken
    with torch.no_grad():
        overwriting = passes()
    for value, reference in zip(overwriting, recorded, strict=True):
        assert torch.equal(value, reference.detach())
    assert torch.equal(features, original)  # the inputs h_0 are never overwritten


def test_an_mlp_without_hidden_layers_trains(make_config, tmp_path):
    """``agent.hidden_sizes=[]`` (documented: linear) was a TypeError in the memory estimate."""
    from agents.runtime.run import train

    result = train(make_config("agent.policy=mlp", "agent.hidden_sizes=[]", "budget.total_env_steps=600",
                               f"run_dir={tmp_path}"))  # fmt: skip
    assert result.env_steps == 600


class DoubledMLP(MLPSoftmaxPolicy):
    """A user's form: twice the network's logits, with its own (autograd) score."""

    def logits_with(self, param, features):
        return 2 * super().logits_with(param, features)

    def score_with(self, param, features, actions):
        return self.autograd_score_with(param, features, actions)


def test_a_subclass_that_redefines_the_logits_and_score_is_trained_with_them(generator):
    """The batch backward pass (the update's gradient, with or without its statistics) ran the
    parent's network: a subclass doubling its logits ascended its parent's gradient."""
    policy = DoubledMLP(5, 3, (4,), "tanh", F64, generator)
    x, a = batch(generator, 30, 5, 3)
    c = torch.randn(30, dtype=F64, generator=generator)
    expected = contraction_by_autograd(policy, x, a, c)
    torch.testing.assert_close(policy.policy_gradient(x, a, c), expected, rtol=0, atol=1e-12)
    gradient, log_probs = policy.policy_gradient_and_log_probs(x, a, c)
    torch.testing.assert_close(gradient, expected, rtol=0, atol=1e-12)
    logits = 2 * MLPSoftmaxPolicy.logits_with(policy, policy.param, x)
    torch.testing.assert_close(log_probs, torch.log_softmax(logits, -1), rtol=0, atol=1e-12)
    params = torch.stack([policy.param.detach(), -policy.param.detach()]).numpy()  # two runs act on
    acting = policy.acting_logits(params, np.stack([x.numpy(), x.numpy()]))  # their own logits
    expected_logits = [policy.logits_with(torch.from_numpy(row), x).numpy() for row in params]
    np.testing.assert_allclose(acting, np.stack(expected_logits), rtol=0, atol=1e-12)
    entropy = torch.func.grad(
        lambda p: -torch.special.entr(torch.softmax(policy.logits_with(p, x), -1)).sum()
    )
    torch.testing.assert_close(  # the entropy bonus's gradient follows the subclass's logits too
        policy.entropy_gradient(x).sum(0), -entropy(policy.param.detach()), rtol=0, atol=1e-12
    )
