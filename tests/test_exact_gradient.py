"""The exact policy gradient of tabular MDPs, and REINFORCE measured against it."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from statistics import NormalDist

import gymnasium as gym
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy
from agents.errors import UserError
from agents.features.inputs import PolicyInputs
from agents.features.maps import make_feature_map
from agents.runtime.build import build_learner
from agents.runtime.config import AgentConfig
from agents.runtime.rollout import collect_episodes
from agents.studies.exact_gradient import (
    SHORT_CORRIDOR_BEST_P,
    SHORT_CORRIDOR_BEST_VALUE,
    exact_gradient_autograd,
    exact_gradient_pg_theorem,
    short_corridor_start_value,
    start_value,
    tabular_mdp,
    tabular_problem,
)
from agents.studies.gradient_variance import (
    SHORT_CORRIDOR_P_RANGE,
    BatchSizeRow,
    episode_gradients,
    expected_episode_steps,
    format_study,
    plot_study,
    run_study,
    study_bytes,
    study_problem,
)
from envs.make import check_env_id

ROOT = Path(__file__).resolve().parent.parent


def corridor(prob_right: float = 0.5):
    problem = tabular_problem("ShortCorridor-v0", "action")
    with torch.no_grad():
        problem.policy.theta.copy_(
            torch.tensor([math.log(prob_right / (1 - prob_right)), 0.0], dtype=torch.float64)
        )
    return problem


def frozen_lake(gamma: float, seed: int = 0):
    problem = tabular_problem("FrozenLake-v1", "state", gamma, {"is_slippery": False})
    with torch.no_grad():
        problem.policy.weight.normal_(generator=torch.Generator().manual_seed(seed))
    return problem


@pytest.mark.parametrize("prob_right", [0.1, 0.3, 0.5, 2 - math.sqrt(2), 0.9])
def test_linear_solve_matches_the_closed_form_value(prob_right):
    problem = corridor(prob_right)
    value = start_value(problem.policy, problem.mdp, problem.state_inputs, problem.policy.theta.detach())
    assert float(value) == pytest.approx(short_corridor_start_value(prob_right), rel=1e-12)


def test_start_value_is_maximal_at_p_two_minus_root_two():
    p = torch.linspace(0.01, 0.99, 98_001, dtype=torch.float64)
    values = short_corridor_start_value(p)
    assert float(p[values.argmax()]) == pytest.approx(2 - math.sqrt(2), abs=1e-5)
    assert float(values.max()) == pytest.approx(-(6 + 4 * math.sqrt(2)), abs=1e-8)
    assert abs(SHORT_CORRIDOR_BEST_P - 0.5858) < 1e-4
    assert abs(SHORT_CORRIDOR_BEST_VALUE + 11.657) < 1e-3
    problem = corridor(SHORT_CORRIDOR_BEST_P)  # the exact gradient vanishes at the maximum
    gradient = exact_gradient_autograd(problem.policy, problem.mdp, problem.state_inputs)
    assert gradient.abs().max() < 1e-12


def test_exact_gradient_at_the_uniform_policy_by_hand():
    # dv/dp = 8 at p = 1/2 and dp/dtheta = p (1 - p) [1, -1] = [1/4, -1/4]
    problem = corridor(0.5)
    expected = torch.tensor([2.0, -2.0], dtype=torch.float64)
    for gradient in (
        exact_gradient_autograd(problem.policy, problem.mdp, problem.state_inputs),
        exact_gradient_pg_theorem(problem.policy, problem.mdp, problem.state_inputs),
    ):
        torch.testing.assert_close(gradient, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "make_problem",
    [lambda: corridor(0.27), lambda: frozen_lake(1.0), lambda: frozen_lake(0.9, seed=1)],
    ids=["short_corridor", "frozen_lake_gamma1", "frozen_lake_gamma0.9"],
)
def test_autograd_through_the_solve_equals_the_policy_gradient_theorem(make_problem):
    problem = make_problem()
    by_autograd = exact_gradient_autograd(problem.policy, problem.mdp, problem.state_inputs)
    by_theorem = exact_gradient_pg_theorem(problem.policy, problem.mdp, problem.state_inputs)
    assert by_autograd.shape == problem.policy.param.shape
    assert by_autograd.abs().max() > 1e-4  # not trivially zero
    torch.testing.assert_close(by_autograd, by_theorem, rtol=0, atol=1e-12)


@pytest.mark.parametrize("make_problem", [lambda: corridor(0.27), lambda: frozen_lake(0.9, seed=2)])
def test_exact_gradient_matches_central_finite_differences(make_problem):
    problem = make_problem()
    param = problem.policy.param.detach()
    gradient = exact_gradient_autograd(problem.policy, problem.mdp, problem.state_inputs)
    step = 1e-5  # central differences: error ~ step^2 |v'''| + eps |v| / step
    for index in range(param.numel()):
        shift = torch.zeros(param.numel(), dtype=torch.float64)
        shift[index] = step
        shift = shift.reshape(param.shape)
        plus = start_value(problem.policy, problem.mdp, problem.state_inputs, param + shift)
        minus = start_value(problem.policy, problem.mdp, problem.state_inputs, param - shift)
        expected = float(gradient.reshape(-1)[index])
        assert float((plus - minus) / (2 * step)) == pytest.approx(expected, rel=1e-7, abs=1e-9)


def test_env_without_transition_table_is_a_user_error():
    with pytest.raises(UserError, match="no transition table"):
        tabular_mdp(gym.make("CartPole-v1"))


def _reinforce_gradient(problem, batch, gamma: float) -> torch.Tensor:
    """The gradient the project's learner computes (textbook settings): -param.grad after update."""
    cfg = AgentConfig(gamma=gamma, optimizer="sgd", lr=1e-9, normalize_returns=False, discount_weighting=True)
    build_learner(problem.policy, cfg, problem.inputs.feature_map.dim).update(batch)
    return -problem.policy.param.grad


@pytest.mark.parametrize(
    ("make_problem", "gamma", "num_episodes"),
    [(lambda: corridor(0.4), 1.0, 3000), (lambda: frozen_lake(0.95, seed=3), 0.95, 3000)],
    ids=["short_corridor", "frozen_lake"],
)
def test_reinforce_mean_matches_the_exact_gradient_within_three_standard_errors(
    make_problem, gamma, num_episodes
):
    problem = make_problem()
    exact = exact_gradient_autograd(problem.policy, problem.mdp, problem.state_inputs)
    batch, _ = collect_episodes(problem.env, problem.inputs, problem.policy, num_episodes, seed=0)
    estimates = episode_gradients(problem.policy, batch, gamma)  # [M, *param]
    mean, standard_error = estimates.mean(0), estimates.std(0) / math.sqrt(num_episodes)
    visited = standard_error > 0
    assert visited.any()
    assert ((mean - exact).abs()[visited] <= 3 * standard_error[visited]).all(), (mean, exact, standard_error)
    assert (mean[~visited] == 0).all() and (exact[~visited].abs() < 1e-12).all()
    # the learner's own estimate (agents/core/reinforce.py, textbook settings) is the same mean
    torch.testing.assert_close(_reinforce_gradient(problem, batch, gamma), mean, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    ("env_id", "form"), [("CartPole-v1", "state"), ("CartPole-v1", "action"), ("ShortCorridor-v0", "action"),
                         ("Acrobot-v1", "state")],
)  # fmt: skip
def test_expected_score_is_zero_on_real_states(env_id, form):
    """E_{a~pi}[grad log pi(a|s)] = sum_a pi(a|s) score(s, a) = 0 for every state, both paths."""
    info = check_env_id(env_id)
    feature_map = make_feature_map(type("F", (), {"name": "auto", "bias": True})(), info.observation_space)
    inputs = PolicyInputs(feature_map, form, info.n_actions, info.action_features)
    policy = (
        LinearSoftmaxPolicy(inputs.dim, info.n_actions, torch.float64)
        if form == "state"
        else ActionFeatureSoftmaxPolicy(inputs.dim, torch.float64)
    )
    with torch.no_grad():
        policy.param.normal_(generator=torch.Generator().manual_seed(0))
    batch, _ = collect_episodes(gym.make(env_id), inputs, policy, 50, seed=0, max_steps=200)
    states, actions = batch.inputs.shape[0], info.n_actions
    every_action = batch.inputs.repeat_interleave(actions, dim=0)
    action_ids = torch.arange(actions).repeat(states)
    weights = policy.probs(batch.inputs).detach().reshape(-1, *[1] * policy.param.dim())
    for score_fn in (policy.score, policy.autograd_score):
        scores = score_fn(every_action, action_ids).detach() * weights
        expected = scores.reshape(states, actions, *policy.param.shape).sum(1)
        assert expected.abs().max() < 1e-12


def test_variance_study_bias_within_standard_errors_and_baseline_helps(tmp_path):
    study = run_study("ShortCorridor-v0", "action", prob_right=0.3, num_episodes=1000, seed=1)
    plain, based = study.rows["no baseline"], study.rows["baseline v_pi(s)"]
    assert [row.episodes for row in plain] == [1, 2, 4, 8, 16, 32, 64]
    assert all(row.max_z < 3 for row in plain + based)
    assert based[0].variance < plain[0].variance
    assert plain[3].variance == pytest.approx(plain[0].variance / 8, rel=0.5)  # ~ Var_1 / N
    text = format_study(study)
    assert "exact grad J(theta)" in text and "variance per episode" in text
    assert plot_study(study, tmp_path).stat().st_size > 10_000


def test_an_interrupted_plot_leaves_the_earlier_figure_whole(tmp_path, monkeypatch):
    """A Ctrl-C while the figure was saved left half a gradient_variance.png."""
    from matplotlib.figure import Figure

    study = run_study(num_episodes=64)
    earlier = plot_study(study, tmp_path).read_bytes()

    def half_then_interrupted(self: Figure, path: Path, **kwargs: object) -> None:
        Path(path).write_bytes(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Figure, "savefig", half_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        plot_study(study, tmp_path)
    assert [path.name for path in tmp_path.iterdir()] == ["gradient_variance.png"]  # no temporary left
    assert (tmp_path / "gradient_variance.png").read_bytes() == earlier


def test_the_report_says_how_the_baseline_changed_the_variance_and_when_vectors_are_left_out():
    """p=0.05 printed "(0.5x lower)" for a baseline that doubled the variance; FrozenLake-v1 printed
    "exact grad J(theta) = |grad J| = ..." with its 64 components left out unsaid."""
    study = run_study(prob_right=0.05, num_episodes=20)
    without, with_baseline = (rows[0].variance for rows in study.rows.values())
    assert with_baseline > without
    assert format_study(study).endswith(f"({with_baseline / without:.1f}x higher)")
    frozen = run_study("FrozenLake-v1", "state", num_episodes=20, env_kwargs={"is_slippery": False})
    line = format_study(frozen).splitlines()[1]
    assert (
        line.startswith("exact grad J(theta): 64 components (not shown), |grad J| = ") and "theta = 0" in line
    )
    # 10 episodes reach FrozenLake's goal in none: every estimate without the baseline is 0 (was a
    # ZeroDivisionError traceback)
    unrewarded = run_study("FrozenLake-v1", "state", num_episodes=10, seed=1)
    without, with_baseline = (rows[0].variance for rows in unrewarded.rows.values())
    assert without == 0 and with_baseline > 0
    assert format_study(unrewarded).endswith(
        "(raised from 0: every estimate without it was the same; use more episodes)"
    )


def _corridor_cut_probability(prob_right: float, steps: int = 1000) -> float:
    """P(an episode from state 0 has not reached the goal after ``steps`` steps): ``e_0^T Q^steps 1``
    with ``Q`` the transitions among states 0, 1, 2 (right with ``p``; state 1 switched)."""
    p, q = prob_right, 1 - prob_right
    transitions = np.array([[q, p, 0.0], [p, 0.0, q], [0.0, q, 0.0]])
    return float(np.linalg.matrix_power(transitions, steps)[0].sum())


def test_p_range_keeps_the_time_limit_out_of_the_study():
    low, high = SHORT_CORRIDOR_P_RANGE
    assert _corridor_cut_probability(low) < 1e-6 and _corridor_cut_probability(high) < 1e-6
    assert _corridor_cut_probability(low / 2) > 1e-6 and _corridor_cut_probability(1 - (1 - high) / 2) > 1e-6
    for prob_right in (low, high):  # both ends run
        study = run_study(prob_right=prob_right, num_episodes=64)  # (too few for a z: their skew)
        assert all(
            math.isfinite(row.variance) and row.variance > 0 for rows in study.rows.values() for row in rows
        )
    for prob_right in (1e-6, 1e-12, 1e-300, 0.999999999):  # a traceback before: all estimates equal
        with pytest.raises(UserError, match=rf"use p in \[{low}, {high}\]"):
            run_study(prob_right=prob_right, num_episodes=50)


def test_the_study_refuses_episodes_it_cannot_hold_from_their_expected_length():
    """``episodes=10**9`` grew by 15 MB/s until the machine ran out of memory."""
    for prob_right in (0.05, 0.5, 0.97):  # expected length = -v(s0): reward -1 a step, gamma = 1
        problem = study_problem(prob_right=prob_right)
        assert expected_episode_steps(problem) == pytest.approx(-short_corridor_start_value(prob_right))
        assert study_bytes(problem, 2000) == pytest.approx(2 * study_bytes(problem, 1000), abs=1)
    frozen = study_problem("FrozenLake-v1", "state", env_kwargs={"is_slippery": False})
    assert 1 <= expected_episode_steps(frozen) <= 100  # at most its time limit
    assert study_bytes(frozen, 1) > study_bytes(study_problem(), 1)  # x(s) [16], W [16, 4] vs phi [2, 2]
    with pytest.raises(UserError, match=r"^episodes=1000000000 on ShortCorridor-v0 would need about .* GiB"):
        run_study(num_episodes=10**9)


def test_max_z_without_any_variance_is_nan():
    row = BatchSizeRow(1, 10, torch.ones(2), torch.zeros(2), 0.0, 1.0, torch.zeros(2, dtype=torch.bool))
    assert math.isnan(row.max_z)


def test_the_z_test_leaves_out_skewed_components_and_allows_for_how_many_it_reads(tmp_path, monkeypatch):
    """FrozenLake's estimates of some components are nonzero in a few episodes only (its goal is
    rare): seed 4's 2000 episodes gave max|z| = 5.1 under "< 3: unbiased" for a bias of 0 (one
    nonzero episode: its standard error equals its mean), the maximum of 64 components was held to
    one component's 3, and its plot's evaluated point fell outside the axes for p < 0.094."""
    study = run_study("FrozenLake-v1", "state", num_episodes=2000, seed=4, env_kwargs={"is_slippery": False})
    for rows in study.rows.values():
        first = rows[0]
        assert 0 < int(first.tested.sum()) < 64 and first.max_z < first.z_limit
        assert first.z_limit == pytest.approx(
            NormalDist().inv_cdf(1 - 0.0027 / (2 * int(first.tested.sum()))), 1e-3
        )
    text = format_study(study)
    assert "of 64 components: below" in text and "Cochran: episodes > 25 skewness^2" in text
    corridor = run_study(num_episodes=200)
    assert corridor.rows["no baseline"][0].z_limit == pytest.approx(3.21, abs=0.005)  # 2 components
    assert "  max|z| read over both components: below 3.21 where the bias is 0" in format_study(corridor)
    axes_seen, savefig = [], Figure.savefig

    def saved(figure: Figure, *args: object, **kwargs: object) -> None:
        axes_seen.extend(figure.axes)
        savefig(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", saved)
    corridor = run_study(prob_right=0.05, num_episodes=50)
    plot_study(corridor, tmp_path)
    low, high = axes_seen[2].get_ylim()
    assert low < corridor.value < high  # v = -82.1 at p = 0.05


@pytest.mark.slow  # ~10 s: the quick suite stays under 5 minutes on 2 cores
def test_gradient_variance_script(tmp_path):
    script = str(ROOT / "scripts" / "gradient_variance.py")
    completed = subprocess.run(
        [sys.executable, script, "episodes=200", f"out={tmp_path}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert "exact grad J(theta) = [+2.0000, -2.0000]" in completed.stdout
    assert (tmp_path / "gradient_variance.png").is_file()
    bad = subprocess.run(
        [sys.executable, script, "p=1.5"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.strip() == "error: p=1.5 must lie strictly between 0 and 1"


def test_frozen_lake_uniform_policy_value_is_the_success_probability():
    problem = tabular_problem("FrozenLake-v1", "state", 1.0, {"is_slippery": False})
    value = float(
        start_value(problem.policy, problem.mdp, problem.state_inputs, problem.policy.param.detach())
    )
    assert 0 < value < 0.1
    batch, _ = collect_episodes(problem.env, problem.inputs, problem.policy, 4000, seed=0)
    successes = float(batch.rewards.sum()) / 4000  # reward 1 only on reaching the goal
    assert abs(successes - value) < 3 * np.sqrt(value * (1 - value) / 4000)


def test_tabular_problem_refuses_another_form_and_a_gamma_outside_0_1():
    """``form="mlp"`` built the action form, which then failed in einsum; ``gamma=1.5`` gave
    FrozenLake a start value of 1.22, above the most an episode earns."""
    with pytest.raises(
        UserError, match="form='mlp': the exact gradient takes the linear forms, state or action"
    ):
        tabular_problem("FrozenLake-v1", "mlp")
    with pytest.raises(ValueError, match=r"gamma=1\.5 must be a number in \[0, 1\]"):
        tabular_problem("FrozenLake-v1", "state", 1.5)
