"""Sutton & Barto Figures 13.1/13.2 (agents/studies/sutton_barto.py): the per-step rule against a step by
hand, the batched episode generator against the env, a small reproduction (shapes, CSV, learning)
and, marked slow, the full figures against the book's numbers."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
import torch

from agents.core.policies import ActionFeatureSoftmaxPolicy
from agents.errors import UserError
from agents.studies import sutton_barto
from agents.studies.sutton_barto import (
    FIGURE_13_1,
    FIGURE_13_2,
    OPTIMAL_VALUE,
    Curve,
    CurveResult,
    Reproduction,
    check_memory,
    format_finals,
    generate_episodes,
    per_step_update,
    reproduce,
    run_curves,
    transition_tables,
)
from envs.short_corridor import LEFT, RIGHT, ShortCorridorEnv

PHI = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)  # rows: left, right


def test_optimal_value_is_the_closed_form_maximum():
    p = 2 - math.sqrt(2)
    assert math.isclose(OPTIMAL_VALUE, (2 * p - 4) / (p * (1 - p)))
    assert math.isclose(OPTIMAL_VALUE, -11.657, abs_tol=1e-3)


def test_per_step_update_matches_a_step_by_hand():
    # pi(right) = 0.05; A_t = right, G_t = -3, gamma^t = 0.5, w = -1:
    # delta = -3 - (-1) = -2; w <- -1 + alpha_w * -2; score(right) = phi(right) - E[phi] = [0.95, -0.95]
    policy = ActionFeatureSoftmaxPolicy(2, dtype=torch.float64)
    theta = torch.tensor([[math.log(0.05 / 0.95), 0.0], [0.0, 0.0]], dtype=torch.float64)
    new_theta, new_weight = per_step_update(
        policy, theta, torch.tensor([-1.0, 0.0], dtype=torch.float64), PHI.expand(2, 2, 2),
        torch.tensor([RIGHT, LEFT]), torch.tensor([-3.0, -3.0], dtype=torch.float64),
        torch.tensor([0.5, 1.0], dtype=torch.float64), torch.tensor([0.1, 0.1], dtype=torch.float64),
        torch.tensor([0.25, 0.0], dtype=torch.float64),
    )  # fmt: skip
    expected_run0 = theta[0] + 0.1 * 0.5 * -2.0 * torch.tensor([0.95, -0.95], dtype=torch.float64)
    # run 1 has no baseline (alpha_w = 0): delta = G_t; pi = 0.5, score(left) = [-0.5, 0.5]
    expected_run1 = theta[1] + 0.1 * 1.0 * -3.0 * torch.tensor([-0.5, 0.5], dtype=torch.float64)
    torch.testing.assert_close(new_theta, torch.stack([expected_run0, expected_run1]))
    torch.testing.assert_close(new_weight, torch.tensor([-1.0 + 0.25 * -2.0, 0.0], dtype=torch.float64))


def test_generated_episodes_follow_the_env_dynamics():
    env = ShortCorridorEnv()
    tables = transition_tables(env.P)
    probs = np.array([[0.3, 0.7]] * 50)
    batch = generate_episodes(tables, probs, np.random.default_rng(0), cap=1000)
    for actions, rewards, length in zip(batch.actions, batch.rewards, batch.lengths, strict=True):
        env.reset(seed=0)
        for t in range(length):
            _, reward, terminated, _, _ = env.step(int(actions[t]))
            assert reward == rewards[t] == -1.0
            assert terminated == (t == length - 1)
        assert (rewards[length:] == 0).all()
    assert batch.dones.sum() == 50 and not batch.truncated.any()


def test_runaway_episodes_are_cut_at_the_cap():
    tables = transition_tables(ShortCorridorEnv().P)
    batch = generate_episodes(tables, np.array([[1.0, 0.0], [0.0, 1.0]]), np.random.default_rng(0), cap=25)
    np.testing.assert_array_equal(batch.lengths, [25, 25])  # always left / always right: never ends
    np.testing.assert_array_equal(batch.truncated, [True, True])
    np.testing.assert_array_equal(batch.rewards.sum(1), [-25.0, -25.0])


@pytest.mark.slow
def test_small_reproduction_learns_and_writes_figures_and_csv(tmp_path):
    made = reproduce(tmp_path, runs=6, episodes=120, seed=0)
    assert [r.curve for r in made.figure_13_1] == list(FIGURE_13_1)
    assert [r.curve for r in made.figure_13_2] == list(FIGURE_13_2)
    assert made.figure_13_1[1] is made.figure_13_2[1]  # the shared alpha = 2^-13 curve runs once
    for path in made.files:
        assert path.exists() and path.stat().st_size > 0
    with made.files[2].open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["config", "episode", "mean_return", "standard_error"]
    assert len(rows) == 4 * 120 and {row["episode"] for row in rows} == {str(e) for e in range(1, 121)}
    for result in (*made.figure_13_1, *made.figure_13_2):
        assert result.returns.shape == (6, 120) and (result.returns <= -3).all()
    first = made.figure_13_1[0].returns[:, :20].mean()
    assert -120 < first < -50  # the starting policy pi(right) = 0.05 scores about -82
    baseline = made.figure_13_2[0]
    assert baseline.returns[:, -20:].mean() > first + 30  # learning: far better than at the start


def test_an_interrupted_write_leaves_the_earlier_set_whole(tmp_path, monkeypatch):
    """A Ctrl-C while the files were written left a 124-byte figure_13_1.png, or a new
    figure_13_1.png next to the earlier figure_13_2.png and curves.csv (the README's figures)."""
    earlier = {path.name: path.read_bytes() for path in reproduce(tmp_path, runs=2, episodes=30).files}

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(sutton_barto, "write_csv", interrupted)  # the last of the three files
    with pytest.raises(KeyboardInterrupt):
        reproduce(tmp_path, runs=2, episodes=30, seed=1)
    assert {path.name: path.read_bytes() for path in tmp_path.iterdir()} == earlier  # no temporaries


def test_finals_of_one_run_have_no_standard_error_and_one_cut_episode_is_singular():
    """runs=1 printed "+- 0.000", a spread one run cannot have, and "(1 episodes cut at the cap)"."""
    results = [CurveResult(curve, np.full((1, 5), -12.0), truncated=1) for curve in FIGURE_13_1]
    text = format_finals(Reproduction(results, results[:2], []), last=5)
    assert "last 5 episodes, 1 run (v*" in text and "+-" not in text
    assert text.count("-12.000 (1 run: no standard error)  (1 episode cut at the cap)") == 5
    assert math.isnan(results[0].final(5)[1]) and np.isnan(results[0].standard_error()).all()


def test_an_oversized_request_names_the_key_that_outgrew_the_memory():
    """episodes=10**9 said "lower runs"."""
    with pytest.raises(UserError, match=r"of it for the returns of every episode: lower episodes or runs"):
        check_memory(100, 10**9)
    with pytest.raises(UserError, match=r"of it for the runs' current episodes: lower runs \("):
        check_memory(10**8, 1)


def test_an_oversized_request_is_one_line_before_anything_runs(tmp_path):
    """runs=10**8 was a DefaultCPUAllocator traceback after allocating for seconds."""
    with pytest.raises(UserError, match=r"runs=100000000 x episodes=1000 for 4 curves would need about"):
        reproduce(tmp_path / "out", runs=10**8)
    assert not (tmp_path / "out").exists()


def test_same_seed_same_curves():
    curve = [Curve("a", 2**-10)]
    first, second = run_curves(curve, 2, 6, seed=4), run_curves(curve, 2, 6, seed=4)
    np.testing.assert_array_equal(first[0].returns, second[0].returns)


@pytest.mark.slow
def test_full_figures_match_the_book():
    results = run_curves([*FIGURE_13_1, FIGURE_13_2[0]], runs=100, episodes=1000, seed=0)
    finals = {result.curve.label: result.final(100)[0] for result in results}
    # the book: alpha = 2^-12 and the baseline curve end at v*, 2^-13 just below, 2^-14 well below
    assert finals["alpha=2^-12"] == pytest.approx(OPTIMAL_VALUE, abs=0.5)
    assert finals["with baseline alpha_theta=2^-9 alpha_w=2^-6"] == pytest.approx(OPTIMAL_VALUE, abs=0.5)
    assert finals["alpha=2^-13"] == pytest.approx(OPTIMAL_VALUE, abs=1.0)
    assert -20 < finals["alpha=2^-14"] < finals["alpha=2^-13"]
    assert all(result.truncated < 100 for result in results)  # < 0.1% of the 100,000 episodes
