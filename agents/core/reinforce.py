r"""The REINFORCE update (Sutton & Barto ch. 13, Williams 1992).

For a batch of M complete episodes the gradient estimate is

    g = (1/M) sum_episodes sum_t  w_t (G_t - b(S_t)) grad log pi(A_t|S_t)
        + c_H (1/M) sum_t grad H(pi(.|S_t))

with ``w_t = gamma^t`` when ``agent.discount_weighting`` (the textbook rule, S&B p. 328) and 1
otherwise, ``b`` a baseline (:mod:`agents.core.baselines`) and ``grad log pi`` from the policy's
:meth:`score` or :meth:`autograd_score` (``agent.score``). The optimizer *ascends* it:
``theta <- theta + alpha g`` for ``sgd``, Adam's rescaled step for ``adam``. We hand the
optimizer ``-g`` as ``.grad`` because torch optimizers minimise.

``agent.per_step_updates`` applies the textbook pseudocode literally: after generating an
episode, for ``t = 0 .. T-1`` take one step with that single term, at the parameters left by the
previous step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from agents.core.baselines import make_baseline
from agents.core.policies import ScoreFn, SoftmaxPolicy, entropy_of
from agents.core.returns import discount_weights, discounted_returns
from agents.runtime.config import AgentConfig


class NumericalError(RuntimeError):
    """A non-finite return, score or parameter: the trainer saves the last good state and stops."""


@dataclass
class EpisodeBatch:
    """Complete episodes laid end to end along the first axis (``T`` steps in all)."""

    inputs: Tensor
    """Policy inputs: state features ``x [T, d]`` or action features ``phi [T, A, d]``."""
    states: Tensor
    """State features ``x(S_t)`` ``[T, d]`` (for the value baseline)."""
    actions: Tensor
    """``A_t`` ``[T]`` int64."""
    rewards: Tensor
    """``R_{t+1}`` ``[T]``."""
    dones: Tensor
    """``[T]`` bool, True on the last step of each episode."""

    @property
    def num_episodes(self) -> int:
        return int(self.dones.sum())


@dataclass
class UpdateStats:
    """What one update reports to the logger."""

    policy_objective: float
    """Surrogate ``(1/M) sum_t w_t A_t log pi(A_t|S_t)`` whose gradient is g."""
    entropy: float
    """Mean policy entropy over the batch's states."""
    grad_norm: float
    """L2 norm of g before clipping."""
    mean_return: float
    """Mean of G_0 over the batch's episodes."""


def policy_gradient(score_fn: ScoreFn, inputs: Tensor, actions: Tensor, coefficients: Tensor) -> Tensor:
    r"""``sum_t coefficients_t grad log pi(A_t|S_t)``: per-sample scores contracted with weights.

    :param score_fn: ``policy.score`` or ``policy.autograd_score`` (same signature).
    :param inputs: ``[T, ...]`` policy inputs; ``actions``: ``[T]``; ``coefficients``: ``[T]``.
    :return: a tensor shaped like the policy parameter.
    """
    scores = score_fn(inputs, actions)  # [T, *param]
    return torch.tensordot(coefficients, scores, dims=1)


def reinforce_gradient(
    score_fn: ScoreFn, inputs: Tensor, actions: Tensor, advantages: Tensor, weights: Tensor, num_episodes: int
) -> Tensor:
    r"""The REINFORCE estimate ``g = (1/M) sum_t w_t (G_t - b(S_t)) grad log pi(A_t|S_t)`` (no entropy term).

    A pure function of its arguments, so ``torch.func.vmap`` can map it over a stack of runs
    (``score_fn = partial(policy.score_with, theta)``), as :mod:`agents.studies.sutton_barto` does.

    :param score_fn: ``(inputs, actions) -> [T, *param]`` scores, e.g. ``policy.score``.
    :param inputs: ``[T, ...]`` policy inputs; ``actions``: ``[T]``.
    :param advantages: ``G_t - b(S_t)``, ``[T]``.
    :param weights: ``w_t`` (``gamma^t`` or 1), ``[T]``.
    :param num_episodes: ``M``, the episodes the ``T`` steps come from.
    :return: ``g``, shaped like the policy parameter.
    """
    coefficients = weights * advantages / num_episodes  # w_t (G_t - b(S_t)) / M
    return policy_gradient(score_fn, inputs, actions, coefficients)


class Reinforce:
    """Owns the optimizer and baseline of one policy and applies the update above.

    :param policy: a linear softmax policy.
    :param cfg: the ``agent`` config.
    :param state_dim: length of the state features (for the value baseline).
    """

    def __init__(self, policy: SoftmaxPolicy, cfg: AgentConfig, state_dim: int) -> None:
        self.policy, self.cfg = policy, cfg
        self.score_fn: ScoreFn = policy.score if cfg.score == "closed_form" else policy.autograd_score
        param = policy.param
        if cfg.optimizer == "sgd":
            self.optimizer: torch.optim.Optimizer = torch.optim.SGD([param], lr=cfg.lr)
        else:
            self.optimizer = torch.optim.Adam([param], lr=cfg.lr)
        self.baseline = make_baseline(cfg.baseline, state_dim, cfg.baseline_lr, param.dtype, param.device)

    def set_progress(self, fraction: float) -> None:
        """Learning-rate schedule: ``constant`` or ``linear`` decay to 0 at the end of the budget."""
        if self.cfg.lr_schedule == "linear":
            for group in self.optimizer.param_groups:
                group["lr"] = self.cfg.lr * max(1.0 - fraction, 0.0)

    @torch.no_grad()
    def update(self, batch: EpisodeBatch, with_stats: bool = True) -> UpdateStats:
        """One REINFORCE update from a batch of complete episodes (gradients by the policy's
        score functions, so no autograd graph is recorded here). ``with_stats=False`` skips the
        entropy, objective and mean return (reported as nan), which only logging needs."""
        cfg = self.cfg
        num_episodes = batch.num_episodes
        if num_episodes == 0 or not bool(batch.dones[-1]):
            raise ValueError("an update needs complete episodes: the batch's last step must end one")
        returns = discounted_returns(batch.rewards, cfg.gamma, batch.dones)  # G_t
        if not torch.isfinite(returns).all():
            raise NumericalError("non-finite returns (rewards overflow?)")
        weights = (
            discount_weights(batch.dones, cfg.gamma, returns.dtype).to(returns.device)
            if cfg.discount_weighting
            else torch.ones_like(returns)
        )
        if cfg.per_step_updates:
            if cfg.normalize_returns:
                returns = _standardize(returns)
            used = []
            for t in range(returns.shape[0]):  # textbook: theta changes after every step
                step = slice(t, t + 1)
                grad_norm, advantage = self._step(batch, step, returns[step], weights[step], 1)
                used.append(advantage)
            advantages = torch.cat(used)
        else:
            grad_norm, advantages = self._step(batch, slice(None), returns, weights, num_episodes)
        if not with_stats:
            return UpdateStats(math.nan, math.nan, grad_norm, math.nan)
        episode_starts = torch.cat([batch.dones.new_ones(1), batch.dones[:-1]])
        mean_return = float(returns[episode_starts].mean())
        log_probs = self.policy.log_probs(batch.inputs)  # one pass for both statistics
        log_prob = log_probs.gather(-1, batch.actions.long().unsqueeze(-1)).squeeze(-1)
        entropy = float(entropy_of(log_probs).mean())
        objective = float((weights * advantages * log_prob).double().sum() / num_episodes)
        return UpdateStats(objective, entropy, grad_norm, mean_return)

    def _step(
        self, batch: EpisodeBatch, steps: slice, returns: Tensor, weights: Tensor, num_episodes: int
    ) -> tuple[float, Tensor]:
        """One optimizer step on the terms ``steps`` of the batch; returns the gradient norm and the
        advantages it used."""
        inputs, states, actions = batch.inputs[steps], batch.states[steps], batch.actions[steps]
        advantages = returns - self.baseline(states)  # G_t - b(S_t)
        if not torch.isfinite(advantages).all():
            raise NumericalError("non-finite advantages: the baseline diverged (lower agent.baseline_lr)")
        if self.cfg.normalize_returns and not self.cfg.per_step_updates:
            advantages = _standardize(advantages)
        self.baseline.update(states, returns, num_episodes)
        gradient = reinforce_gradient(self.score_fn, inputs, actions, advantages, weights, num_episodes)
        if self.cfg.entropy_coef > 0:
            entropy_grad = self.policy.entropy_gradient(inputs).sum(0) / num_episodes
            gradient = gradient + self.cfg.entropy_coef * entropy_grad
        grad_norm = float(gradient.norm())
        if not math.isfinite(grad_norm):
            raise NumericalError("non-finite policy gradient")
        if self.cfg.max_grad_norm > 0 and grad_norm > self.cfg.max_grad_norm:
            gradient = gradient * (self.cfg.max_grad_norm / grad_norm)
        param = self.policy.param
        last_good = param.detach().clone()
        param.grad = -gradient  # optimizers minimise; we ascend J
        self.optimizer.step()
        if not torch.isfinite(param).all():
            param.copy_(last_good)  # keep the last good parameters for the checkpoint
            raise NumericalError("the update made the policy parameters non-finite")
        return grad_norm, advantages

    def state_dict(self) -> dict[str, object]:
        return {"optimizer": self.optimizer.state_dict(), "baseline": self.baseline.state_dict()}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])  # type: ignore[arg-type]
        self.baseline.load_state_dict(state["baseline"])  # type: ignore[arg-type]


def _standardize(values: Tensor) -> Tensor:
    """``(v - mean) / (std + 1e-8)``; a single value is left as it is."""
    if values.numel() < 2:
        return values
    return (values - values.mean()) / (values.std() + 1e-8)
