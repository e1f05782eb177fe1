r"""Do the two score paths agree? The comparison shared by the live check and the comparison script.

For one batch, :func:`compare_scores` computes ``grad log pi(A_t|S_t)`` per sample with the
closed form (``policy.score``) and with autograd (``policy.autograd_score``) and measures::

    abs_t = max_k |score_t[k] - autograd_t[k]|                  per-sample discrepancy
    rel_t = abs_t / max(max_k |autograd_t[k]|, tiny)
    sample t fails when abs_t > tol * max(1, max_k |autograd_t[k]|)   (i.e. abs_t > tol and rel_t > tol)
    g     = sum_t c_t score_t,   g' = sum_t c_t autograd_t      batch gradients, as policy_gradient
    cos   = <g, g'> / (|g| |g'|)

:func:`check_batch_gradients` is the trainer's live check (``diagnostics.check_gradients_every``):
with ``c_t = G_t / M`` (discounted returns of the batch's ``M`` episodes) it returns the worst
discrepancy and the cosine, and stops the run with a :class:`~agents.errors.UserError` when a
sample fails.

The tolerance is absolute for scores of size up to 1 and relative above (as ``numpy.isclose``
with ``atol = rtol = tol``): a float32 score of size 50 carries rounding errors near
``50 * 1e-7 * (depth)``, so a purely absolute ``1e-4`` failed right math at large parameter scales,
while a wrong formula errs by the size of the score itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from agents.core.batch import EpisodeBatch
from agents.core.policies import SoftmaxPolicy
from agents.core.returns import discounted_returns
from agents.errors import UserError

DEFAULT_TOLERANCES = {torch.float64: 1e-10, torch.float32: 1e-4}
"""Discrepancy allowed per dtype when ``diagnostics.tolerance`` is 0 (absolute up to 1, relative above)."""


def default_tolerance(dtype: torch.dtype, tolerance: float = 0.0) -> float:
    """``tolerance`` when positive, else :data:`DEFAULT_TOLERANCES` for ``dtype``."""
    return tolerance if tolerance > 0 else DEFAULT_TOLERANCES.get(dtype, 1e-4)


@dataclass
class ScoreComparison:
    """Closed form against autograd on one batch."""

    abs_discrepancy: Tensor
    """``abs_t``: per-sample max abs difference, ``[B]`` float64."""
    rel_discrepancy: Tensor
    """``rel_t``: ``abs_t`` relative to the sample's largest autograd entry, ``[B]`` float64."""
    cosine_similarity: float
    """Cosine of the two batch gradients ``g`` and ``g'``."""

    @property
    def max_abs_discrepancy(self) -> float:
        return float(self.abs_discrepancy.max()) if self.abs_discrepancy.numel() else 0.0

    @property
    def max_rel_discrepancy(self) -> float:
        return float(self.rel_discrepancy.max()) if self.rel_discrepancy.numel() else 0.0

    def failing(self, tolerance: float) -> Tensor:
        """Indices of the samples whose discrepancy exceeds ``tolerance`` both absolutely and
        relatively to the sample's largest autograd entry (NaN counts as failing)."""
        within = (self.abs_discrepancy <= tolerance) | (self.rel_discrepancy <= tolerance)
        return torch.nonzero(~within).reshape(-1)


def cosine_similarity(first: Tensor, second: Tensor) -> float:
    """``<a, b> / (|a| |b|)`` in float64 over all entries, clamped to [-1, 1] (rounding gave
    1.0000000000000002 for equal vectors, which compare-gradients printed); 1 when both are zero;
    NaN stays NaN."""
    first, second = first.reshape(-1).double(), second.reshape(-1).double()
    norms = first.norm() * second.norm()
    if norms == 0:
        return 1.0 if first.norm() == second.norm() else 0.0
    return float((first @ second / norms).clamp(-1.0, 1.0))


@torch.no_grad()
def compare_scores(
    policy: SoftmaxPolicy, inputs: Tensor, actions: Tensor, coefficients: Tensor
) -> ScoreComparison:
    """Both score paths on one batch; see the module docstring for the formulas.

    :param inputs: policy inputs ``[B, d]`` or ``[B, A, d]``; ``actions``: ``[B]``.
    :param coefficients: ``c_t`` ``[B]`` contracting the scores into batch gradients.
    """
    closed = policy.score(inputs, actions)  # [B, *param]
    reference = policy.autograd_score(inputs, actions)  # [B, *param]
    abs_discrepancy = (closed - reference).abs().flatten(1).amax(1).double()  # abs_t   [B]
    scale = reference.abs().flatten(1).amax(1).double().clamp_min(torch.finfo(reference.dtype).tiny)
    cosine = cosine_similarity(
        torch.tensordot(coefficients, closed, dims=1), torch.tensordot(coefficients, reference, dims=1)
    )
    return ScoreComparison(abs_discrepancy, abs_discrepancy / scale, cosine)


def check_batch_gradients(
    policy: SoftmaxPolicy, batch: EpisodeBatch, gamma: float, tolerance: float = 0.0
) -> ScoreComparison:
    """The trainer's live check on an update batch: compare both paths with ``c_t = G_t / M``;
    raise :class:`UserError` when a sample fails (``tolerance`` 0 = 1e-10 for float64, 1e-4 for
    float32; absolute up to 1, relative above)."""
    limit = default_tolerance(policy.param.dtype, tolerance)
    coefficients = discounted_returns(batch.rewards, gamma, batch.dones) / max(batch.num_episodes, 1)
    comparison = compare_scores(policy, batch.inputs, batch.actions, coefficients)
    failing = comparison.failing(limit)
    if failing.numel():
        worst = int(failing[comparison.abs_discrepancy[failing].nan_to_num(float("inf")).argmax()])
        off, relative = float(comparison.abs_discrepancy[worst]), float(comparison.rel_discrepancy[worst])
        raise UserError(
            f"gradient check failed: policy.score and policy.autograd_score differ by {off:.3g} (relative "
            f"{relative:.3g}) > tolerance {limit:.3g} on {failing.numel()} of {batch.actions.shape[0]} "
            f"samples (worst: step {worst}, cosine {comparison.cosine_similarity:.6f}); "
            "the closed-form score is wrong for this policy (check with scripts/compare_gradients.py) "
            "or raise diagnostics.tolerance"
        )
    return comparison
