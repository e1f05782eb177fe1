r"""The two linear forms of the softmax family (Sutton & Barto sec. 13.1, eqs. 13.2-13.3).

* :class:`LinearSoftmaxPolicy` -- state features ``x(s)`` and a matrix ``W[state_dim, n_actions]``,
  ``logits = x^T W``; score ``x(s) (onehot(a) - pi(.|s))^T``.
* :class:`ActionFeatureSoftmaxPolicy` -- action features ``phi(s, a)`` and a vector
  ``theta[feature_dim]``, ``logits_a = phi(s, a)^T theta``; score ``phi(s,a) - E_{b~pi}[phi(s,b)]``.

With ``phi(s,a) = x(s) (x) e_a`` and ``theta = W.flatten()`` they are the same policy
(docs/math.md, section 3).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from agents.core.policy import SoftmaxPolicy, check_sizes, register_policy


@register_policy("state")
class LinearSoftmaxPolicy(SoftmaxPolicy):
    r"""``pi(a|s) = softmax(x(s)^T W)_a`` with ``W: [state_dim, n_actions]``.

    :param state_dim: length ``d`` of the state features ``x(s)``.
    :param n_actions: number of discrete actions ``A``.
    :param dtype: parameter dtype (float64 for gradient checks).
    """

    option_keys = ()

    def __init__(self, state_dim: int, n_actions: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        check_sizes(state_dim, n_actions)
        self.state_dim, self.n_actions = int(state_dim), int(n_actions)
        self.weight = nn.Parameter(torch.zeros(state_dim, n_actions, dtype=dtype))

    @classmethod
    def from_options(cls, input_dim: int, n_actions: int, options: Any, dtype: torch.dtype) -> SoftmaxPolicy:
        return cls(input_dim, n_actions, dtype=dtype)

    @property
    def input_width(self) -> int:
        return self.state_dim

    @property
    def param(self) -> nn.Parameter:
        return self.weight

    def acting_logits(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """``h = x W`` in numpy: ``[*lead, B, d] @ [*lead, d, A] -> [*lead, B, A]`` (one run's
        ``[B, d] @ [d, A]`` through ``ndarray.dot``: the same product, 0.4 us less per step)."""
        return inputs.dot(params) if params.ndim == 2 else np.matmul(inputs, params)

    def logits_with(self, param: Tensor, features: Tensor) -> Tensor:
        """``h = x W``: ``features [B, d] @ param [d, A] -> [B, A]``."""
        return features @ param

    def score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        r"""``grad_W log pi(a|s) = x(s) (onehot(a) - pi(.|s))^T``; shape ``[B, d, A]``.

        :param param: ``W``, ``[d, A]``.
        :param features: state features ``x``, ``[B, d]``.
        :param actions: taken actions ``a``, ``[B]``.
        """
        # Laid out with the batch last (fastest axis): 2.5x faster on CPU for small d and A.
        x_t = features.mT.contiguous()  # x^T                                        [d, B]
        logits_t = param.mT @ x_t  # h^T = W^T x                                     [A, B]
        return self._score_from_logits(x_t, logits_t, self._eye(logits_t)[:, actions.long()])

    def _score_from_logits(self, x_t: Tensor, logits_t: Tensor, onehot_t: Tensor) -> Tensor:
        """:meth:`score_with` from ``x^T [d, B]``, the logits ``h^T = W^T x [A, B]`` and the
        taken actions' one-hot columns ``e_a`` ``[A, B]``."""
        probs_t = torch.softmax(logits_t, dim=0)  # pi(.|s) = softmax(W^T x)         [A, B]
        residual_t = onehot_t - probs_t  # e_a - pi                                  [A, B]
        return (x_t[:, None, :] * residual_t[None, :, :]).permute(2, 0, 1)  # x (e_a - pi)^T  [B, d, A]

    def policy_gradient(self, features: Tensor, actions: Tensor, coefficients: Tensor) -> Tensor:
        """The generic path's numbers, laid out for speed (:meth:`_gradient_and_logits_t`): the
        update's path without statistics (it contracted ``score_with`` with an identity's one-hot
        columns, 1.6x slower)."""
        self._check_actions(features, actions, coefficients)
        if self._redefines(LinearSoftmaxPolicy, *_INLINED):
            return self.policy_gradient_with(self.weight, features, actions, coefficients)
        return self._gradient_and_logits_t(features, actions, coefficients)[0]

    def policy_gradient_and_log_probs(
        self, features: Tensor, actions: Tensor, coefficients: Tensor
    ) -> tuple[Tensor, Tensor]:
        """:meth:`policy_gradient` (the same numbers) and the log-softmax of the logits it computed."""
        if self._redefines(LinearSoftmaxPolicy, *_INLINED):
            return super().policy_gradient_and_log_probs(features, actions, coefficients)
        self._check_actions(features, actions, coefficients)
        gradient, logits_t = self._gradient_and_logits_t(features, actions, coefficients)
        return gradient, torch.log_softmax(logits_t, dim=0).mT

    def _gradient_and_logits_t(
        self, features: Tensor, actions: Tensor, coefficients: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``sum_t c_t x_t (e_{A_t} - pi(.|S_t))^T`` at :attr:`weight`, the generic path's numbers
        bit for bit (the same scores, contracted the same way) with the batch as the fastest axis
        and the one-hot columns from numpy, and the logits ``h^T`` ``[A, T]`` it computed."""
        x_t = _batch_last(features)  # x^T                                           [d, T]
        logits_t = self.weight.mT @ x_t  # h^T = W^T x                               [A, T]
        scores = self._score_from_logits(x_t, logits_t, self._one_hot_t(actions, logits_t))
        return torch.tensordot(coefficients, scores, dims=1), logits_t

    def segment_policy_gradient(
        self, params: Tensor, features: Tensor, actions: Tensor, coefficients: Tensor, segments: Tensor
    ) -> Tensor:
        r"""``g_n = sum_{t: n(t) = n} c_t x_t (e_{A_t} - pi(.|S_t; W_n))^T``; ``[k, d, A]``: each
        step's logits with its own run's ``W``, then one scatter-add of the outer products."""
        if self._redefines(LinearSoftmaxPolicy, *_INLINED):
            return super().segment_policy_gradient(params, features, actions, coefficients, segments)
        weights = params[segments]  # W_{n(t)}                                     [T, d, A]
        logits = torch.bmm(features[:, None, :], weights)[:, 0]  # x_t^T W_{n(t)}   [T, A]
        residual = self._eye(logits)[actions.long()] - torch.softmax(logits, dim=-1)  # e_a - pi
        outer = _outer(features, coefficients[:, None] * residual)  # c_t x_t (e_a - pi)^T  [T, d, A]
        return torch.zeros_like(params).index_add_(0, segments, outer)

    def expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        return self._expected_score_per_state(features, coef, self._batch_expected_score)

    def _batch_expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        # sum_a c_a x (e_a - pi)^T = x (c - (sum_a c_a) pi)^T
        probs = self.probs(features)
        return _outer(features, coef - coef.sum(-1, keepdim=True) * probs)

    def _eye(self, like: Tensor) -> Tensor:
        return torch.eye(self.n_actions, dtype=like.dtype, device=like.device)

    def _one_hot_t(self, actions: Tensor, like: Tensor) -> Tensor:
        """The identity's columns ``e_a`` ``[A, B]`` for ``actions`` ``[B]``, as :meth:`score_with`
        takes them, but for a CPU batch from numpy's comparison with ``0..A-1`` (the same 0s and
        1s, 5x faster for 90k steps); only the training update calls it (``torch.func`` wraps the
        actions of a vmapped :meth:`score_with`, and they have no numpy view)."""
        if actions.device.type != "cpu":
            return self._eye(like)[:, actions.long()]
        taken = np.arange(self.n_actions)[:, None] == actions.numpy()[None, :]
        return torch.from_numpy(taken.view(np.uint8)).to(like.dtype)  # from uint8: 5x faster than bool


@register_policy("action")
class ActionFeatureSoftmaxPolicy(SoftmaxPolicy):
    r"""``pi(a|s) = softmax_a(phi(s,a)^T theta)`` with ``theta: [feature_dim]`` (S&B eqs. 13.2-13.3).

    :param feature_dim: length ``d`` of the action features ``phi(s, a)``.
    :param dtype: parameter dtype (float64 for gradient checks).
    :param n_actions: number of actions ``A``, for information (``theta`` does not depend on it).
    """

    option_keys = ()

    def __init__(self, feature_dim: int, dtype: torch.dtype = torch.float32, n_actions: int = 0) -> None:
        super().__init__()
        check_sizes(feature_dim, n_actions, least_actions=0)
        self.feature_dim, self.n_actions = int(feature_dim), int(n_actions)
        self.theta = nn.Parameter(torch.zeros(feature_dim, dtype=dtype))

    input_form = "action"

    @classmethod
    def from_options(cls, input_dim: int, n_actions: int, options: Any, dtype: torch.dtype) -> SoftmaxPolicy:
        return cls(input_dim, dtype=dtype, n_actions=n_actions)

    @property
    def input_width(self) -> int:
        return self.feature_dim

    @property
    def param(self) -> nn.Parameter:
        return self.theta

    def acting_logits(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """``h(s,a) = phi(s,a)^T theta`` in numpy: ``[*lead, B, A, d] @ [*lead, d] -> [*lead, B, A]``."""
        return np.matmul(inputs, params[..., None, :, None])[..., 0]

    def logits_with(self, param: Tensor, features: Tensor) -> Tensor:
        """``h(s,a) = phi(s,a)^T theta``: ``features [B, A, d] @ param [d] -> [B, A]``."""
        return features @ param

    def score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        r"""``grad_theta log pi(a|s) = phi(s,a) - sum_b pi(b|s) phi(s,b)``; shape ``[B, d]``.

        :param param: ``theta``, ``[d]``.
        :param features: action features ``phi``, ``[B, A, d]``.
        :param actions: taken actions ``a``, ``[B]``.
        """
        probs = self.probs_with(param, features)  # pi(.|s)                       [B, A]
        taken = _taken_features(features, actions)  # phi(s,a)                       [B, d]
        expected = (probs.unsqueeze(-1) * features).sum(-2)  # E_pi[phi(s,.)]   [B, d]
        return taken - expected

    def segment_policy_gradient(
        self, params: Tensor, features: Tensor, actions: Tensor, coefficients: Tensor, segments: Tensor
    ) -> Tensor:
        r"""``g_n = sum_{t: n(t) = n} c_t (phi(S_t, A_t) - E_{b~pi_n} phi(S_t, b))``; ``[k, d]``:
        each step's logits with its own run's ``theta``, then one scatter-add."""
        if self._redefines(ActionFeatureSoftmaxPolicy, *_INLINED):
            return super().segment_policy_gradient(params, features, actions, coefficients, segments)
        thetas = params[segments]  # theta_{n(t)}                                  [T, d]
        probs = torch.softmax(torch.bmm(features, thetas[:, :, None])[..., 0], dim=-1)  # [T, A]
        taken = _taken_features(features, actions)  # phi(s,a)                       [T, d]
        expected = torch.bmm(probs[:, None, :], features)[:, 0]  # E_pi[phi(s,.)]  [T, d]
        return torch.zeros_like(params).index_add_(0, segments, coefficients[:, None] * (taken - expected))

    def expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        return self._expected_score_per_state(features, coef, self._batch_expected_score)

    def _batch_expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        # sum_a c_a (phi_a - E_pi phi) = sum_a c_a phi_a - (sum_a c_a) E_pi phi
        probs = self.probs(features)
        expected = (probs.unsqueeze(-1) * features).sum(-2)
        return (coef.unsqueeze(-1) * features).sum(-2) - coef.sum(-1, keepdim=True) * expected


def _batch_last(features: Tensor) -> Tensor:
    """``features.mT.contiguous()`` (``[B, d] -> [d, B]``), by numpy's transposing copy for a CPU
    tensor outside autograd: the same values, 5x faster than torch's for a tall, narrow batch
    (0.5 ms for 35k x 5 in an update). Only the training update calls it (never under
    ``torch.func``, whose wrapped tensors have no numpy view)."""
    if features.device.type != "cpu" or features.requires_grad:
        return features.mT.contiguous()
    return torch.from_numpy(np.ascontiguousarray(features.numpy().T))


def _outer(features: Tensor, residual: Tensor) -> Tensor:
    """Per-sample outer products ``features[i] residual[i]^T``: ``[B, d], [B, A] -> [B, d, A]``.

    Formed with the batch as the innermost (fastest) axis, then viewed back as ``[B, d, A]``:
    the same numbers as ``features[:, :, None] * residual[:, None, :]``, faster on CPU for small
    ``d`` and ``A``.
    """
    return (features.mT.contiguous()[:, None, :] * residual.mT.contiguous()[None, :, :]).permute(2, 0, 1)


_INLINED = ("logits_with", "score_with", "policy_gradient_with")
"""What the fused gradients above compute inline; a subclass redefining one gets the generic path."""


def _taken_features(features: Tensor, actions: Tensor) -> Tensor:
    """``phi(s_t, a_t)``: each row's features of its own action, ``[B, A, d] -> [B, d]`` (on the
    features' device)."""
    return features[torch.arange(features.shape[0], device=features.device), actions.long()]
