r"""Baselines ``b(s)`` subtracted from the return (S&B sec. 13.4).

Because ``E_pi[grad log pi(A|s)] = 0``, ``E[b(s) grad log pi(A|s)] = 0`` for any ``b`` that does
not depend on the action: subtracting it leaves the gradient unbiased and, for a good ``b``,
lowers its variance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import torch
from torch import Tensor

from agents.core.registry import Registry


class Baseline(ABC):
    """``b(s)``: called on state features ``[B, d]`` -> ``[B]``, fitted to the returns."""

    @abstractmethod
    def __call__(self, states: Tensor) -> Tensor:
        """``b(S_t)`` for each row; ``[B]``."""

    def update(self, states: Tensor, returns: Tensor, num_episodes: int) -> None:  # noqa: B027
        """Fit ``b`` to the returns ``G_t`` of ``num_episodes`` episodes (no-op by default)."""

    def state_dict(self) -> dict[str, Tensor]:
        """Tensors to checkpoint (empty when nothing is learned)."""
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:  # noqa: B027
        """Restore what :meth:`state_dict` returned."""

    @classmethod
    @abstractmethod
    def from_options(
        cls, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str
    ) -> Baseline:
        """Build from the ``agent`` settings (``baseline_lr``, ...), read as attributes."""


BASELINES: Registry[Baseline] = Registry("agent.baseline")
"""``agent.baseline`` name -> class."""
register_baseline = BASELINES.register
"""Class decorator: ``@register_baseline("name")`` makes a baseline available as ``agent.baseline=name``."""


@register_baseline("none")
class NoBaseline(Baseline):
    """``b(s) = 0``: plain REINFORCE."""

    def __call__(self, states: Tensor) -> Tensor:
        return states.new_zeros(states.shape[0])

    @classmethod
    def from_options(
        cls, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str
    ) -> Baseline:
        return cls()


@register_baseline("mean")
class RunningMeanBaseline(Baseline):
    r"""``b = mean of every return G_t seen so far`` (a constant, state-independent baseline)."""

    def __init__(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> None:
        self.mean = torch.zeros((), dtype=dtype, device=device)
        self.count = torch.zeros((), dtype=dtype, device=device)

    @classmethod
    def from_options(
        cls, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str
    ) -> Baseline:
        return cls(dtype, device)

    def __call__(self, states: Tensor) -> Tensor:
        return self.mean.expand(states.shape[0])

    def update(self, states: Tensor, returns: Tensor, num_episodes: int) -> None:
        if returns.numel() == 0:
            return
        total = self.count + returns.numel()
        self.mean = self.mean + (returns.sum() - returns.numel() * self.mean) / total
        self.count = total

    def state_dict(self) -> dict[str, Tensor]:
        return {"mean": self.mean, "count": self.count}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.mean, self.count = state["mean"].clone(), state["count"].clone()


@register_baseline("value")
class LinearValueBaseline(Baseline):
    r"""Learned state value ``v(s, w) = w^T x(s)`` (S&B p. 330, "REINFORCE with Baseline").

    Gradient Monte Carlo update, summed over the batch's steps and averaged over its episodes::

        delta_t = G_t - v(S_t, w)
        w <- w + alpha_w * (1/M) sum_t delta_t x(S_t)          (grad_w v = x)
    """

    def __init__(
        self, state_dim: int, lr: float, dtype: torch.dtype, device: torch.device | str = "cpu"
    ) -> None:
        self.weight = torch.zeros(state_dim, dtype=dtype, device=device)
        self.lr = lr

    @classmethod
    def from_options(
        cls, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str
    ) -> Baseline:
        return cls(state_dim, options.baseline_lr, dtype, device)

    def __call__(self, states: Tensor) -> Tensor:
        return states @ self.weight

    def update(self, states: Tensor, returns: Tensor, num_episodes: int) -> None:
        delta = returns - self(states)
        self.weight = self.weight + self.lr * (delta @ states) / num_episodes

    def state_dict(self) -> dict[str, Tensor]:
        return {"weight": self.weight}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.weight = state["weight"].clone()


def make_baseline(
    name: str, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str = "cpu"
) -> Baseline:
    """The baseline registered as ``name`` (``agent.baseline``); a one-line error lists the others."""
    return BASELINES.lookup(name).from_options(state_dim, options, dtype, device)
