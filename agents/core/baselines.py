r"""Baselines ``b(s)`` subtracted from the return (S&B sec. 13.4).

Because ``E_pi[grad log pi(A|s)] = 0``, ``E[b(s) grad log pi(A|s)] = 0`` for any ``b`` that does
not depend on the action: subtracting it leaves the gradient unbiased and, for a good ``b``,
lowers its variance.
"""

from __future__ import annotations

import torch
from torch import Tensor


class NoBaseline:
    """``b(s) = 0``: plain REINFORCE."""

    def __call__(self, states: Tensor) -> Tensor:
        return states.new_zeros(states.shape[0])

    def update(self, states: Tensor, returns: Tensor, num_episodes: int) -> None:
        """Nothing to learn."""

    def state_dict(self) -> dict[str, Tensor]:
        return {}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        """Nothing to restore."""


class RunningMeanBaseline(NoBaseline):
    r"""``b = mean of every return G_t seen so far`` (a constant, state-independent baseline)."""

    def __init__(self, dtype: torch.dtype, device: torch.device | str = "cpu") -> None:
        self.mean = torch.zeros((), dtype=dtype, device=device)
        self.count = torch.zeros((), dtype=dtype, device=device)

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


class LinearValueBaseline(NoBaseline):
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

    def __call__(self, states: Tensor) -> Tensor:
        return states @ self.weight

    def update(self, states: Tensor, returns: Tensor, num_episodes: int) -> None:
        delta = returns - self(states)
        self.weight = self.weight + self.lr * (delta @ states) / num_episodes

    def state_dict(self) -> dict[str, Tensor]:
        return {"weight": self.weight}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        self.weight = state["weight"].clone()


Baseline = NoBaseline | RunningMeanBaseline | LinearValueBaseline


def make_baseline(
    name: str, state_dim: int, lr: float, dtype: torch.dtype, device: torch.device | str
) -> Baseline:
    """``agent.baseline`` -> baseline object (names validated in :mod:`agents.runtime.config`)."""
    if name == "value":
        return LinearValueBaseline(state_dim, lr, dtype, device)
    if name == "mean":
        return RunningMeanBaseline(dtype, device)
    return NoBaseline()
