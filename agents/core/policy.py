r"""The softmax policy family: one abstract base class states the contract, forms register by name.

Every form computes preferences (logits) ``h(s, .)`` from its inputs and one trainable tensor
``param``; the rest is shared (Sutton & Barto sec. 13.1, eq. 13.2)::

    pi(a|s) = exp h(s,a) / sum_b exp h(s,b)
    log pi(a|s) = h(s,a) - log sum_b exp h(s,b)
    grad log pi(a|s) = grad h(s,a) - sum_b pi(b|s) grad h(s,b)              (the score)

docs/math.md derives it step by step. A form implements :meth:`SoftmaxPolicy.logits_with`, the
hand-derived :meth:`SoftmaxPolicy.score_with` and :meth:`SoftmaxPolicy.expected_score`; the
base class supplies the probabilities, the autograd reference score, the entropy gradient and
the batch :meth:`SoftmaxPolicy.policy_gradient` (a form may override it with a cheaper
hand-derived version). Forms register with :func:`register_policy`, so ``agent.policy=<name>``
finds them and no caller switches on a form: adding one is one class and one decorator line.
"""

from __future__ import annotations

import difflib
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.func import grad, vmap

from agents.core.registry import Registry
from agents.core.segments import map_over_segments

ScoreFn = Callable[[Tensor, Tensor], Tensor]
"""Signature shared by :meth:`SoftmaxPolicy.score` and :meth:`SoftmaxPolicy.autograd_score`:
``(features, actions) -> [B, *param]``."""

GradientFn = Callable[[Tensor, Tensor, Tensor], Tensor]
"""Signature of :meth:`SoftmaxPolicy.policy_gradient` and its autograd twin:
``(features, actions, coefficients) -> [*param]``."""


def _over_actions(normalize: Callable[[Tensor, int], Tensor], logits: Tensor) -> Tensor:
    """Apply ``torch.softmax``/``log_softmax`` over the action axis of ``[B, A]`` logits.

    The values of ``normalize(logits, -1)`` up to rounding (``log_softmax``: the same bits here;
    ``softmax``: up to a float's last bit, 1e-7 relative in float32); it runs with the actions as
    the leading axis because CPU kernels reduce a short (A = 2..18) trailing axis several times
    slower than a leading one.
    """
    return normalize(logits.movedim(-1, 0), 0).movedim(0, -1)


def _p_log_p(log_probs: Tensor) -> Tensor:
    """``pi log pi`` with the limit ``0 log 0 = 0`` (a logit gap past the float range gives
    ``log pi = -inf`` and ``pi = 0``; their product must be 0, not nan)."""
    return torch.where(log_probs > -torch.inf, log_probs.exp() * log_probs, 0.0)


def entropy_of(log_probs: Tensor) -> Tensor:
    r"""``H = -sum_a pi(a) log pi(a)`` from ``log pi`` ``[..., A]``; shape ``[...]``."""
    return -_p_log_p(log_probs).sum(-1)


def mean_entropy(log_probs: Tensor) -> float:
    r"""``(1/T) sum_t H(pi(.|S_t))`` from ``log pi`` ``[T, A]``, for logging: the ``T A`` terms
    ``pi log pi`` in one sum, made in place (half the time of :func:`entropy_of`'s ``where`` and
    two reductions on a 100k-step batch). ``0 log 0 = 0``: ``0 * -inf`` is nan, set to 0, as a
    nan ``log pi`` is by ``_p_log_p``."""
    terms = log_probs.exp().mul_(log_probs).nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
    return float(-terms.sum() / log_probs.shape[0])


def check_sizes(input_dim: int, n_actions: int, least_actions: int = 1) -> None:
    """``TypeError`` unless both sizes are ints (numpy's too; ``2.5`` and ``True`` reached
    ``torch.zeros``), ``ValueError`` unless a policy has inputs and at least ``least_actions``
    actions (``n_actions=0`` built a policy of empty logits, whose first ``score`` failed deep in
    torch; the action form's ``n_actions`` is for information, 0 where unknown)."""
    for name, size in (("input_dim", input_dim), ("n_actions", n_actions)):
        if not isinstance(size, numbers.Integral) or isinstance(size, bool):
            raise TypeError(f"a policy's {name} must be an int; got {size!r}")
    if input_dim < 1 or n_actions < least_actions:
        raise ValueError(
            f"a policy needs input_dim >= 1 and n_actions >= {least_actions}; got {input_dim} and {n_actions}"
        )


class SoftmaxPolicy(nn.Module, ABC):
    """A softmax policy over ``n_actions`` discrete actions with one trainable tensor :attr:`param`.

    :cvar input_form: what the policy reads: ``"state"`` (state features ``x(s)``, ``[B, d]``) or
        ``"action"`` (action features ``phi(s, .)``, ``[B, A, d]``).
    """

    input_form: ClassVar[str] = "state"
    n_actions: int
    option_keys: ClassVar[tuple[str, ...] | None] = None
    """The ``agent`` settings :meth:`from_options` reads (None: not declared, e.g. a form of one's
    own); :func:`make_policy` refuses a key of a mapping of options that no declared form reads."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass whose :meth:`logits_with` comes from below the class that defines its
        :meth:`score_with`, :meth:`acting_logits` or :meth:`expected_score` (a redefinition, or a
        mixin listed first) would take its score, act, and take its entropy gradient with its
        parent's logits (those compute them inline): it gets the generic ones built from its own
        :meth:`logits_with` instead: the score by autograd (:meth:`autograd_score_with`), acting
        and the entropy gradient from that. Slower; define :meth:`score_with` (the hand-derived
        score of the new logits) with :meth:`logits_with` for speed. Its :attr:`input_width` is
        None (unchecked) unless it says its own: new logits may read other inputs (a bias column
        they add themselves), which the parent's width refused."""
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__

        def defined_at(name: str) -> int:
            return next((index for index, klass in enumerate(mro) if name in vars(klass)), len(mro))

        generics = {
            "score_with": SoftmaxPolicy.autograd_score_with,
            "acting_logits": SoftmaxPolicy.acting_logits_from_logits_with,
            "expected_score": SoftmaxPolicy.expected_score_from_score,
        }
        for name, generic in generics.items():
            inherited = getattr(cls, name, None)
            if getattr(inherited, "__isabstractmethod__", False) or inherited is generic:
                continue
            if defined_at("logits_with") < defined_at(name):
                setattr(cls, name, generic)
        if defined_at("logits_with") < defined_at("input_width"):
            cls.input_width = SoftmaxPolicy.input_width  # type: ignore[method-assign]

    def expected_score_from_score(self, features: Tensor, coef: Tensor) -> Tensor:
        """:meth:`expected_score` as the sum over actions of ``coef[:, a]`` times
        :meth:`score_with` at ``a`` (one score per action)."""
        return self._expected_score_per_state(features, coef, self._batch_expected_score_from_score)

    def _batch_expected_score_from_score(self, features: Tensor, coef: Tensor) -> Tensor:
        """:meth:`expected_score_from_score` of a batch ``[B, ...]``."""
        total = torch.zeros(coef.shape[0], *self.param.shape, dtype=self.param.dtype, device=coef.device)
        for action in range(coef.shape[-1]):
            actions = torch.full(coef.shape[:1], action, dtype=torch.long, device=coef.device)
            score = self.checked_score_with(self.param, features, actions)  # [B, *param.shape]
            total += coef[:, action].reshape(-1, *[1] * self.param.ndim) * score
        return total

    def acting_logits_from_logits_with(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """:meth:`acting_logits` computed by :meth:`logits_with` (mapped over the leading axes),
        in ``params``' dtype, as training computes the logits."""
        compute = self.logits_with
        for _ in range(params.ndim - self.param.ndim):  # one vmap per leading (run) axis
            compute = vmap(compute)
        param = torch.from_numpy(np.ascontiguousarray(params))
        with torch.no_grad():
            return compute(param, torch.from_numpy(np.ascontiguousarray(inputs)).to(param.dtype)).numpy()

    # -- what a form defines ----------------------------------------------------------------
    @property
    @abstractmethod
    def param(self) -> nn.Parameter:
        """The one trainable tensor (the optimizer's only parameter, the checkpoint's content)."""

    @abstractmethod
    def logits_with(self, param: Tensor, features: Tensor) -> Tensor:
        """Logits ``h(s, .)`` for an explicit parameter tensor; shape ``[B, n_actions]`` (a pure
        function of ``param``, for ``torch.func``)."""

    @abstractmethod
    def score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        """The hand-derived ``grad log pi(a|s)`` per sample at an explicit parameter; shape
        ``[B, *param.shape]`` (pure, so ``torch.func.vmap`` can map it over stacked parameters)."""

    @abstractmethod
    def expected_score(self, features: Tensor, coef: Tensor) -> Tensor:
        """``sum_a coef[:, a] score(s, a)`` per sample, without forming every action's score;
        ``coef: [B, A]`` -> ``[B, *param.shape]``."""

    @abstractmethod
    def acting_logits(self, params: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """:meth:`logits_with` in numpy for the acting hot path, batched over leading axes.

        :param params: ``[*lead, *param.shape]`` (``lead = ()`` for one run, ``(N,)`` for N seeds).
        :param inputs: ``[*lead, B, ...]`` policy inputs.
        :return: ``[*lead, B, n_actions]``.
        """

    @classmethod
    @abstractmethod
    def from_options(cls, input_dim: int, n_actions: int, options: Any, dtype: torch.dtype) -> SoftmaxPolicy:
        """Build the form for inputs of length ``input_dim``; ``options`` holds the ``agent``
        settings a form reads (e.g. ``hidden_sizes``), as attributes."""

    @property
    def input_width(self) -> int | None:
        """Length ``d`` of one input's features (their last axis), which every method checks; None
        where a form does not say (a form of one's own), and then torch's error names a wrong one."""
        return None

    # -- shared by every form ----------------------------------------------------------------
    def score(self, features: Tensor, actions: Tensor) -> Tensor:
        """Hand-derived ``grad log pi(a|s)`` per sample; shape ``[B, *param.shape]`` (one state
        without a batch axis and a 0-d action: ``[*param.shape]``, as :meth:`log_prob` gives a
        scalar). Actions outside ``0..n_actions-1`` raise ``IndexError`` (a one-hot would take
        ``-1`` as the last action)."""
        self._check_actions(features, actions)
        return self._per_state(lambda x, a: self.checked_score_with(self.param, x, a), features, actions)

    def checked_score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        """:meth:`score_with`, checked to be one score per action, shaped and typed like ``param``
        (a form's wrong shape or dtype ended in torch's "attempting to assign a gradient of size
        '[5]'" or "both inputs should have same dtype", far from the score that caused it)."""
        score = self.score_with(param, features, actions)
        expected = (*actions.shape, *param.shape)
        if not isinstance(score, Tensor) or score.shape != expected:
            got = list(score.shape) if isinstance(score, Tensor) else type(score).__name__
            raise ValueError(
                f"{type(self).__name__}.score_with must return one grad log pi per action, shape "
                f"{list(expected)} ([*actions, *param]); got {got}"
            )
        if score.dtype != param.dtype:
            raise TypeError(
                f"{type(self).__name__}.score_with must return the parameters' dtype {param.dtype}; "
                f"got {score.dtype}"
            )
        return score

    def _is_one_state(self, features: Tensor) -> bool:
        """Whether ``features`` are one state's inputs without a batch axis (``[d]``; ``[A, d]``
        for action inputs)."""
        return features.ndim == (2 if self.input_form == "action" else 1)

    def _check_features(self, features: Tensor, one_batch_axis: bool = True) -> None:
        """``TypeError`` unless ``features`` are a tensor of the parameters' dtype (torch's "expected
        m1 and m2 to have the same dtype" came from deep in each form); with ``one_batch_axis``,
        ``ValueError`` unless they are a batch or one state (more leading axes passed the checks of
        the score and the gradients, then failed in each form its own way; the logits, the
        probabilities and ``log_prob`` broadcast over them); fewer than one state's axes never;
        nor features whose last axis is not :attr:`input_width` long."""
        if not isinstance(features, Tensor):
            raise TypeError(f"features must be a tensor; got {type(features).__name__}")
        dtype = self.param.dtype
        if features.dtype != dtype:
            raise TypeError(
                f"features must have the parameters' dtype {dtype}; got {features.dtype} "
                f"(features.to({dtype}))"
            )
        one_state = 2 if self.input_form == "action" else 1
        if features.ndim < one_state or (one_batch_axis and features.ndim > one_state + 1):
            action = self.input_form == "action"
            layout = "[B, A, d] (one state: [A, d])" if action else "[B, d] (one state: [d])"
            raise ValueError(f"features must be {layout}; got shape {list(features.shape)}")
        width = self.input_width
        if width is not None and features.shape[-1] != width:  # torch's "mat1 and mat2 shapes cannot
            raise ValueError(  # be multiplied", or a silent broadcast in a form of one's own
                f"features must be {width} wide, the policy's input width d; got shape {list(features.shape)}"
            )

    def _expected_score_per_state(
        self, features: Tensor, coef: Tensor, compute: Callable[[Tensor, Tensor], Tensor]
    ) -> Tensor:
        """:meth:`expected_score` by ``compute`` (a form's, for a batch), its inputs checked: one
        ``c_a`` per state and action (a ``[B, 1]`` column broadcast into a result of no meaning),
        one state without a batch axis as a batch of one (``mT`` failed on it)."""
        self._check_features(features)
        batch = features.shape[:-2] if self.input_form == "action" else features.shape[:-1]
        n_actions = features.shape[-2] if self.input_form == "action" else self.n_actions
        if not isinstance(coef, Tensor) or coef.shape != (*batch, n_actions):
            got = list(coef.shape) if isinstance(coef, Tensor) else type(coef).__name__
            raise ValueError(
                f"coef must be a tensor of shape {[*batch, n_actions]}, one c_a per state and action; "
                f"got {got}"
            )
        if coef.dtype != features.dtype:
            raise TypeError(f"coef must have the features' dtype {features.dtype}; got {coef.dtype}")
        return self._per_state(compute, features, coef)

    def _per_state(self, compute: Callable[..., Tensor], features: Tensor, *actions: Tensor) -> Tensor:
        """``compute(features, *actions)``, a ``[B, ...]`` result per state; for one state without
        a batch axis, computed as a batch of one and returned without the axis (the batched
        functions index a batch axis)."""
        if not self._is_one_state(features):
            return compute(features, *actions)
        return compute(features.unsqueeze(0), *(action.unsqueeze(0) for action in actions))[0]

    def _check_actions(
        self,
        features: Tensor,
        actions: Tensor,
        coefficients: Tensor | None = None,
        one_batch_axis: bool = True,
    ) -> None:
        """``IndexError`` unless every action is in ``0..n_actions-1``, ``ValueError`` unless there is
        one action per input, ``TypeError`` unless they are a tensor of integers (a float action
        0.7 was read as 0 by the score and as no action at all by the linear gradient) (the public
        entry points check; the ``*_with`` functions, which ``torch.func`` maps, cannot); with
        ``coefficients``, ``ValueError`` unless there is one ``c_t`` per action (a ``[T, 1]``
        column gave ``[T, *param]`` terms unsummed, a ``[1]`` applied one to every step) and
        ``TypeError`` unless they have the features' dtype; the features as :meth:`_check_features`."""
        self._check_features(features, one_batch_axis)
        if (
            not isinstance(actions, Tensor)
            or actions.dtype.is_floating_point
            or actions.dtype.is_complex
            or (actions.dtype == torch.bool)
        ):
            what = actions.dtype if isinstance(actions, Tensor) else type(actions).__name__
            raise TypeError(f"actions must be a tensor of action indices (torch.int64); got {what}")
        batch_shape = features.shape[:-2] if self.input_form == "action" else features.shape[:-1]
        if actions.shape != batch_shape:  # a [B, 1] column would broadcast against [B, A] silently
            raise ValueError(
                f"actions must have shape {list(batch_shape)}, one per input; got {list(actions.shape)}"
            )
        if coefficients is not None and not batch_shape:
            raise ValueError(  # it indexed a step axis it did not have, deep in each form
                "a policy gradient sums over steps: give features [T, ...], actions [T] and "
                "coefficients [T] (one step: add the axis, e.g. features[None])"
            )
        if coefficients is not None and (
            not isinstance(coefficients, Tensor) or coefficients.shape != actions.shape
        ):
            got = (
                list(coefficients.shape) if isinstance(coefficients, Tensor) else type(coefficients).__name__
            )
            raise ValueError(
                f"coefficients must be a tensor of the actions' shape {list(actions.shape)}, one c_t per "
                f"step; got {got}"
            )
        if coefficients is not None and coefficients.dtype != features.dtype:  # torch's "same dtype", or
            raise TypeError(  # (ints, bools) taken by one path and refused by another
                f"coefficients must have the features' dtype {features.dtype}; got {coefficients.dtype}"
            )
        n_actions = features.shape[-2] if self.input_form == "action" else self.n_actions  # phi [B, A, d]
        if actions.numel() and not 0 <= int(actions.min()) <= int(actions.max()) < n_actions:
            raise IndexError(
                f"actions must be in 0..{n_actions - 1}; got values from {int(actions.min())} "
                f"to {int(actions.max())}"
            )

    def logits(self, features: Tensor) -> Tensor:
        """Action preferences ``h(s, .)``; shape ``[B, n_actions]`` (more leading axes broadcast)."""
        self._check_features(features, one_batch_axis=False)
        return self.logits_with(self.param, features)

    def log_probs(self, features: Tensor) -> Tensor:
        r"""``log pi(.|s) = h - logsumexp(h)``, stable for logits of any size; ``[B, n_actions]``."""
        return _over_actions(torch.log_softmax, self.logits(features))

    def probs_with(self, param: Tensor, features: Tensor) -> Tensor:
        """:meth:`probs` at an explicit parameter."""
        return _over_actions(torch.softmax, self.logits_with(param, features))

    def probs(self, features: Tensor) -> Tensor:
        """``pi(.|s) = exp(h - max h) / sum exp(h - max h)``; ``[B, n_actions]``, rows sum to one."""
        self._check_features(features, one_batch_axis=False)
        return self.probs_with(self.param, features)

    def log_prob(self, features: Tensor, actions: Tensor) -> Tensor:
        """``log pi(a|s)`` of the taken actions; ``actions: [B]`` (int64) -> ``[B]``."""
        self._check_actions(features, actions, one_batch_axis=False)  # as score's (torch's "index 3 is out
        # of bounds" was raw)
        return self.log_probs(features).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self, features: Tensor) -> Tensor:
        r"""``H(pi(.|s)) = -sum_a pi(a|s) log pi(a|s)``; shape ``[B]``."""
        return entropy_of(self.log_probs(features))

    def autograd_score(self, features: Tensor, actions: Tensor) -> Tensor:
        """``grad log pi(a|s)`` per sample by autograd: ``vmap(grad(log_prob))``; same shape as
        :meth:`score`. The reference the hand-derived score is checked against."""
        self._check_actions(features, actions)
        return self._per_state(
            lambda x, a: self.autograd_score_with(self.param.detach(), x, a), features, actions
        )

    def autograd_score_with(self, param: Tensor, features: Tensor, actions: Tensor) -> Tensor:
        """:meth:`autograd_score` at an explicit parameter."""

        def log_prob_one(param: Tensor, feature: Tensor, action: Tensor) -> Tensor:
            log_probs = torch.log_softmax(self.logits_with(param, feature.unsqueeze(0))[0], -1)
            return log_probs.gather(-1, action.unsqueeze(-1)).squeeze(-1)

        per_sample = vmap(grad(log_prob_one), in_dims=(None, 0, 0))
        return per_sample(param, features, actions.long())

    def policy_gradient_with(
        self, param: Tensor, features: Tensor, actions: Tensor, coefficients: Tensor
    ) -> Tensor:
        r"""``sum_t c_t grad log pi(A_t|S_t)`` at an explicit parameter; shaped like ``param``.

        The default contracts the per-sample :meth:`score_with` with the coefficients; a form
        may override it with a hand-derived version that never forms ``[T, *param]``.
        """
        return torch.tensordot(coefficients, self.checked_score_with(param, features, actions), dims=1)

    def segment_policy_gradient(
        self, params: Tensor, features: Tensor, actions: Tensor, coefficients: Tensor, segments: Tensor
    ) -> Tensor:
        r"""``g_n = sum_{t: n(t) = n} c_t grad log pi(A_t|S_t; theta_n)`` for the rows
        ``params [k, *param]`` of ``k`` runs, step ``t`` belonging to run ``n(t) = segments[t]``
        (each run's steps contiguous); ``[k, *param]``.

        The default maps :meth:`policy_gradient_with` over the rows (``vmap``, each run's steps
        zero-padded); a form may override it with one that takes each step's row directly.
        """
        return map_over_segments(self.policy_gradient_with, params, segments, features, actions, coefficients)

    def policy_gradient(self, features: Tensor, actions: Tensor, coefficients: Tensor) -> Tensor:
        r"""``sum_t c_t grad log pi(A_t|S_t)``: what an update ascends; shaped like :attr:`param`.

        :param features: ``[T, ...]`` policy inputs; ``actions``: ``[T]``; ``coefficients``: ``[T]``.
        """
        self._check_actions(features, actions, coefficients)
        return self.policy_gradient_with(self.param, features, actions, coefficients)

    def policy_gradient_and_log_probs(
        self, features: Tensor, actions: Tensor, coefficients: Tensor
    ) -> tuple[Tensor, Tensor]:
        r""":meth:`policy_gradient` and ``log pi(.|S_t)`` ``[T, n_actions]`` at the same parameters
        (an update's statistics). This default runs two forward passes; a form whose gradient
        computes the logits anyway returns their log-softmax instead."""
        return self.policy_gradient(features, actions, coefficients), self.log_probs(features)

    def autograd_policy_gradient(self, features: Tensor, actions: Tensor, coefficients: Tensor) -> Tensor:
        """:meth:`policy_gradient` from :meth:`autograd_score` (``agent.score=autograd``)."""
        self._check_actions(features, actions, coefficients)
        return torch.tensordot(coefficients, self.autograd_score(features, actions), dims=1)

    def entropy_gradient(self, features: Tensor) -> Tensor:
        r"""Closed-form ``grad_param H(pi(.|s))`` per sample; shape ``[B, *param.shape]`` (one state
        without a batch axis: ``[*param.shape]``).

        ``H = -sum_a pi_a log pi_a`` and ``grad pi_a = pi_a score(s,a)``, so
        ``grad H = -sum_a pi_a (log pi_a + H) score(s,a)`` (the ``+H`` term is free because
        ``E_pi[score] = 0``). We evaluate it as ``-sum_a c_a score(s,a)`` with
        ``c_a = pi_a (log pi_a + H)``.
        """
        self._check_features(features)
        return self._per_state(self._batch_entropy_gradient, features)

    def _batch_entropy_gradient(self, features: Tensor) -> Tensor:
        """:meth:`entropy_gradient` of a batch ``[B, ...]``."""
        log_probs = self.log_probs(features)
        probs = log_probs.exp()
        entropy = -_p_log_p(log_probs).sum(-1, keepdim=True)
        coef = torch.where(probs > 0, probs * (log_probs + entropy), 0.0)  # [B, A]
        return -self.expected_score(features, coef)

    def bind_param(self, storage: Tensor) -> None:
        """Keep :attr:`param`'s values in ``storage`` (same shape), e.g. a row of a stacked
        ``[N, *param.shape]`` tensor that acts for N seeds in one call; optimizers keep working
        on the same parameter object."""
        if storage.shape != self.param.shape:
            raise ValueError(f"storage {tuple(storage.shape)} != param {tuple(self.param.shape)}")
        if storage.dtype != self.param.dtype:  # the parameter became the storage's dtype, silently
            raise TypeError(f"storage dtype {storage.dtype} != param dtype {self.param.dtype}")
        storage.copy_(self.param.detach())
        self.param.data = storage

    def _redefines(self, form: type[SoftmaxPolicy], *methods: str) -> bool:
        """Whether this object's class (a subclass of ``form``) redefines any of ``methods``, which
        a fused fast path of ``form`` computes inline: it then takes the generic path built from
        the redefined methods (a subclass scaling the logits was trained with its parent's score)."""
        return any(getattr(type(self), method) is not getattr(form, method) for method in methods)


POLICIES: Registry[SoftmaxPolicy] = Registry("agent.policy", home="agents.core.policies")
"""``agent.policy`` name -> form."""
register_policy = POLICIES.register
"""Class decorator: ``@register_policy("name")`` makes a form available as ``agent.policy=name``."""
policy_class = POLICIES.lookup
"""The form registered as a name; a one-line :class:`UserError` listing the forms otherwise."""


def checked_options(name: str, options: dict[Any, Any]) -> dict[str, Any]:
    """``options`` for :meth:`SoftmaxPolicy.from_options`, refused (``ValueError``) where a key is no
    name, or is read by no form (``hidden_size`` and ``hidden`` fell back to the default widths
    without a word); a whole ``agent`` config (it names its ``policy``) holds the agent's other
    settings too (``lr``), which the schema checks in training."""
    named = [key for key in options if not isinstance(key, str)]
    if named:
        raise ValueError(f"options are keyword settings; got the key {named[0]!r}")
    declared = sorted({key for cls in POLICIES.values() for key in cls.option_keys or ()})
    unknown = sorted(set(options) - set(declared))
    if unknown and "policy" not in options and policy_class(name).option_keys is not None:
        close = difflib.get_close_matches(unknown[0], declared, n=1)
        hint = f": did you mean {close[0]!r}?" if close else f" (the forms read {', '.join(declared)})"
        raise ValueError(f"option {unknown[0]!r} is read by no policy form{hint}")
    return options


def make_policy(
    name: str, input_dim: int, n_actions: int, options: Mapping[str, Any] | Any = None,
    dtype: torch.dtype = torch.float32,
) -> SoftmaxPolicy:  # fmt: skip
    """Build the form registered as ``name`` (see :meth:`SoftmaxPolicy.from_options`); ``options``
    is the ``agent`` config or a plain mapping such as ``{"hidden_sizes": [8]}`` (a key no form
    reads is refused, :func:`checked_options`: ``hidden_size`` fell back to the default widths);
    ``dtype`` a torch dtype or its name (``"float64"``)."""
    form = policy_class(name)
    if isinstance(dtype, str) and isinstance(getattr(torch, dtype, None), torch.dtype):
        dtype = getattr(torch, dtype)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch dtype, e.g. torch.float32; got {dtype!r}")
    if isinstance(options, Mapping):  # a dataclass reads as attributes already
        options = SimpleNamespace(**checked_options(name, dict(options)))
    return form.from_options(input_dim, n_actions, options, dtype)
