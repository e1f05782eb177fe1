"""The live gradient check: score vs autograd_score on update batches during training."""

from __future__ import annotations

import math
import re

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy
from agents.core.score_check import ScoreComparison, compare_scores, cosine_similarity, default_tolerance
from agents.errors import UserError
from agents.runtime import tags
from agents.runtime.run import train


def test_tolerance_defaults():
    assert default_tolerance(torch.float64) == 1e-10
    assert default_tolerance(torch.float32) == 1e-4
    assert default_tolerance(torch.float32, 1e-3) == 1e-3


def test_tolerance_is_absolute_up_to_one_and_relative_above():
    """As ``numpy.isclose`` with atol = rtol = tol: float32 rounding grows with the score's size
    (compare_gradients agent.policy=mlp param_scale=50 failed right math on an absolute 1e-4)."""
    comparison = ScoreComparison(
        abs_discrepancy=torch.tensor([5e-5, 2e-4, 2e-4, 2e-3, float("nan")], dtype=torch.float64),
        rel_discrepancy=torch.tensor([5e-5, 2e-4, 2e-6, 2e-4, float("nan")], dtype=torch.float64),
        cosine_similarity=1.0,
    )  # sample 2: size 100, off by 2e-6 of it; sample 3: size 10, off by 2e-4 of it
    assert comparison.failing(1e-4).tolist() == [1, 3, 4]


def test_a_nan_score_fails_the_check(make_config, generator, monkeypatch):
    """A sample whose closed-form score is nan fails (a comparison ``abs > tol`` would let it pass)."""
    right = LinearSoftmaxPolicy.score

    def nan_on_sample_two(self, features, actions):
        scores = right(self, features, actions).clone()
        scores[2] = float("nan")
        return scores

    monkeypatch.setattr(LinearSoftmaxPolicy, "score", nan_on_sample_two)
    policy = LinearSoftmaxPolicy(4, 2, torch.float64)
    features = torch.randn(8, 4, dtype=torch.float64, generator=generator)
    actions = torch.randint(2, (8,), generator=generator)
    comparison = compare_scores(policy, features, actions, torch.ones(8, dtype=torch.float64))
    assert comparison.failing(1e-10).tolist() == [2]
    with pytest.raises(UserError, match="gradient check failed"):
        train(make_config("diagnostics.check_gradients_every=1", "budget.total_env_steps=500"))


def test_cosine_similarity():
    a = torch.tensor([1.0, 2.0])
    assert cosine_similarity(a, 3 * a) == pytest.approx(1.0)
    assert cosine_similarity(a, -a) == pytest.approx(-1.0)
    assert cosine_similarity(torch.zeros(2), torch.zeros(2)) == 1.0
    rounded = torch.tensor([0.1, 0.1, 0.3], dtype=torch.float64)  # <a, a> / |a|^2 rounds to 1 + 2**-52
    assert cosine_similarity(rounded, rounded) == 1.0 and cosine_similarity(rounded, -rounded) == -1.0
    assert math.isnan(cosine_similarity(torch.tensor([1.0, math.nan]), torch.ones(2)))


def test_compare_scores_on_both_forms(generator):
    features = torch.randn(32, 4, dtype=torch.float64, generator=generator)
    actions = torch.randint(3, (32,), generator=generator)
    coefficients = torch.randn(32, dtype=torch.float64, generator=generator)
    state_policy = LinearSoftmaxPolicy(4, 3, torch.float64)
    action_policy = ActionFeatureSoftmaxPolicy(4, torch.float64)
    with torch.no_grad():
        state_policy.weight.normal_(generator=generator)
        action_policy.theta.normal_(generator=generator)
    action_features = torch.randn(32, 3, 4, dtype=torch.float64, generator=generator)
    for policy, inputs in ((state_policy, features), (action_policy, action_features)):
        comparison = compare_scores(policy, inputs, actions, coefficients)
        assert comparison.abs_discrepancy.shape == (32,)
        assert comparison.max_abs_discrepancy < 1e-14 and comparison.max_rel_discrepancy < 1e-13
        assert comparison.cosine_similarity == pytest.approx(1.0, abs=1e-14)
        assert comparison.failing(1e-10).numel() == 0


def test_run_with_live_check_logs_both_tags(make_config):
    result = train(make_config("diagnostics.check_gradients_every=1", "agent.dtype=float64",
                               "budget.total_env_steps=1000"))  # fmt: skip
    events = EventAccumulator(str(result.run_dir)).Reload()
    discrepancies = events.Scalars(tags.GRAD_DISCREPANCY)
    cosines = events.Scalars(tags.GRAD_COSINE)
    assert len(discrepancies) == len(cosines) == result.updates > 0
    assert max(event.value for event in discrepancies) < 1e-10
    assert min(event.value for event in cosines) > 1 - 1e-6  # float32 event storage


def test_live_check_every_n_updates_and_off_by_default(make_config, tmp_path):
    every_3 = train(make_config("diagnostics.check_gradients_every=3", "budget.total_env_steps=600",
                                f"run_dir={tmp_path / 'a'}"))  # fmt: skip
    events = EventAccumulator(str(every_3.run_dir)).Reload()
    assert len(events.Scalars(tags.GRAD_DISCREPANCY)) == (every_3.updates + 2) // 3
    default = train(make_config("budget.total_env_steps=300", f"run_dir={tmp_path / 'b'}"))
    assert tags.GRAD_DISCREPANCY not in EventAccumulator(str(default.run_dir)).Reload().Tags()["scalars"]


def test_broken_score_stops_the_run_with_a_clear_message(make_config, monkeypatch, tmp_path):
    right = LinearSoftmaxPolicy.score
    monkeypatch.setattr(LinearSoftmaxPolicy, "score", lambda self, x, a: right(self, x, a) * 1.01)
    with pytest.raises(
        UserError, match=r"gradient check failed: policy.score and policy.autograd_score differ by"
    ) as raised:
        train(make_config("diagnostics.check_gradients_every=1", "budget.total_env_steps=1000",
                          f"run_dir={tmp_path / 'run'}"))  # fmt: skip
    assert str(raised.value).endswith(f"; the last good state is in {tmp_path / 'run' / 'checkpoint.pt'}")


def test_a_broken_score_in_one_of_num_seeds_names_that_seed(make_config, monkeypatch, tmp_path):
    """The exact seeds' line did not say which seed's check failed, nor where each was saved."""
    right = LinearSoftmaxPolicy.score
    monkeypatch.setattr(LinearSoftmaxPolicy, "score", lambda self, x, a: right(self, x, a) * 1.01)
    with pytest.raises(UserError, match="gradient check failed") as raised:
        train(make_config("diagnostics.check_gradients_every=1", "budget.total_env_steps=1000", "num_seeds=2",
                          f"run_dir={tmp_path / 'run'}"))  # fmt: skip
    failed = re.search(r"; seed (\d)'s last good state is in (\S+), every other seed's in", str(raised.value))
    assert failed and failed[2] == str(tmp_path / "run" / f"seed{failed[1]}" / "checkpoint.pt"), raised.value
    assert all((tmp_path / "run" / f"seed{seed}" / "checkpoint.pt").is_file() for seed in (0, 1))


def test_broken_score_within_a_loose_tolerance_runs(make_config, monkeypatch):
    right = LinearSoftmaxPolicy.score
    monkeypatch.setattr(LinearSoftmaxPolicy, "score", lambda self, x, a: right(self, x, a) + 1e-6)
    result = train(make_config("diagnostics.check_gradients_every=1", "diagnostics.tolerance=1e-3",
                               "budget.total_env_steps=300"))  # fmt: skip
    assert result.updates > 0
