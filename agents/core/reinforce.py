r"""The REINFORCE update (Sutton & Barto ch. 13, Williams 1992).

For a batch of M complete episodes the gradient estimate is

    g = (1/M) sum_episodes sum_t  w_t A_t grad log pi(A_t|S_t)  +  c_H (1/M) sum_t grad H(pi(.|S_t))
    A_t = G_t - b(S_t)                                             (the advantage)

with ``w_t = gamma^t`` when ``discount_weighting`` (the textbook rule, S&B p. 328) and 1
otherwise, ``b`` a baseline (:mod:`agents.core.baselines`) and ``sum_t c_t grad log pi`` from the
policy's hand-derived :meth:`~agents.core.policy.SoftmaxPolicy.policy_gradient` (or its autograd
twin). The optimizer *ascends* it: ``theta <- theta + alpha g`` for SGD, Adam's rescaled step for
Adam. We hand the optimizer ``-g`` as ``.grad`` because torch optimizers minimise.

Two ways to apply it, two methods:

* :meth:`Reinforce.update_batch`: one step with the whole batch's ``g``.
* :meth:`Reinforce.update_per_step`: the textbook pseudocode literally: for ``t = 0 .. T-1``
  one step with that single term, at the parameters left by the previous step.

``normalize_returns`` means the same in both: the advantages ``A_t`` of the batch are
standardised to mean 0 and standard deviation 1 before they weight the scores. The baseline does
not depend on the policy, so in per-step mode its ``T`` successive fits run first (recording the
``A_t`` each step would see), then the standardised advantages drive the ``T`` policy steps.

Time limits (``agent.bootstrap_truncated``; Pardo et al. 2018, "Time Limits in Reinforcement
Learning"). An episode that a time limit cuts at step ``T`` (truncated, not terminated) did not
end at ``S_T``: its return goes on. With a learned ``v`` (``agent.baseline=value``) the part past
the cut is estimated by ``v(S_T)``::

    G_t = sum_{k=t}^{T-1} gamma^{k-t} R_{k+1}  +  gamma^{T-t} v(S_T)

the Monte Carlo return of the same episode with its last reward ``R_T`` replaced by
``R_T + gamma v(S_T)`` (the recursion ``G_t = R_{t+1} + gamma G_{t+1}`` carries ``gamma^{T-1-t}`` of
it back to step ``t``). :meth:`Reinforce.time_limit_bonus` gives ``gamma v(S_T)``; the runtime adds it
to the stored last reward when the episode ends (as SB3's rollout buffers do), so the returns,
the advantages and the baseline's regression targets all include it. Without it, where every
episode times out the return ``G_t = -(1 - gamma^{T-t}) / (1 - gamma)`` (reward -1 a step) says
only how many steps were left before the cut, which the policy cannot influence.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor

from agents.core.baselines import DIVERGED_HINT, Baseline, NoBaseline
from agents.core.batch import (
    EpisodeBatch,
    NumericalError,
    UpdateStats,
    all_finite,
    float64_norms,
    optimizer_state_copy,
    optimizer_state_finite,
    optimizer_step,
    overflowed_state,
    put_back_optimizer_state,
)
from agents.core.policy import GradientFn, SoftmaxPolicy, mean_entropy
from agents.core.returns import check_gamma, discount_weights, discounted_returns, longest_episode


def reinforce_gradient(
    gradient_fn: GradientFn, inputs: Tensor, actions: Tensor, advantages: Tensor, weights: Tensor | None,
    num_episodes: int,
) -> Tensor:  # fmt: skip
    r"""The REINFORCE estimate ``g = (1/M) sum_t w_t (G_t - b(S_t)) grad log pi(A_t|S_t)`` (no entropy term).

    A pure function of its arguments, so ``torch.func.vmap`` can map it over a stack of runs
    (``gradient_fn = partial(policy.policy_gradient_with, theta)``), as
    :mod:`agents.studies.sutton_barto` does.

    :param gradient_fn: ``(inputs, actions, coefficients) -> sum_t c_t score_t``, e.g.
        ``policy.policy_gradient``.
    :param inputs: ``[T, ...]`` policy inputs; ``actions``: ``[T]``.
    :param advantages: ``G_t - b(S_t)``, ``[T]``.
    :param weights: ``w_t = gamma^t``, ``[T]``, or None for ``w_t = 1``.
    :param num_episodes: ``M``, the episodes the ``T`` steps come from.
    :return: ``g``, shaped like the policy parameter.
    """
    return gradient_fn(inputs, actions, reinforce_coefficients(advantages, weights, num_episodes))


def check_update_settings(gamma: float, entropy_coef: float, max_grad_norm: float) -> None:
    """``ValueError`` unless ``gamma`` is in ``[0, 1]`` and ``entropy_coef`` and ``max_grad_norm``
    are finite numbers ``>= 0`` (a negative or nan one turned the entropy term or the clipping off),
    as Python or numpy gives them (a tensor is no setting, as for ``gamma``)."""
    check_gamma(gamma)
    for name, value in (("entropy_coef", entropy_coef), ("max_grad_norm", max_grad_norm)):
        number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
        if not (math.isfinite(number) and number >= 0):  # (numpy's numbers too: np.float32(0.01) was refused)
            raise ValueError(f"{name}={value!r} must be a finite number >= 0 (0 turns it off)")


def reinforce_coefficients(advantages: Tensor, weights: Tensor | None, num_episodes: int) -> Tensor:
    """``c_t = w_t (G_t - b(S_t)) / M``, the weight of ``grad log pi(A_t|S_t)`` in ``g`` (``weights``
    None: ``w_t = 1``, the same numbers without a pass multiplying by ones)."""
    return (advantages if weights is None else weights * advantages) / num_episodes


class Reinforce:
    """Applies the update above to one policy with the collaborators it is given.

    :param policy: any :class:`~agents.core.policy.SoftmaxPolicy`.
    :param optimizer: a torch optimizer over ``[policy.param]``.
    :param baseline: ``b(s)``; None = :class:`~agents.core.baselines.NoBaseline`.
    :param gamma: discount factor in ``[0, 1]``.
    :param normalize_returns: standardise the batch's advantages (see the module docstring).
    :param discount_weighting: weight step ``t`` by ``gamma^t``.
    :param per_step_updates: :meth:`update` runs :meth:`update_per_step` instead of :meth:`update_batch`.
    :param entropy_coef: weight ``c_H`` of the entropy bonus (>= 0).
    :param max_grad_norm: clip ``g`` to this L2 norm; 0 disables clipping.
    :param gradient_fn: ``(inputs, actions, coefficients) -> sum_t c_t score_t``; None =
        ``policy.policy_gradient`` (hand-derived); ``policy.autograd_policy_gradient`` checks it.
    """

    def __init__(
        self,
        policy: SoftmaxPolicy,
        *,
        optimizer: torch.optim.Optimizer,
        baseline: Baseline | None = None,
        gamma: float = 0.99,
        normalize_returns: bool = False,
        discount_weighting: bool = False,
        per_step_updates: bool = False,
        entropy_coef: float = 0.0,
        max_grad_norm: float = 0.0,
        gradient_fn: GradientFn | None = None,
    ) -> None:
        check_update_settings(gamma, entropy_coef, max_grad_norm)
        if not any(param is policy.param for group in optimizer.param_groups for param in group["params"]):
            raise ValueError(  # it stepped other tensors: the policy never changed
                "the optimizer must hold the policy's parameter: e.g. torch.optim.Adam([policy.param])"
            )
        self.policy, self.optimizer = policy, optimizer
        self.baseline = baseline if baseline is not None else NoBaseline()
        self.gamma, self.normalize_returns = gamma, normalize_returns
        self.discount_weighting, self.per_step_updates = discount_weighting, per_step_updates
        self.entropy_coef, self.max_grad_norm = float(entropy_coef), float(max_grad_norm)  # (a Fraction's
        # product with a tensor failed)
        self.gradient_fn: GradientFn = gradient_fn or policy.policy_gradient

    @torch.no_grad()
    def time_limit_bonus(self, final_states: Tensor) -> Tensor:
        """``gamma v(S_T)``, added to the last reward of an episode cut by a time limit at
        ``S_T`` (module docstring); ``final_states``: ``x(S_T)`` ``[n, d]`` -> ``[n]``."""
        return self.gamma * self.baseline(final_states)

    @torch.no_grad()
    def update(self, batch: EpisodeBatch, with_stats: bool = True) -> UpdateStats:
        """:meth:`update_per_step` or :meth:`update_batch`, as configured."""
        if self.per_step_updates:
            return self.update_per_step(batch, with_stats)
        return self.update_batch(batch, with_stats)

    @torch.no_grad()
    def update_batch(self, batch: EpisodeBatch, with_stats: bool = True) -> UpdateStats:
        """One optimizer step with the whole batch's ``g``. ``with_stats=False`` skips the entropy,
        objective and mean return (reported as nan), which only logging needs."""
        returns, weights = self._returns_and_weights(batch)
        advantages = self._advantages(returns, self.baseline.for_batch(batch.states, returns, batch.dones))
        self.baseline.update(batch.states, returns, batch.num_episodes)
        grad_norm, log_probs = self._step(batch, slice(None), advantages, weights, batch.num_episodes,
                                          with_log_probs=with_stats)  # fmt: skip
        return self._stats(batch, returns, advantages, weights, grad_norm, with_stats, log_probs)

    @torch.no_grad()
    def update_per_step(self, batch: EpisodeBatch, with_stats: bool = True) -> UpdateStats:
        """The textbook loop: for each ``t`` one step with ``w_t A_t grad log pi(A_t|S_t)`` (``M = 1``),
        the baseline fitted on ``(S_t, G_t)`` after each."""
        returns, weights = self._returns_and_weights(batch)
        raw_advantages = []
        for t in range(returns.shape[0]):  # the baseline's T fits do not depend on the policy
            step = slice(t, t + 1)
            raw_advantages.append(returns[step] - self.baseline(batch.states[step]))
            self.baseline.update(batch.states[step], returns[step], 1)
        advantages = self._advantages(torch.cat(raw_advantages), None)
        grad_norm = math.nan
        for t in range(returns.shape[0]):  # textbook: theta changes after every step
            step = slice(t, t + 1)
            weight = None if weights is None else weights[step]
            grad_norm, _ = self._step(batch, step, advantages[step], weight, 1)
        return self._stats(batch, returns, advantages, weights, grad_norm, with_stats)

    def _returns_and_weights(self, batch: EpisodeBatch) -> tuple[Tensor, Tensor | None]:
        """``G_t`` and ``w_t`` of a batch of complete episodes (None: ``w_t = 1``)."""
        if batch.num_episodes == 0 or not bool(batch.dones[-1]):
            raise ValueError("an update needs complete episodes: the batch's last step must end one")
        # G_t (the scan stops at the longest episode)
        longest = longest_episode(batch.dones, batch.episode_ends)
        # in the policy's dtype, as the trainer gives them: float64 rewards (numpy's) for a float32
        # policy were refused as coefficients of another dtype; float32 ones for float64 summed in float32
        rewards = batch.rewards.to(self.policy.param.dtype)
        returns = discounted_returns(rewards, self.gamma, batch.dones, longest)
        if not all_finite(returns):
            raise NumericalError("non-finite returns (rewards overflow?)")
        if self.discount_weighting:
            return returns, discount_weights(batch.dones, self.gamma, returns.dtype).to(returns.device)
        return returns, None

    def _advantages(self, returns: Tensor, baseline_values: Tensor | None) -> Tensor:
        """``A_t = G_t - b(S_t)`` (``baseline_values`` None: already subtracted), standardised when
        ``normalize_returns``."""
        advantages = returns if baseline_values is None else returns - baseline_values
        if not all_finite(advantages):
            raise NumericalError(f"non-finite advantages: the baseline diverged ({DIVERGED_HINT})")
        return _standardize(advantages) if self.normalize_returns else advantages

    def _step(
        self, batch: EpisodeBatch, steps: slice, advantages: Tensor, weights: Tensor | None,
        num_episodes: int, with_log_probs: bool = False,
    ) -> tuple[float, Tensor | None]:  # fmt: skip
        """One optimizer step on the terms ``steps`` of the batch; returns ``|g|`` before clipping
        and, if ``with_log_probs``, ``log pi(.|S_t)`` ``[T, A]`` at the parameters before the step."""
        inputs, actions = batch.inputs[steps], batch.actions[steps]
        coefficients, log_probs = reinforce_coefficients(advantages, weights, num_episodes), None
        if with_log_probs:
            gradient, log_probs = self._gradient_and_log_probs(inputs, actions, coefficients)
        else:
            gradient = self.gradient_fn(inputs, actions, coefficients)
        if self.entropy_coef > 0:
            entropy_grad = self.policy.entropy_gradient(inputs).sum(0) / num_episodes
            gradient = gradient + self.entropy_coef * entropy_grad
        grad_norm = float(gradient.norm())
        if not math.isfinite(grad_norm):  # a float32 sum of squares overflows past |g| = 1.8e19
            grad_norm = float(float64_norms(gradient.reshape(1, -1))[0])
            if not math.isfinite(grad_norm):
                raise NumericalError("non-finite policy gradient")
        if self.max_grad_norm > 0 and grad_norm > self.max_grad_norm:
            gradient = gradient * (self.max_grad_norm / grad_norm)
        param = self.policy.param
        last_good, last_good_state = param.detach().clone(), optimizer_state_copy(self.optimizer)
        param.grad = -gradient  # optimizers minimise; we ascend J
        optimizer_step(self.optimizer, "agent.lr")
        problem = None
        if not torch.isfinite(param).all():
            problem = NumericalError("the update made the policy parameters non-finite")
        elif not optimizer_state_finite(self.optimizer):  # (the run went on with its policy frozen,
            problem = overflowed_state(param.dtype, grad_norm, self.normalize_returns)  # and a resume
            # refused its checkpoint as altered)
        if problem is not None:  # keep the last good state (parameters and optimizer) for the checkpoint
            param.copy_(last_good)
            put_back_optimizer_state(self.optimizer, last_good_state)
            raise problem
        return grad_norm, log_probs

    def _gradient_and_log_probs(
        self, inputs: Tensor, actions: Tensor, coefficients: Tensor
    ) -> tuple[Tensor, Tensor]:
        """``sum_t c_t grad log pi(A_t|S_t)`` and ``log pi(.|S_t)`` at the same parameters: from one
        forward pass when the gradient is the form's hand-derived one (the statistics of an update
        then cost no second pass), else the configured gradient and a log-softmax pass."""
        if self.gradient_fn == self.policy.policy_gradient:
            return self.policy.policy_gradient_and_log_probs(inputs, actions, coefficients)
        return self.gradient_fn(inputs, actions, coefficients), self.policy.log_probs(inputs)

    def _stats(
        self, batch: EpisodeBatch, returns: Tensor, advantages: Tensor, weights: Tensor | None,
        grad_norm: float, with_stats: bool, log_probs: Tensor | None = None,
    ) -> UpdateStats:  # fmt: skip
        """The logging statistics (nan unless ``with_stats``), from ``log pi(.|S_t)`` ``log_probs``
        (None: at the current parameters, e.g. after the ``T`` steps of a per-step update)."""
        if not with_stats:
            return UpdateStats(math.nan, math.nan, grad_norm, math.nan)
        ends = batch.episode_ends
        starts = torch.cat([ends.new_zeros(1), ends[:-1] + 1])  # each episode's first step
        mean_return = float(returns[starts].mean())  # the mean G_0
        if log_probs is None:
            log_probs = self.policy.log_probs(batch.inputs)  # one pass for both statistics
        log_prob = log_probs.mT.gather(0, batch.actions.long()[None])[0]  # log pi(A_t|S_t); 2x faster
        # than along the last axis, whether log_probs is [T, A] or the view of an [A, T] tensor
        entropy = mean_entropy(log_probs)
        weighted = advantages.double() if weights is None else weights.double() * advantages.double()
        terms = weighted * log_prob.double()  # float32 products overflow
        objective = float(terms.sum() / batch.num_episodes)
        if not (math.isfinite(objective) and math.isfinite(entropy)):  # a logit near the dtype's largest
            dtype = str(log_probs.dtype).removeprefix("torch.")  # number: log pi = -2 h overflowed it
            wider = " or agent.dtype=float64" if dtype == "float32" else ""
            raise NumericalError(
                f"non-finite log-probabilities: the policy's logits reach the end of {dtype}'s range "
                f"(try a lower agent.lr{wider})"
            )
        return UpdateStats(objective, entropy, grad_norm, mean_return)

    def state_dict(self) -> dict[str, object]:
        return {"optimizer": self.optimizer.state_dict(), "baseline": self.baseline.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]
        self.baseline.load_state_dict(state["baseline"])  # type: ignore[arg-type]


def _standardize(values: Tensor) -> Tensor:
    """``(v - mean) / (std + 1e-8)``; a single value is left as it is. Values whose squares (or sum)
    overflow (past 1.3e154 in float64, 1.8e19 in float32) are divided by the largest ``|v|`` first,
    as standardising is unchanged by a scale: their std was inf, and every advantage 0."""
    if values.numel() < 2:
        return values
    mean, std = values.mean(), values.std()
    if not (math.isfinite(float(mean)) and math.isfinite(float(std))) and all_finite(values):
        return _standardize(values / values.abs().max())
    return (values - mean) / (std + 1e-8)
