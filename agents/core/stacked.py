r"""REINFORCE for ``N`` independent runs whose parameters are rows of one stacked tensor.

Run ``n`` has its own parameter ``theta[n]`` (a row of ``params [N, *param.shape]``), optimizer
state and episodes; an update takes whichever ``k`` runs have a full batch and does, for each of
them, exactly the step :meth:`agents.core.reinforce.Reinforce.update_batch` does for one run::

    g_n = (1/M_n) sum_{t in run n} w_t A_t grad log pi(A_t|S_t; theta_n)
          + c_H (1/M_n) sum_{t in run n} grad H(pi(.|S_t; theta_n))
    A_t = G_t, standardised over run n's steps when normalize_returns
    theta_n <- theta_n + Adam/SGD step on g_n (clipped to max_grad_norm)

but for all ``k`` runs in a handful of batched tensor calls: the returns and ``gamma^t`` weights
over the runs' episodes laid end to end (episodes are independent), the standardisation as
segment sums, the gradients by the form's hand-derived
``segment_policy_gradient`` (the linear forms take each step's own row, the network ``vmap``s
its ``policy_gradient_with`` over the rows with each run's steps zero-padded;
:mod:`agents.core.segments`), and the optimizer step on the ``k`` rows only
(:class:`RowAdam`, :class:`RowSGD`). ``tests/test_stacked.py`` checks it against ``k`` separate
:class:`~agents.core.reinforce.Reinforce` updates.

The entropy gradient uses ``grad H(pi(.|s)) = -sum_a c_a grad log pi(a|s)`` with
``c_a = pi_a (log pi_a + H)`` (:meth:`~agents.core.policy.SoftmaxPolicy.entropy_gradient`),
i.e. ``policy_gradient_with`` on every (state, action) pair with coefficients ``-c_a``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from agents.core.batch import NumericalError, all_finite, float64_norms, overflowed_state
from agents.core.policy import SoftmaxPolicy, entropy_of
from agents.core.reinforce import check_update_settings
from agents.core.returns import discount_weights, discounted_returns, longest_episode
from agents.core.segments import map_over_segments, segment_sum, standardize_segments

StackedGradientFn = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
"""``(param, inputs, actions, coefficients) -> sum_t c_t score_t``, e.g.
``policy.policy_gradient_with``: a pure function of ``param``, so ``vmap`` maps it over rows."""


class RowOptimizer(ABC):
    """An optimizer over the rows of ``params [N, ...]`` that steps only the rows it is given,
    each with its own learning rate and state (rows left out keep theirs)."""

    def __init__(self, params: Tensor) -> None:
        self.params = params

    @abstractmethod
    def ascend(self, rows: Tensor, gradient: Tensor, lrs: Tensor) -> None:
        """Move ``params[rows]`` along ``gradient [k, ...]`` (ascent) with step sizes ``lrs [k]``."""

    @abstractmethod
    def row_state(self, row: int) -> dict[str, object]:
        """Row ``row``'s state in the layout ``torch.optim``'s ``state_dict()`` has for one param."""

    def hyperparameters(self) -> dict[str, object]:
        """The settings besides ``lr`` that ``torch.optim``'s ``param_groups`` record."""
        return {}

    def row_state_dict(self, row: int, lr: float) -> dict[str, object]:
        """Row ``row`` as ``torch.optim``'s ``state_dict()`` of a one-parameter optimizer."""
        state = self.row_state(row)
        group = {"lr": lr, **self.hyperparameters(), "params": [0]}
        return {"state": {0: state} if state else {}, "param_groups": [group]}


class RowSGD(RowOptimizer):
    """``theta_n <- theta_n + alpha_n g_n``: ``torch.optim.SGD`` (no momentum) per row."""

    def ascend(self, rows: Tensor, gradient: Tensor, lrs: Tensor) -> None:
        self.params[rows] += _per_row(lrs.to(gradient.dtype), gradient) * gradient

    def row_state(self, row: int) -> dict[str, object]:
        return {}


class RowAdam(RowOptimizer):
    r"""``torch.optim.Adam`` (defaults: ``beta = (0.9, 0.999)``, ``eps = 1e-8``) on each row, as
    ``Adam([theta_n])`` minimising ``-J`` would step it; step counts are per row::

        m <- beta1 m + (1 - beta1) (-g)          v <- beta2 v + (1 - beta2) g^2
        theta <- theta - alpha / (1 - beta1^k) * m / (sqrt(v) / sqrt(1 - beta2^k) + eps)
    """

    def __init__(self, params: Tensor, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.exp_avg = torch.zeros_like(params)  # m
        self.exp_avg_sq = torch.zeros_like(params)  # v
        self.steps = np.zeros(params.shape[0])  # k per row (on the host: the bias corrections are scalars)

    def ascend(self, rows: Tensor, gradient: Tensor, lrs: Tensor) -> None:
        grad = -gradient  # torch optimizers minimise; we ascend J
        index = rows.cpu().numpy()
        steps = self.steps[index] + 1
        exp_avg = self.exp_avg[rows].lerp_(grad, 1 - self.beta1)  # m (copies: rows is a tensor index)
        exp_avg_sq = self.exp_avg_sq[rows].mul_(self.beta2).addcmul_(grad, grad, value=1 - self.beta2)  # v
        if not (all_finite(exp_avg) and all_finite(exp_avg_sq)):  # checked before anything is written,
            # so the rows keep their last good state (Reinforce's check, :func:`optimizer_state_finite`)
            raise overflowed_state(gradient.dtype, float(float64_norms(gradient.flatten(1)).max()))
        self.steps[index] = steps
        self.exp_avg[rows], self.exp_avg_sq[rows] = exp_avg, exp_avg_sq
        corrections = np.stack(
            [1 - self.beta1**steps, np.sqrt(1 - self.beta2**steps)]
        )  # 1 - beta1^k, sqrt(1 - beta2^k)
        bias1, bias2_sqrt = torch.from_numpy(corrections).to(grad.device)
        step_size = _per_row((lrs.double() / bias1).to(grad.dtype), grad)
        denom = exp_avg_sq.sqrt() / _per_row(bias2_sqrt.to(grad.dtype), grad) + self.eps
        self.params[rows] -= step_size * exp_avg / denom

    def hyperparameters(self) -> dict[str, object]:
        return {"betas": (self.beta1, self.beta2), "eps": self.eps}

    def row_state(self, row: int) -> dict[str, object]:
        if self.steps[row] == 0:
            return {}
        return {"step": torch.tensor(float(self.steps[row])), "exp_avg": self.exp_avg[row].clone(),
                "exp_avg_sq": self.exp_avg_sq[row].clone()}  # fmt: skip


def check_runs(rows: Tensor, dones: Tensor, segments: Tensor, lrs: Tensor, num_rows: int) -> None:
    """``ValueError`` unless the ``k`` ``rows`` are distinct rows of ``num_rows``, with ``k``
    step sizes, and each run's steps are one block (in the order of ``rows``) ending with a done:
    a run whose last episode was cut took the next run's rewards into its returns, and a repeated
    row applied one of its updates."""
    count = rows.shape[0]
    if rows.ndim != 1 or count == 0 or len(set(rows.tolist())) != count:
        raise ValueError(f"rows must be distinct row indices [k]; got {rows.tolist()}")
    if not 0 <= int(rows.min()) <= int(rows.max()) < num_rows:
        raise ValueError(f"rows must be in 0..{num_rows - 1}; got {rows.tolist()}")
    if lrs.shape != (count,):
        raise ValueError(f"lrs must hold one step size per row, shape [{count}]; got {list(lrs.shape)}")
    if segments.shape != dones.shape or dones.ndim != 1:
        raise ValueError(
            f"segments and dones must be [T], one per step; got {list(segments.shape)} and "
            f"{list(dones.shape)}"
        )
    ends = torch.ones_like(dones, dtype=torch.bool)  # each block's last step
    ends[:-1] = segments[1:] != segments[:-1]
    blocks = segments[ends].tolist()  # the run of each block, in order
    if blocks != list(range(count)):
        raise ValueError(
            f"segments must run 0..{count - 1} in blocks, one per row, each run's steps together; got "
            f"the blocks {blocks}"
        )
    if not bool(dones.bool()[ends].all()):
        raise ValueError("an update needs complete episodes: each run's last step must end one (dones)")


class StackedReinforce:
    """The REINFORCE batch update (module docstring) for rows of a stacked parameter.

    :param policy: the form (its ``policy_gradient_with`` and ``probs_with`` are used with each row).
    :param optimizer: a :class:`RowOptimizer` over the stacked parameters.
    :param gradient_fn: ``(param, inputs, actions, coefficients) -> [*param]``; None = the form's
        hand-derived ``policy_gradient_with``.
    :param gamma, normalize_returns, discount_weighting, entropy_coef, max_grad_norm: as for
        :class:`~agents.core.reinforce.Reinforce`.
    """

    def __init__(
        self,
        policy: SoftmaxPolicy,
        *,
        optimizer: RowOptimizer,
        gamma: float = 0.99,
        normalize_returns: bool = False,
        discount_weighting: bool = False,
        entropy_coef: float = 0.0,
        max_grad_norm: float = 0.0,
        gradient_fn: StackedGradientFn | None = None,
    ) -> None:
        check_update_settings(gamma, entropy_coef, max_grad_norm)
        if optimizer.params.shape[1:] != policy.param.shape:
            raise ValueError(
                f"the optimizer's stacked parameters {list(optimizer.params.shape)} must be [N, "
                f"*{list(policy.param.shape)}], one row per run of the policy's parameter"
            )
        self.policy, self.optimizer = policy, optimizer
        self.gamma, self.normalize_returns = gamma, normalize_returns
        self.discount_weighting = discount_weighting
        self.entropy_coef, self.max_grad_norm = float(entropy_coef), float(max_grad_norm)
        self.uses_form_gradient = gradient_fn is None
        """The gradient of the form's :meth:`~agents.core.policy.SoftmaxPolicy.segment_policy_gradient`."""
        self.gradient_fn = gradient_fn or policy.policy_gradient_with

    @property
    def params(self) -> Tensor:
        return self.optimizer.params

    @torch.no_grad()
    def update(
        self, rows: Tensor, inputs: Tensor, actions: Tensor, rewards: Tensor, dones: Tensor,
        segments: Tensor, lrs: Tensor,
    ) -> Tensor:  # fmt: skip
        """One step for each of ``rows`` on its complete episodes; returns ``|g_n|`` ``[k]``.

        :param rows: ``[k]`` rows of the stacked parameters that update.
        :param inputs: ``[T, ...]`` policy inputs of all their steps, each run's episodes end to
            end; ``actions``, ``rewards``, ``dones``: ``[T]``.
        :param segments: ``[T]`` int64, which of the ``k`` runs (0..k-1) step ``t`` belongs to;
            each run's steps contiguous and ending with a ``done``.
        :param lrs: ``[k]`` step sizes.
        """
        count = rows.shape[0]
        check_runs(rows, dones, segments, lrs, len(self.params))
        # G_t, episode by episode (the scan stops at the longest one)
        returns = discounted_returns(rewards, self.gamma, dones, longest_episode(dones))
        advantages = returns
        if self.normalize_returns:
            advantages = standardize_segments(returns, segments, count)
        weights = 1.0
        if self.discount_weighting:  # w_t = gamma^t within each episode
            weights = discount_weights(dones, self.gamma, returns.dtype).to(returns.device)
        episodes = segment_sum(dones.to(returns.dtype), segments, count)  # M_n
        coefficients = (weights * advantages / episodes[segments]).to(inputs.dtype)  # w_t A_t / M_n
        params = self.params[rows]
        if self.uses_form_gradient:
            gradient = self.policy.segment_policy_gradient(params, inputs, actions, coefficients, segments)
        else:
            gradient = map_over_segments(self.gradient_fn, params, segments, inputs, actions, coefficients)
        if self.entropy_coef > 0:
            scale = _per_row((self.entropy_coef / episodes).to(gradient.dtype), gradient)  # c_H / M_n
            ones = torch.ones_like(coefficients)  # padded with zeros: the padding adds nothing
            gradient = gradient + scale * map_over_segments(
                self._entropy_gradient, params, segments, inputs, ones
            )
        norms = gradient.flatten(1).norm(dim=1)
        if not torch.isfinite(norms).all():  # a float32 sum of squares overflows past |g| = 1.8e19
            norms = float64_norms(gradient.flatten(1))
        if not torch.isfinite(norms).all():  # one check per update; say where it came from
            if not torch.isfinite(returns).all():
                raise NumericalError("non-finite returns (rewards overflow?)")
            raise NumericalError("non-finite policy gradient")
        if self.max_grad_norm > 0:
            scale = torch.where(norms > self.max_grad_norm, self.max_grad_norm / norms, 1.0)
            gradient = gradient * _per_row(scale.to(gradient.dtype), gradient)
        self.optimizer.ascend(rows, gradient, lrs)
        if not torch.isfinite(self.params[rows]).all():  # params: a copy (rows is a tensor index), so
            self.params[rows] = params  # the checkpoint keeps the last good parameters, as Reinforce's
            raise NumericalError("the update made the policy parameters non-finite")
        return norms

    def _entropy_gradient(self, param: Tensor, inputs: Tensor, mask: Tensor) -> Tensor:
        r"""``sum_t mask_t grad H(pi(.|S_t))`` at ``param``: ``policy_gradient_with`` over every
        (state, action) pair with coefficients ``-pi_a (log pi_a + H)``."""
        log_probs = torch.log_softmax(self.policy.logits_with(param, inputs), dim=-1)  # [T, A]
        probs = log_probs.exp()
        entropy = entropy_of(log_probs)[:, None]
        coef = torch.where(probs > 0, probs * (log_probs + entropy), 0.0) * mask[:, None]  # c_a  [T, A]
        n_actions = coef.shape[-1]
        every_action = torch.arange(n_actions, device=inputs.device).repeat(inputs.shape[0])  # [T*A]
        return -self.gradient_fn(param, inputs.repeat_interleave(n_actions, 0), every_action, coef.flatten())


def _per_row(values: Tensor, like: Tensor) -> Tensor:
    """``values [k]`` shaped to multiply rows of ``like [k, ...]``."""
    return values.reshape((-1,) + (1,) * (like.dim() - 1))


def lr_at(base_lr: float, schedule: str, fractions: np.ndarray) -> np.ndarray:
    """``agent.lr_schedule`` per run: ``constant`` keeps ``base_lr``; ``linear`` decays it to 0
    at the end of the budget (``fractions`` of it spent, ``[k]``)."""
    if schedule == "linear":
        return base_lr * np.clip(1.0 - fractions, 0.0, None)
    return np.full_like(fractions, base_lr, dtype=np.float64)
