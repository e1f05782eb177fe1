"""The REINFORCE update: the textbook rule by hand, both score paths agree, baselines, clipping."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from agents.core.batch import EpisodeBatch, NumericalError
from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy, make_policy
from agents.runtime.build import build_learner
from agents.runtime.config import AgentConfig
from agents.runtime.trainer import numerical_failure_hint

F64 = torch.float64


def make_batch(generator: torch.Generator, lengths: list[int], state_dim: int = 3, n_actions: int = 2):
    total = sum(lengths)
    dones = torch.zeros(total, dtype=torch.bool)
    dones[torch.tensor(lengths).cumsum(0) - 1] = True
    x = torch.randn(total, state_dim, dtype=F64, generator=generator)
    return EpisodeBatch(
        inputs=x,
        states=x,
        actions=torch.randint(n_actions, (total,), generator=generator),
        rewards=torch.randn(total, dtype=F64, generator=generator),
        dones=dones,
    )


def sgd_config(**overrides) -> AgentConfig:
    return AgentConfig(optimizer="sgd", normalize_returns=False, **overrides)


def test_sgd_batch_update_is_the_textbook_rule(generator):
    """theta <- theta + alpha (1/M) sum_t G_t grad log pi(A_t|S_t), computed by hand."""
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    batch = make_batch(generator, [3, 2])
    alpha, gamma = 0.1, 0.9
    rewards = batch.rewards.tolist()
    returns = [
        rewards[0] + gamma * rewards[1] + gamma**2 * rewards[2],
        rewards[1] + gamma * rewards[2],
        rewards[2],
        rewards[3] + gamma * rewards[4],
        rewards[4],
    ]
    expected = torch.zeros(3, 2, dtype=F64)
    probs = torch.full((2,), 0.5, dtype=F64)  # theta = 0: uniform policy
    for t in range(5):
        onehot = torch.nn.functional.one_hot(batch.actions[t], 2).to(F64)
        expected += alpha * returns[t] * torch.outer(batch.inputs[t], onehot - probs) / 2
    build_learner(policy, sgd_config(lr=alpha, gamma=gamma), 3).update(batch)
    assert torch.allclose(policy.weight.detach(), expected, atol=1e-14)


def test_per_step_rule_with_gamma_t_matches_hand_loop(generator):
    """S&B p. 328: theta_{t+1} = theta_t + alpha gamma^t G_t grad log pi(A_t|S_t, theta_t)."""
    batch = make_batch(generator, [4])
    alpha, gamma = 0.5, 0.8
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    build_learner(
        policy, sgd_config(lr=alpha, gamma=gamma, per_step_updates=True, discount_weighting=True), 3
    ).update(batch)

    reference = LinearSoftmaxPolicy(3, 2, dtype=F64)
    rewards = batch.rewards.tolist()
    with torch.no_grad():
        for t in range(4):
            g_t = sum(gamma**k * rewards[t + k] for k in range(4 - t))
            score = reference.score(batch.inputs[t : t + 1], batch.actions[t : t + 1])[0]
            reference.weight += alpha * gamma**t * g_t * score
    assert torch.allclose(policy.weight.detach(), reference.weight, atol=1e-14)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("policy_form", ["state", "action"])
def test_closed_form_and_autograd_give_the_same_parameters(generator, optimizer, policy_form):
    batches = [make_batch(generator, [5, 3, 7]) for _ in range(5)]
    params = []
    for score in ("closed_form", "autograd"):
        if policy_form == "state":
            policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
        else:
            policy = ActionFeatureSoftmaxPolicy(3, dtype=F64)
        learner = build_learner(policy, AgentConfig(score=score, optimizer=optimizer, lr=0.05), 3)
        for b in batches:
            inputs = b.inputs if policy_form == "state" else torch.stack([b.inputs, -b.inputs], dim=1)
            learner.update(EpisodeBatch(inputs, b.states, b.actions, b.rewards, b.dones))
        params.append(policy.param.detach().clone())
    assert torch.allclose(params[0], params[1], rtol=0, atol=1e-12)


def test_value_baseline_step_by_hand(generator):
    """w <- w + alpha_w (1/M) sum_t (G_t - w^T x_t) x_t, and the policy uses G_t - v(S_t)."""
    batch = make_batch(generator, [2])
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    learner = build_learner(policy, sgd_config(lr=1.0, gamma=1.0, baseline="value", baseline_lr=0.5), 3)
    (head,) = learner.baseline.network  # the book's linear v(s, w) = w^T x(s): one bias-free layer
    assert head.bias is None  # x(s) carries the bias feature already
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[0.1, -0.2, 0.3]], dtype=F64))
    w = head.weight[0].detach().clone()
    r = batch.rewards
    returns = torch.stack([r[0] + r[1], r[1]])
    delta = returns - batch.states @ w
    expected_w = w + 0.5 * (delta @ batch.states)
    expected_theta = sum(
        delta[t] * torch.outer(batch.inputs[t], torch.nn.functional.one_hot(batch.actions[t], 2) - 0.5)
        for t in range(2)
    )
    learner.update(batch)
    assert torch.allclose(head.weight[0].detach(), expected_w, atol=1e-14)
    assert torch.allclose(policy.weight.detach(), expected_theta, atol=1e-14)


@pytest.mark.parametrize("hidden_sizes", [[], [8], [8, 4]])
@pytest.mark.parametrize("policy_form", ["state", "action", "mlp"])
def test_value_network_fits_returns_for_every_policy_form(policy_form, hidden_sizes):
    """The value baseline regresses v(S_t) on G_t (for any policy form it reads x(s)): its loss
    falls over repeated fits of the same batch, and the checkpointed state restores it."""
    torch.manual_seed(0)
    states = torch.cat([torch.randn(40, 2, dtype=F64), torch.ones(40, 1, dtype=F64)], dim=1)  # x(s), bias
    returns = states @ torch.tensor([1.0, -2.0, 3.0], dtype=F64)
    config = AgentConfig(
        policy=policy_form,
        baseline="value",
        baseline_lr=0.01,
        value_hidden_sizes=hidden_sizes,
        value_optimizer="adam",
        value_epochs=5,
        hidden_sizes=[4],
        dtype="float64",
    )
    inputs_dim = 6 if policy_form == "action" else 3
    learner = build_learner(make_policy(policy_form, inputs_dim, 2, config, F64), config, 3)
    baseline = learner.baseline

    def loss() -> float:
        return float(((returns - baseline(states)) ** 2).mean())

    before = loss()
    for _ in range(100):
        baseline.update(states, returns, 4)
    assert loss() < 0.2 * before
    copy = build_learner(make_policy(policy_form, inputs_dim, 2, config, F64), config, 3).baseline
    copy.load_state_dict(baseline.state_dict())
    assert torch.equal(copy(states), baseline(states))


def test_mean_baseline_tracks_the_mean_return(generator):
    batch = make_batch(generator, [3, 4])
    learner = build_learner(LinearSoftmaxPolicy(3, 2, dtype=F64), AgentConfig(baseline="mean", gamma=1.0), 3)
    learner.update(batch)
    from agents.core.returns import discounted_returns

    expected = discounted_returns(batch.rewards, 1.0, batch.dones).mean()
    assert torch.allclose(learner.baseline.mean, expected)


def test_gradient_clipping_limits_the_step(generator):
    batch = make_batch(generator, [6])
    batch.rewards.mul_(1e3)
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    stats = build_learner(policy, sgd_config(lr=1.0, max_grad_norm=0.5), 3).update(batch)
    assert stats.grad_norm > 0.5
    assert policy.weight.detach().norm().item() == pytest.approx(0.5)
    unclipped, below = LinearSoftmaxPolicy(3, 2, dtype=F64), LinearSoftmaxPolicy(3, 2, dtype=F64)
    build_learner(unclipped, sgd_config(lr=1.0), 3).update(batch)
    build_learner(below, sgd_config(lr=1.0, max_grad_norm=2 * stats.grad_norm), 3).update(batch)
    assert torch.equal(below.weight, unclipped.weight)  # a gradient below the limit is left as it is


def test_a_finite_float32_gradient_past_the_float32_norm_is_clipped(generator):
    """Entries of 5e19 have a finite norm (1e20) whose float32 sum of squares overflows: the run
    stopped on a 'non-finite policy gradient' that clipping would have scaled to the limit."""
    x = torch.full((1, 2), 1e10)
    batch = EpisodeBatch(
        inputs=x, states=x, actions=torch.zeros(1, dtype=torch.long), rewards=torch.full((1,), 1e10),
        dones=torch.ones(1, dtype=torch.bool),
    )  # fmt: skip
    policy = LinearSoftmaxPolicy(2, 2)  # float32; g = G x (e_a - pi)^T = 1e20 (1/2, -1/2) per row
    stats = build_learner(policy, sgd_config(lr=1.0, max_grad_norm=0.5), 2).update(batch)
    assert stats.grad_norm == pytest.approx(1e20, rel=1e-6)
    assert policy.weight.detach().double().norm().item() == pytest.approx(0.5, rel=1e-6)


def one_step_batch(x: float, reward: float, dtype: torch.dtype = torch.float32) -> EpisodeBatch:
    """One episode of one step in state ``(x, x)``, action 0, reward ``reward``."""
    states = torch.full((1, 2), x, dtype=dtype)
    return EpisodeBatch(
        inputs=states, states=states, actions=torch.zeros(1, dtype=torch.long),
        rewards=torch.full((1,), reward, dtype=dtype), dones=torch.ones(1, dtype=torch.bool),
    )  # fmt: skip


def test_an_overflowed_adam_state_stops_the_update_and_keeps_the_last_good_state():
    """g = 1e21 entries: Adam's average of g^2 overflowed float32 to inf, its step m / sqrt(inf) = 0
    froze the policy while the run went on (exit 0), and a resume refused the run's own checkpoint
    as an altered file. Now the update stops, with the parameters and the optimizer's state of
    before it."""
    policy = LinearSoftmaxPolicy(2, 2)  # float32
    learner = build_learner(policy, AgentConfig(normalize_returns=False, lr=0.01), 2)
    learner.update(one_step_batch(1.0, 1.0))  # a good step: Adam has a state
    good_weight = policy.weight.detach().clone()
    good_state = {key: value.clone() for key, value in learner.optimizer.state[policy.weight].items()}
    said = (
        r"optimizer's state overflowed float32 \(a policy gradient of norm [0-9.]+e\+21, .*: use "
        r"agent.dtype=float64, or .*, or agent.normalize_returns=true$"
    )
    with pytest.raises(NumericalError, match=said):
        learner.update(one_step_batch(1.0, 2e21))
    assert torch.equal(policy.weight.detach(), good_weight)
    state = learner.optimizer.state[policy.weight]
    assert state.keys() == good_state.keys() and all(torch.equal(state[k], good_state[k]) for k in state)
    fresh = LinearSoftmaxPolicy(2, 2)  # the first step: the entries it made go too
    first = build_learner(fresh, AgentConfig(normalize_returns=False), 2)
    with pytest.raises(NumericalError, match="overflowed float32"):
        first.update(one_step_batch(1.0, 2e21))
    assert not first.optimizer.state and torch.equal(fresh.weight.detach(), torch.zeros(2, 2))
    first.update(one_step_batch(1.0, 1.0))  # and it steps on as a fresh Adam
    assert int(first.optimizer.state[fresh.weight]["step"]) == 1


def test_a_float64_gradient_of_finite_entries_past_the_norms_range_is_clipped():
    """Entries of 1e200: float64's sum of squares overflows, and the update stopped on a
    "non-finite policy gradient" (blamed on agent.lr) that clipping scales to the limit."""
    policy = LinearSoftmaxPolicy(2, 2, dtype=F64)  # g = G x (e_a - pi)^T = 1e200 (1/2, -1/2) per row
    learner = build_learner(policy, sgd_config(lr=1.0, max_grad_norm=0.5), 2)
    stats = learner.update(one_step_batch(1e100, 1e100, F64))
    assert stats.grad_norm == pytest.approx(1e200, rel=1e-12)
    assert policy.weight.detach().norm().item() == pytest.approx(0.5, rel=1e-12)


def test_returns_whose_squares_overflow_are_standardised_as_smaller_ones():
    """Returns of 1e200 had an infinite std: every advantage (v - mean) / inf was 0 and the run
    learned nothing, without a word. Standardising does not depend on the scale."""
    from agents.core.reinforce import _standardize
    from agents.core.segments import standardize_segments

    values = torch.tensor([1.0, 2.0, 4.0, -3.0, 0.5], dtype=F64)
    segments = torch.tensor([0, 0, 0, 1, 1])
    close = {"rtol": 1e-12, "atol": 1e-12}  # (the values over their largest |v|: the same up to the 1e-8)
    by_run = standardize_segments(values / torch.tensor([4.0, 4.0, 4.0, 3.0, 3.0], dtype=F64), segments, 2)
    for scale in (1e200, 1e307):
        torch.testing.assert_close(_standardize(values * scale), _standardize(values / 4), **close)
        torch.testing.assert_close(standardize_segments(values * scale, segments, 2), by_run, **close)
    mixed = torch.cat([values[:3] * 1e200, torch.zeros(2, dtype=F64)])  # a run of zeros beside one too large
    expected = torch.cat([by_run[:3], torch.zeros(2, dtype=F64)])
    torch.testing.assert_close(standardize_segments(mixed, segments, 2), expected, **close)
    single = standardize_segments(torch.tensor([1e200, 3e200, 5.0], dtype=F64), torch.tensor([0, 0, 1]), 2)
    assert single[2].item() == 5.0  # a run of one step keeps its value, as where nothing overflowed


def test_entropy_bonus_adds_the_entropy_gradient(generator):
    """theta += alpha c_H (1/M) sum_t grad H(pi(.|S_t)), over the batch's M = 2 episodes."""
    batch = make_batch(generator, [4, 3])
    batch.rewards.zero_()  # only the entropy term moves theta
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    with torch.no_grad():
        policy.weight.copy_(torch.randn(3, 2, dtype=F64, generator=generator))
    start = policy.weight.detach().clone()
    expected = start + 0.1 * policy.entropy_gradient(batch.inputs).sum(0) / 2
    build_learner(policy, sgd_config(lr=1.0, entropy_coef=0.1), 3).update(batch)
    assert torch.allclose(policy.weight.detach(), expected, atol=1e-14)


def test_per_step_rule_takes_no_one_over_m(generator):
    """With per_step_updates each of the T steps is alpha (A_t score_t + c_H grad H_t): M = 1,
    however many episodes the batch holds."""
    batch = make_batch(generator, [3, 2])
    alpha, gamma, c_h = 0.3, 0.9, 0.1
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    build_learner(
        policy, sgd_config(lr=alpha, gamma=gamma, per_step_updates=True, entropy_coef=c_h), 3
    ).update(batch)
    reference = LinearSoftmaxPolicy(3, 2, dtype=F64)
    r = batch.rewards.tolist()
    returns = [r[0] + gamma * r[1] + gamma**2 * r[2], r[1] + gamma * r[2], r[2], r[3] + gamma * r[4], r[4]]
    with torch.no_grad():
        for t in range(5):
            x, a = batch.inputs[t : t + 1], batch.actions[t : t + 1]
            reference.weight += alpha * (
                returns[t] * reference.score(x, a)[0] + c_h * reference.entropy_gradient(x)[0]
            )
    assert torch.allclose(policy.weight.detach(), reference.weight, atol=1e-13)


def test_per_step_baseline_is_read_before_it_fits_that_step(generator):
    """A_t = G_t - v_w(S_t) with the w of before step t's fit (fitting on (S_t, G_t) first would
    leak G_t into its own baseline); w then takes its step on (S_t, G_t)."""
    batch = make_batch(generator, [3])
    alpha, alpha_w = 0.4, 0.3
    config = sgd_config(lr=alpha, gamma=1.0, per_step_updates=True, baseline="value", baseline_lr=alpha_w)
    policy = LinearSoftmaxPolicy(3, 2, dtype=F64)
    learner = build_learner(policy, config, 3)
    (head,) = learner.baseline.network
    w = torch.tensor([0.2, -0.1, 0.5], dtype=F64)
    with torch.no_grad():
        head.weight.copy_(w[None])
    learner.update(batch)
    r, x = batch.rewards, batch.states
    returns = torch.stack([r[0] + r[1] + r[2], r[1] + r[2], r[2]])
    advantages = []
    for t in range(3):
        advantages.append(returns[t] - x[t] @ w)
        w = w + alpha_w * (returns[t] - x[t] @ w) * x[t]
    reference = LinearSoftmaxPolicy(3, 2, dtype=F64)
    with torch.no_grad():
        for t in range(3):
            reference.weight += (
                alpha * advantages[t] * reference.score(batch.inputs[t : t + 1], batch.actions[t : t + 1])[0]
            )
    assert torch.allclose(head.weight[0].detach(), w, atol=1e-13)
    assert torch.allclose(policy.weight.detach(), reference.weight, atol=1e-13)


def test_non_finite_rewards_raise(generator):
    batch = make_batch(generator, [3])
    batch.rewards[1] = float("inf")
    with pytest.raises(NumericalError):
        build_learner(LinearSoftmaxPolicy(3, 2, dtype=F64), AgentConfig(), 3).update(batch)


@pytest.mark.parametrize("policy_form", ["state", "mlp"])
@pytest.mark.parametrize("score", ["closed_form", "autograd"])
def test_update_statistics_are_taken_at_the_parameters_of_the_gradient(generator, policy_form, score):
    """The logged entropy and surrogate objective are those of the policy before the step (the
    parameters ``g`` was computed at), whichever path computed ``g``."""
    batch = make_batch(generator, [5, 3, 7])
    config = AgentConfig(
        policy=policy_form, hidden_sizes=[4], score=score, normalize_returns=False, gamma=1.0
    )
    policy = make_policy(policy_form, 3, 2, config, F64)
    learner = build_learner(policy, config, 3)
    before = policy.log_probs(batch.inputs).detach()
    episode_ends = [5] * 5 + [8] * 3 + [15] * 7  # G_t with gamma = 1: the rest of t's episode
    rewards = batch.rewards.tolist()
    returns = torch.tensor([sum(rewards[t:end]) for t, end in enumerate(episode_ends)], dtype=F64)
    stats = learner.update(batch)
    taken = before.gather(-1, batch.actions[:, None]).squeeze(-1)
    assert stats.entropy == pytest.approx(float(-(before.exp() * before).sum(-1).mean()), abs=1e-12)
    assert stats.policy_objective == pytest.approx(float((returns * taken).sum() / 3), abs=1e-12)
    assert stats.mean_return == pytest.approx(float(returns[[0, 5, 8]].mean()), abs=1e-12)  # G_0 per episode
    assert not torch.equal(policy.log_probs(batch.inputs), before)  # the step did change the policy


def test_the_training_update_takes_its_statistics_from_the_gradients_forward_pass(generator, monkeypatch):
    config = AgentConfig(policy="mlp", hidden_sizes=[4])
    policy = make_policy("mlp", 3, 2, config, F64)
    learner = build_learner(policy, config, 3)
    monkeypatch.setattr(policy, "log_probs", lambda features: pytest.fail("a second forward pass"))
    stats = learner.update(make_batch(generator, [4, 6]))
    assert 0 < stats.entropy <= torch.log(torch.tensor(2.0)).item() + 1e-12


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_diverged_value_fit_is_undone_so_the_saved_baseline_stays_usable(optimizer):
    """The fit ran before the policy step, whose failure restored only the policy: the "last good
    state" saved a nan value network, which a resume then refused as an altered file."""
    from agents.core.baselines import ValueBaseline

    baseline = ValueBaseline(3, 1e300, F64, hidden_sizes=(4,), optimizer=optimizer)
    generator = torch.Generator().manual_seed(0)
    states, returns = torch.randn(6, 3, dtype=F64, generator=generator), torch.full((6,), 1e200, dtype=F64)
    before = {name: value.clone() for name, value in baseline.network.state_dict().items()}
    with pytest.raises(
        NumericalError, match=r"value baseline's fit diverged \(start a new run with a lower ag"
    ):
        baseline.update(states, returns, 2)
    for name, value in baseline.network.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    state = baseline.optimizer.state_dict()["state"]
    assert all(
        torch.isfinite(v).all() for entry in state.values() for v in entry.values() if torch.is_tensor(v)
    )


def test_an_overflowed_value_optimizer_state_is_undone_and_says_so():
    """Returns of 1e21 in float32: Adam's average of g^2 went inf with finite weights (its steps
    then 0), and the run saved that state, which a resume refused as an altered file."""
    from agents.core.baselines import ValueBaseline

    baseline = ValueBaseline(2, 1e-3, torch.float32, hidden_sizes=(4,), optimizer="adam")
    states, returns = torch.ones(3, 2), torch.full((3,), 1e21)
    before = {name: value.clone() for name, value in baseline.network.state_dict().items()}
    said = (
        r"value baseline's optimizer state overflowed float32 \(returns up to 1e\+21, .*agent.dtype=float64"
    )
    with pytest.raises(NumericalError, match=said):
        baseline.update(states, returns, 1)
    for name, value in baseline.network.state_dict().items():
        torch.testing.assert_close(value, before[name], rtol=0, atol=0)
    assert not baseline.optimizer.state_dict()["state"]  # as before its first step
    wide = ValueBaseline(2, 1e-3, F64, hidden_sizes=(4,), optimizer="adam")  # float64: no float64 hint
    with pytest.raises(NumericalError) as error:
        wide.update(torch.ones(3, 2, dtype=F64), torch.full((3,), 1e160, dtype=F64), 1)
    assert str(error.value).endswith(
        "(returns up to 1e+160, whose squares are past its range): use an env whose rewards and observations "
        "are on a smaller scale"
    )
    assert numerical_failure_hint(error.value) == ""  # "try a lower agent.lr": it leaves g as large


def test_rewards_of_another_dtype_settings_and_an_optimizer_of_other_tensors(generator):
    """float64 rewards (numpy's) for a float32 policy were refused as "coefficients must have the
    features' dtype", though no coefficients were given; the update now takes them in the
    policy's dtype, as the trainer gives them. A negative or nan entropy_coef or max_grad_norm
    turned the term off, and an optimizer over other tensors left the policy unchanged; fields of
    different lengths ended in torch's size mismatch."""
    from agents.core.reinforce import Reinforce

    batch = make_batch(generator, [3, 2])
    float32 = EpisodeBatch(
        batch.inputs.float(), batch.states.float(), batch.actions, batch.rewards, batch.dones
    )
    policy = LinearSoftmaxPolicy(3, 2)
    learner = Reinforce(policy, optimizer=torch.optim.SGD([policy.weight], lr=0.1), gamma=0.9)
    stats = learner.update(float32)
    reference = LinearSoftmaxPolicy(3, 2)
    Reinforce(reference, optimizer=torch.optim.SGD([reference.weight], lr=0.1), gamma=0.9).update(
        EpisodeBatch(float32.inputs, float32.states, batch.actions, batch.rewards.float(), batch.dones)
    )
    assert torch.equal(policy.weight, reference.weight) and policy.weight.any() and stats.grad_norm > 0
    for options, message in (({"entropy_coef": -0.1}, "entropy_coef=-0.1 must be a finite number >= 0"),
                             ({"max_grad_norm": float("nan")}, "max_grad_norm=nan must be"),
                             ({"gamma": -0.5}, "gamma=-0.5 must be")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            Reinforce(policy, optimizer=torch.optim.SGD([policy.weight], lr=0.1), **options)
    for number in (np.float32(0.01), np.int64(1), Fraction(1, 100)):  # numbers from numpy, fractions
        learner = Reinforce(policy, optimizer=torch.optim.SGD([policy.weight], lr=0.1), entropy_coef=number,
                            max_grad_norm=number)  # fmt: skip
        learner.update(float32)  # (a Fraction's product with a tensor failed)
    for setting in (torch.tensor(0.01), True):  # a tensor is no setting, as for gamma
        with pytest.raises(ValueError, match=r"entropy_coef=.* must be a finite number >= 0"):
            Reinforce(policy, optimizer=torch.optim.SGD([policy.weight], lr=0.1), entropy_coef=setting)
    with pytest.raises(ValueError, match="the optimizer must hold the policy's parameter"):
        Reinforce(policy, optimizer=torch.optim.SGD([torch.zeros(3, 2, requires_grad=True)], lr=0.1))
    with pytest.raises(
        ValueError, match="one entry per step in each field; got inputs 5, states 3, actions 5"
    ):
        EpisodeBatch(batch.inputs, batch.states[:3], batch.actions, batch.rewards, batch.dones)
