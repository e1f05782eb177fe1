"""The data that crosses layers: a batch of complete episodes in, an update's statistics out."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor


class NumericalError(RuntimeError):
    """A non-finite return, score or parameter: the trainer saves the last good state and stops."""


def optimizer_step(optimizer: torch.optim.Optimizer, lr_key: str) -> None:
    """``optimizer.step()``, with torch's overflow of a huge step size (Adam's ``lr / (1 - beta1)``
    past float32's range) as a :class:`NumericalError` naming ``lr_key``, the setting to lower."""
    try:
        optimizer.step()
    except RuntimeError as error:
        if "overflow" not in str(error):
            raise
        raise NumericalError(
            f"the optimizer's step size overflowed the parameters' dtype ({lr_key} is too large)"
        ) from None


OptimizerState = dict[Tensor, dict[str, Any]]
"""``optimizer.state``: each parameter's entries (Adam's step count and running averages)."""


def optimizer_state_copy(optimizer: torch.optim.Optimizer) -> OptimizerState:
    """A copy of ``optimizer.state``, each tensor cloned, which :func:`put_back_optimizer_state`
    restores after a step that failed (a few microseconds, where a ``state_dict`` deep copy costs
    tens)."""
    return {
        param: {key: value.clone() if isinstance(value, Tensor) else value for key, value in state.items()}
        for param, state in optimizer.state.items()
    }


def put_back_optimizer_state(optimizer: torch.optim.Optimizer, saved: OptimizerState) -> None:
    """Make ``saved`` (:func:`optimizer_state_copy`) ``optimizer``'s state again (entries a failed
    first step created go too)."""
    optimizer.state.clear()
    optimizer.state.update(saved)


def optimizer_state_finite(optimizer: torch.optim.Optimizer) -> bool:
    """Whether every floating-point tensor of ``optimizer``'s state is finite: Adam's running
    average of ``g^2`` overflows where ``|g|`` passes the square root of the dtype's largest number
    (1.8e19 in float32), and its step ``m / sqrt(inf)`` is then 0: the policy stops moving."""
    return all(
        all_finite(value)
        for state in optimizer.state.values()
        for value in state.values()
        if isinstance(value, Tensor) and value.is_floating_point()
    )


def float64_norms(rows: Tensor) -> Tensor:
    """Euclidean norms of the rows of ``rows`` ``[k, n]`` in float64, where a float32 sum of squares
    overflowed (past a norm of 1.8e19). Where float64's overflows too (past 1.3e154), each finite row
    is divided by its largest ``|value|`` first: a gradient of finite entries was called non-finite
    and blamed on the learning rate."""
    norms = torch.linalg.vector_norm(rows, dim=1, dtype=torch.float64)
    if bool(torch.isfinite(norms).all()) or not all_finite(rows):
        return norms
    largest = rows.abs().amax(dim=1, keepdim=True).double()
    scale = torch.where(largest > 0, largest, 1.0)
    return scale[:, 0] * torch.linalg.vector_norm(rows.double() / scale, dim=1)


class OptimizerStateOverflow(NumericalError):
    """An optimizer's state overflowed its dtype (:func:`optimizer_state_finite`): the line says what
    to change, which no learning rate would (a lower one leaves the gradient as large).

    :param what: whose optimizer and what made it overflow, e.g. ``"the optimizer's state overflowed
        float32 (a policy gradient of norm 2e+21, whose square is past its range)"``.
    :param dtype: the dtype it overflowed (float32: float64 holds more).
    :param settings: the settings that would also cure it, each as ``key=value`` (none known: empty).
    """

    def __init__(self, what: str, dtype: torch.dtype, settings: tuple[str, ...] = ()) -> None:
        wider = ("agent.dtype=float64",) if dtype != torch.float64 else ()
        remedies = [*wider, "an env whose rewards and observations are on a smaller scale", *settings]
        super().__init__(f"{what}: use {', or '.join(remedies)}")


def overflowed_state(
    dtype: torch.dtype, grad_norm: float, standardised: bool | None = None
) -> OptimizerStateOverflow:
    """The error of a policy optimizer whose state overflowed ``dtype`` under a gradient of norm
    ``grad_norm``; ``standardised``: ``agent.normalize_returns`` (False: it suggests it; None: not
    known, it suggests it where it is off)."""
    name = str(dtype).removeprefix("torch.")
    what = (
        f"the optimizer's state overflowed {name} (a policy gradient of norm {grad_norm:.3g}, whose "
        "square is past its range)"
    )
    where = "" if standardised is False else " where it is off"
    return OptimizerStateOverflow(
        what, dtype, () if standardised else (f"agent.normalize_returns=true{where}",)
    )


def true_indices(mask: Tensor) -> Tensor:
    """``torch.nonzero(mask).flatten()`` for a flat ``[T]`` mask; on the CPU from numpy's
    ``flatnonzero``, the same indices 5x faster."""
    if mask.device.type == "cpu":
        return torch.from_numpy(np.flatnonzero(mask.numpy()))
    return torch.nonzero(mask).flatten()


def all_finite(values: Tensor) -> bool:
    """``torch.isfinite(values).all()``, from one sum when it is finite (a sum of finite terms may
    overflow, but an inf or nan term always makes it non-finite): 8x cheaper on a large batch."""
    return bool(torch.isfinite(values.sum())) or bool(torch.isfinite(values).all())


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

    def __post_init__(self) -> None:
        """``ValueError`` unless every field has one entry per step (a shorter one ended in torch's
        "The size of tensor a (5) must match the size of tensor b (3)" inside the update)."""
        fields = ("inputs", "states", "actions", "rewards", "dones")
        steps = {name: len(getattr(self, name)) for name in fields}
        if len(set(steps.values())) > 1:
            sizes = ", ".join(f"{name} {size}" for name, size in steps.items())
            raise ValueError(f"an EpisodeBatch holds one entry per step in each field; got {sizes}")

    @cached_property
    def episode_ends(self) -> Tensor:
        """Index of each episode's last step, ``[M]`` (found once: the returns' scan, the episode
        count and the statistics' episode starts all read it)."""
        return true_indices(self.dones)

    @cached_property
    def num_episodes(self) -> int:
        """Episodes in the batch, ``M``."""
        return len(self.episode_ends)


@dataclass
class UpdateStats:
    """What one update reports to the logger."""

    policy_objective: float
    """Surrogate ``(1/M) sum_t w_t A_t log pi(A_t|S_t)`` whose gradient is g, at the parameters
    g was taken at (before the step; after all of them in per-step mode)."""
    entropy: float
    """Mean policy entropy over the batch's states (at the same parameters)."""
    grad_norm: float
    """L2 norm of g before clipping (per-step mode: of the last step's single term)."""
    mean_return: float
    """Mean of G_0 over the batch's episodes."""
