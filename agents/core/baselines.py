r"""Baselines ``b(s)`` subtracted from the return (S&B sec. 13.4).

Because ``E_pi[grad log pi(A|s)] = 0``, ``E[b(s) grad log pi(A|s)] = 0`` for any ``b`` that does
not depend on the action: subtracting it leaves the gradient unbiased and, for a good ``b``,
lowers its variance.
"""

from __future__ import annotations

import copy
import itertools
import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from agents.core.batch import (
    NumericalError,
    OptimizerStateOverflow,
    all_finite,
    optimizer_state_finite,
    optimizer_step,
)
from agents.core.registry import Registry
from agents.core.returns import steps_since_start


class Baseline(ABC):
    """``b(s)``: called on state features ``[B, d]`` -> ``[B]``, fitted to the returns."""

    @abstractmethod
    def __call__(self, states: Tensor) -> Tensor:
        """``b(S_t)`` for each row; ``[B]``."""

    def for_batch(self, states: Tensor, returns: Tensor, dones: Tensor) -> Tensor:
        """``b`` at every step of a batch of complete episodes laid end to end (``[T]``); by default
        ``b(S_t)`` from the states alone. ``returns`` (``G_t``) and ``dones`` serve baselines that
        compare episodes with each other (:class:`TimeBaseline`)."""
        return self(states)

    def update(self, states: Tensor, returns: Tensor, num_episodes: int) -> None:  # noqa: B027
        """Fit ``b`` to the returns ``G_t`` of ``num_episodes`` episodes (no-op by default)."""

    def state_dict(self) -> dict[str, Any]:
        """Tensors (nested in dicts) to checkpoint; empty when nothing is learned."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:  # noqa: B027
        """Restore what :meth:`state_dict` returned."""

    def set_step_size(self, step_size: float) -> None:  # noqa: B027
        """Fit with step size ``step_size`` from now on (``agent.baseline_lr`` changed at resume);
        nothing to do for a baseline that takes no steps."""

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


@register_baseline("time")
class TimeBaseline(Baseline):
    r"""``b_i(t)``: the mean return at the same time step ``t`` of the batch's *other* episodes
    (leave-one-out), so it does not depend on episode ``i``'s actions and the estimate stays
    unbiased (time is part of the state of a time-limited task; Duan et al. 2016 give their
    baselines time features for the same reason):

        b_i(t) = 1/(M-1) sum_{j != i} G_j(t),     G_j(t) = 0 for t >= L_j (episode j has ended)

    with ``M`` episodes of lengths ``L_j`` in the batch (``b = 0`` for ``M = 1``). Where every
    episode gets the same rewards, e.g. Acrobot-v1 while every episode times out at -500, each
    ``G_i(t)`` equals ``b_i(t)``: the advantages are exactly 0 and the policy does not move until
    an episode differs, where a state-only ``b(s)`` leaves the part of ``G_t`` that depends on how
    many steps were left before the cut as noise. Needs whole batches (:meth:`for_batch`); nothing
    is learned across batches.
    """

    def __call__(self, states: Tensor) -> Tensor:
        raise ValueError("agent.baseline=time compares whole episodes: call for_batch")

    def for_batch(self, states: Tensor, returns: Tensor, dones: Tensor) -> Tensor:
        ends = dones.to(torch.int64)
        episode = torch.cumsum(ends, 0) - ends  # i: episodes ended before step t
        num_episodes = int(ends.sum())
        if num_episodes < 2:
            return torch.zeros_like(returns)
        time = steps_since_start(dones)  # t within its episode
        padded = returns.new_zeros(num_episodes, int(time.max()) + 1)  # G_j(t), 0 after the end
        padded[episode, time] = returns
        # b_i(t) = G_0(t) + sum_{j != i} (G_j(t) - G_0(t)) / (M-1): the same mean, but where every
        # G_j(t) is equal the differences are exactly 0 and so is G_i(t) - b_i(t) (a rounding error
        # there would become a full step after return standardisation and Adam)
        reference = padded[0]
        differences = padded - reference
        others = (differences.sum(0)[time] - differences[episode, time]) / (num_episodes - 1)
        return reference[time] + others

    @classmethod
    def from_options(
        cls, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str
    ) -> Baseline:
        return cls()


DIVERGED_HINT = (
    "start a new run with a lower agent.baseline_lr: the saved value baseline grew too far to resume from"
)
"""What to do when the value baseline's fit diverged (its last finite weights are huge already)."""
VALUE_OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
"""``agent.value_optimizer`` -> torch optimizer of the value baseline."""
VALUE_ACTIVATIONS: dict[str, type[nn.Module]] = {"tanh": nn.Tanh, "relu": nn.ReLU}
"""Hidden nonlinearity of the value network (``agent.activation``, shared with ``policy=mlp``)."""


@register_baseline("value")
class ValueBaseline(Baseline):
    r"""Learned state value ``v(s, w)`` (S&B p. 330, "REINFORCE with Baseline"), fitted to the
    Monte Carlo returns by regression on each batch:

        L(w) = (1 / 2M) sum_t (G_t - v(S_t, w))^2          (M episodes in the batch)
        grad_w L = -(1/M) sum_t delta_t grad_w v(S_t, w),   delta_t = G_t - v(S_t, w)

    ``hidden_sizes=()`` is the book's linear ``v(s, w) = w^T x(s)``; with plain SGD and one step
    per batch, ``w <- w + alpha_w (1/M) sum_t delta_t x(S_t)`` is its gradient Monte Carlo update.
    With hidden layers ``v`` is a network ``x -> act(x W_1 + b_1) -> ... -> w_L^T h + b_L``
    (orthogonal init with gain sqrt(2), as SB3 does), taken ``epochs`` optimizer steps per batch;
    the output layer starts at zero, so ``v = 0`` before the first fit, in both cases.
    ``grad_w v`` comes from autograd: only the policy's score is derived by hand here.
    """

    def __init__(
        self,
        state_dim: int,
        lr: float,
        dtype: torch.dtype,
        device: torch.device | str = "cpu",
        *,
        hidden_sizes: Sequence[int] = (),
        activation: str = "tanh",
        optimizer: str = "sgd",
        epochs: int = 1,
    ) -> None:
        widths = [state_dim, *hidden_sizes]
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths):
            hidden = nn.Linear(width_in, width_out, dtype=dtype, device=device)
            nn.init.orthogonal_(hidden.weight, gain=math.sqrt(2))
            nn.init.zeros_(hidden.bias)
            layers += [hidden, VALUE_ACTIVATIONS[activation]()]
        head = nn.Linear(widths[-1], 1, bias=bool(hidden_sizes), dtype=dtype, device=device)
        nn.init.zeros_(head.weight)  # v = 0 before the first fit
        if head.bias is not None:
            nn.init.zeros_(head.bias)
        self.network = nn.Sequential(*layers, head)
        self.optimizer = VALUE_OPTIMIZERS[optimizer](self.network.parameters(), lr=lr)
        self.epochs = epochs

    @classmethod
    def from_options(
        cls, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str
    ) -> Baseline:
        """Reads ``baseline_lr``, ``value_hidden_sizes``, ``activation``, ``value_optimizer`` and
        ``value_epochs`` (defaults: the book's linear, SGD, one step)."""
        return cls(
            state_dim,
            options.baseline_lr,
            dtype,
            device,
            hidden_sizes=tuple(getattr(options, "value_hidden_sizes", ())),
            activation=getattr(options, "activation", "tanh"),
            optimizer=getattr(options, "value_optimizer", "sgd"),
            epochs=getattr(options, "value_epochs", 1),
        )

    def __call__(self, states: Tensor) -> Tensor:
        with torch.no_grad():
            return self.network(states).squeeze(-1)

    def update(self, states: Tensor, returns: Tensor, num_episodes: int) -> None:
        """``epochs`` steps on ``L(w)``; a fit that makes ``w`` or the optimizer's state non-finite is
        undone (weights and optimizer state) and raised, so the run's last good state keeps a usable
        baseline (an overflowed state was saved, and a resume refused the file as altered)."""
        last_good = copy.deepcopy(self.state_dict())
        for _ in range(self.epochs):
            with torch.enable_grad():
                residuals = returns - self.network(states).squeeze(-1)  # delta_t
                loss = 0.5 * (residuals * residuals).sum() / num_episodes  # L(w)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
            optimizer_step(self.optimizer, "agent.baseline_lr")
        if not all(all_finite(weight) for weight in self.network.parameters()):
            self.load_state_dict(last_good)
            raise NumericalError(f"the value baseline's fit diverged ({DIVERGED_HINT})")
        if not optimizer_state_finite(self.optimizer):  # Adam's average of g^2, with finite weights
            self.load_state_dict(last_good)
            dtype = str(returns.dtype).removeprefix("torch.")
            raise OptimizerStateOverflow(
                f"the value baseline's optimizer state overflowed {dtype} (returns up to "
                f"{float(returns.abs().max()):.3g}, whose squares are past its range)",
                returns.dtype,
            )

    def state_dict(self) -> dict[str, Any]:
        return {"network": self.network.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])  # with the saved run's step size

    def set_step_size(self, step_size: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = step_size


def make_baseline(
    name: str, state_dim: int, options: Any, dtype: torch.dtype, device: torch.device | str = "cpu"
) -> Baseline:
    """The baseline registered as ``name`` (``agent.baseline``); a one-line error lists the others."""
    return BASELINES.lookup(name).from_options(state_dim, options, dtype, device)
