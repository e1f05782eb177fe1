r"""Linear softmax policies and their two score functions.

Two parameterisations of the same family (Sutton & Barto, sec. 13.2):

* :class:`LinearSoftmaxPolicy` -- state features ``x(s)`` and a matrix ``W[state_dim, n_actions]``,
  ``logits = x^T W``.
* :class:`ActionFeatureSoftmaxPolicy` -- action features ``phi(s, a)`` and a vector
  ``theta[feature_dim]``, ``logits_a = phi(s, a)^T theta``.

Both expose the same methods with the same signatures, so every caller (the REINFORCE update,
``scripts/compare_gradients.py``, the live gradient check, the tests) can swap them, and swap the
closed-form :meth:`score` for :meth:`autograd_score`.

Derivation (docs/math.md has it step by step)::

    log pi(a|s) = h(s,a) - log sum_b exp h(s,b)              h = logits
    grad log pi(a|s) = grad h(s,a) - sum_b pi(b|s) grad h(s,b)

With ``h(s,b) = phi(s,b)^T theta`` the gradient is ``phi(s,a) - E_{b~pi}[phi(s,b)]``; with
``h(s,b) = x(s)^T W[:, b]`` it is the outer product ``x(s) (onehot(a) - pi(.|s))^T``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import grad, vmap

ScoreFn = Callable[[Tensor, Tensor], Tensor]
"""Signature shared by :meth:`score` and :meth:`autograd_score`: ``(features, actions) -> [B, *param]``."""


def _over_actions(normalize: Callable[[Tensor, int], Tensor], logits: Tensor) -> Tensor:
    """Apply ``torch.softmax``/``log_softmax`` over the action axis of ``[B, A]`` logits.

    Same values as ``normalize(logits, -1)``; it runs with the actions as the leading axis because
    CPU kernels reduce a short (A = 2..18) trailing axis several times slower than a leading one.
    """
    return normalize(logits.movedim(-1, 0), 0).movedim(0, -1)


def _p_log_p(log_probs: Tensor) -> Tensor:
    """``pi log pi`` with the limit ``0 log 0 = 0`` (a logit gap past the float range gives
    ``log pi = -inf`` and ``pi = 0``; their product must be 0, not nan)."""
    return torch.where(log_probs > -torch.inf, log_probs.exp() * log_probs, 0.0)


def entropy_of(log_probs: Tensor) -> Tensor:
    r"""``H = -sum_a pi(a) log pi(a)`` from ``log pi`` ``[..., A]``; shape ``[...]``."""
    return -_p_log_p(log_probs).sum(-1)


class _SoftmaxPolicy(nn.Module):
    """What both parameterisations share once :meth:`logits` is defined.

    Subclasses define :attr:`param` (the one trainable tensor) and implement
    :meth:`logits_with` (logits as a pure function of the parameter, for ``torch.func``),
    :meth:`score` and :meth:`_expected_score`.
    """

    @property
    def param(self) -> nn.Parameter:
        """The trainable parameter (``weight`` or ``theta``)."""
        raise NotImplementedError

    def logits_with(self, param: Tensor, features: Tensor) -> Tensor:
        """Logits ``h(s, .)`` for an explicit parameter tensor; shape ``[B, n_actions]``."""
        raise NotImplementedError

    def score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        """:meth:`score` at an explicit parameter (a pure function, so ``torch.func.vmap`` can map
        it over a stack of parameters: many seeds or runs in one call)."""
        raise NotImplementedError

    def score(self, features: Tensor, actions: Tensor) -> Tensor:
        """Closed-form ``grad log pi(a|s)`` per sample; shape ``[B, *param.shape]``."""
        return self.score_with(self.param, features, actions)

    def logits(self, features: Tensor) -> Tensor:
        """Action preferences ``h(s, .)``; shape ``[B, n_actions]``."""
        return self.logits_with(self.param, features)

    def log_probs(self, features: Tensor) -> Tensor:
        r"""``log pi(.|s) = h - logsumexp(h)``, stable for logits of any size; ``[B, n_actions]``."""
        return _over_actions(torch.log_softmax, self.logits(features))

    def probs_with(self, param: Tensor, features: Tensor) -> Tensor:
        """:meth:`probs` at an explicit parameter."""
        return _over_actions(torch.softmax, self.logits_with(param, features))

    def probs(self, features: Tensor) -> Tensor:
        """``pi(.|s) = exp(h - max h) / sum exp(h - max h)``; ``[B, n_actions]``, rows sum to one."""
        return self.probs_with(self.param, features)

    def log_prob(self, features: Tensor, actions: Tensor) -> Tensor:
        """``log pi(a|s)`` of the taken actions; ``actions: [B]`` (int64) -> ``[B]``."""
        return self.log_probs(features).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self, features: Tensor) -> Tensor:
        r"""``H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s)``; shape ``[B]``."""
        return entropy_of(self.log_probs(features))

    def sample(self, features: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw ``A ~ pi(.|s)`` for every row by inverse-CDF sampling; shape ``[B]`` (int64)."""
        probs = self.probs(features)
        cdf = probs.cumsum(-1)
        uniform = torch.rand(
            (*probs.shape[:-1], 1), generator=generator, dtype=probs.dtype, device=probs.device
        )
        return (cdf < uniform * cdf[..., -1:]).sum(-1).clamp_max(probs.shape[-1] - 1)

    def autograd_score(self, features: Tensor, actions: Tensor) -> Tensor:
        """``grad log pi(a|s)`` per sample by autograd: ``vmap(grad(log_prob))``; same shape as
        :meth:`score`. The reference the closed form is checked against."""
        return self.autograd_score_with(self.param.detach(), features, actions)

    def autograd_score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        """:meth:`autograd_score` at an explicit parameter."""

        def log_prob_one(param: Tensor, feature: Tensor, action: Tensor) -> Tensor:
            log_probs = torch.log_softmax(self.logits_with(param, feature.unsqueeze(0))[0], -1)
            return log_probs.gather(-1, action.unsqueeze(-1)).squeeze(-1)

        per_sample = vmap(grad(log_prob_one), in_dims=(None, 0, 0))
        return per_sample(param, features, actions.long())

    def entropy_gradient(self, features: Tensor) -> Tensor:
        r"""Closed-form ``grad_param H(pi(.|s))`` per sample; shape ``[B, *param.shape]``.

        ``H = -sum_a pi_a log pi_a`` and ``grad pi_a = pi_a score(s,a)``, so
        ``grad H = -sum_a pi_a (log pi_a + H) score(s,a)`` (the ``+H`` term is free because
        ``E_pi[score] = 0``). We evaluate it as ``-sum_a c_a score(s,a)`` with
        ``c_a = pi_a (log pi_a + H)``.
        """
        log_probs = self.log_probs(features)
        probs = log_probs.exp()
        entropy = -_p_log_p(log_probs).sum(-1, keepdim=True)
        coef = torch.where(probs > 0, probs * (log_probs + entropy), 0.0)  # [B, A]
        return -self._expected_score(features, coef)

    def _expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        """``sum_a coef[:, a] score(s, a)`` per sample, without materialising every action."""
        raise NotImplementedError


class LinearSoftmaxPolicy(_SoftmaxPolicy):
    r"""``pi(a|s) = softmax(x(s)^T W)_a`` with ``W: [state_dim, n_actions]``.

    :param state_dim: length ``d`` of the state features ``x(s)``.
    :param n_actions: number of discrete actions ``A``.
    :param dtype: parameter dtype (float64 for gradient checks).
    """

    def __init__(self, state_dim: int, n_actions: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.state_dim, self.n_actions = state_dim, n_actions
        self.weight = nn.Parameter(torch.zeros(state_dim, n_actions, dtype=dtype))

    @property
    def param(self) -> nn.Parameter:
        return self.weight

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
        probs_t = torch.softmax(param.mT @ x_t, dim=0)  # pi(.|s) = softmax(W^T x)   [A, B]
        residual_t = self._eye(probs_t)[:, actions.long()] - probs_t  # e_a - pi     [A, B]
        return (x_t[:, None, :] * residual_t[None, :, :]).permute(2, 0, 1)  # x (e_a - pi)^T  [B, d, A]

    def _expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        # sum_a c_a x (e_a - pi)^T = x (c - (sum_a c_a) pi)^T
        probs = self.probs(features)
        return _outer(features, coef - coef.sum(-1, keepdim=True) * probs)

    def _eye(self, like: Tensor) -> Tensor:
        return torch.eye(self.n_actions, dtype=like.dtype, device=like.device)


class ActionFeatureSoftmaxPolicy(_SoftmaxPolicy):
    r"""``pi(a|s) = softmax_a(phi(s,a)^T theta)`` with ``theta: [feature_dim]`` (S&B eq. 13.2).

    :param feature_dim: length ``d`` of the action features ``phi(s, a)``.
    :param dtype: parameter dtype (float64 for gradient checks).
    """

    def __init__(self, feature_dim: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.theta = nn.Parameter(torch.zeros(feature_dim, dtype=dtype))

    @property
    def param(self) -> nn.Parameter:
        return self.theta

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
        taken = features[torch.arange(features.shape[0]), actions.long()]  # phi(s,a)   [B, d]
        expected = (probs.unsqueeze(-1) * features).sum(-2)  # E_pi[phi(s,.)]   [B, d]
        return taken - expected

    def _expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        # sum_a c_a (phi_a - E_pi phi) = sum_a c_a phi_a - (sum_a c_a) E_pi phi
        probs = self.probs(features)
        expected = (probs.unsqueeze(-1) * features).sum(-2)
        return (coef.unsqueeze(-1) * features).sum(-2) - coef.sum(-1, keepdim=True) * expected


def _outer(features: Tensor, residual: Tensor) -> Tensor:
    """Per-sample outer products ``features[i] residual[i]^T``: ``[B, d], [B, A] -> [B, d, A]``.

    Formed with the batch as the innermost (fastest) axis, then viewed back as ``[B, d, A]``:
    the same numbers as ``features[:, :, None] * residual[:, None, :]``, faster on CPU for small
    ``d`` and ``A``.
    """
    return (features.mT.contiguous()[:, None, :] * residual.mT.contiguous()[None, :, :]).permute(2, 0, 1)


SoftmaxPolicy = LinearSoftmaxPolicy | ActionFeatureSoftmaxPolicy
