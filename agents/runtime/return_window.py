r"""The last ``window`` episode returns, their mean, and whether the mean reached the target.

The trainer asks "has the mean of the last ``window`` returns reached the target?" every time an
episode ends (so "steps to 475" is exact; :meth:`ReturnWindow.extend_reaching`): summing the window each
time costs ~2 us, a few percent of a 256-env run. :class:`ReturnWindow` keeps a running sum
``S ~ sum_i r_i`` (add the new return, subtract the one that leaves) that rules the target out
cheaply, and sums the window only when the running mean comes close to it.

The running sum is rounded at each of its ``k`` additions since it was last summed afresh, by at
most ``u |partial sum| <= u A`` each (``u = 2^-53``, ``A = sum |r_i|`` over every return added
since, the window's included), so ``|S - sum_i r_i| <= k u A``. It is summed afresh every
``window`` returns, so ``k <= 3 window`` and the running mean is off by at most
``3 u A ~ 3.3e-16 A``, far inside the margin ``1e-6 A / n`` used below for any window up to
1e9. So the answer is exactly ``window_mean(returns) >= target``, the exact mean's comparison;
a nan or inf return makes the test below fail and the exact mean decides.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable, Iterator

import numpy as np

MARGIN = 1e-6
"""The running mean rules the target out when it lies more than ``MARGIN A / n`` below it."""


def window_mean(returns: Collection[float]) -> float:
    """Mean of a window of returns: ``np.mean``'s sum and division, without its conversion of a
    deque (20 us to 6); nan for none."""
    count = len(returns)
    if not count:
        return float("nan")
    values = np.fromiter(returns, np.float64, count)
    with np.errstate(over="ignore"):  # (the rescaled mean below, not numpy's warning)
        total = float(np.add.reduce(values))
    if total in (np.inf, -np.inf):  # (the sum of finite returns may pass float64's largest number)
        return float(rescaled_means(values[None], np.array([count]))[0])
    return total / count


def rescaled_means(rows: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Means of the rows of ``rows`` ``[k, n]`` (each row's ``counts`` values, zeros after them),
    summed after dividing each row by its largest ``|value|``: finite where the values are, whose
    plain sum passed float64's largest number (returns of 1e306 over 100 episodes: an inf mean,
    which a resume refused in the run's own checkpoint as an altered file). A row holding inf or
    nan keeps its plain mean."""
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        plain = rows.sum(1) / counts
        largest = np.abs(rows).max(axis=1)
        scalable = np.isfinite(largest) & (largest > 0)
        scale = np.where(scalable, largest, 1.0)
        return np.where(scalable, scale * ((rows / scale[:, None]).sum(1) / counts), plain)


class ReturnWindow:
    """The last ``size`` returns, oldest first (iterating gives them, as a ``deque`` would).

    :param size: ``budget.window``, the returns in the moving mean (>= 1).
    """

    def __init__(self, size: int) -> None:
        self.returns: deque[float] = deque(maxlen=size)
        self.maxlen = size
        self._resum()

    def __len__(self) -> int:
        return len(self.returns)

    def __iter__(self) -> Iterator[float]:
        return iter(self.returns)

    def extend(self, returns: Iterable[float]) -> None:
        """Add the returns of episodes that just ended, in the order they ended."""
        window, total, scale, added = self.returns, self.running_sum, self.scale, self.added
        for value in returns:
            if len(window) == self.maxlen:
                total -= window[0]  # the oldest return leaves the window as this one enters
            window.append(value)
            total += value
            scale += abs(value)
            added += 1
        self.running_sum, self.scale, self.added = total, scale, added
        if self.added >= self.maxlen:
            self._resum()

    def extend_reaching(self, returns: Iterable[float], target: float) -> bool:
        """:meth:`extend` with the returns one at a time, in the order their episodes ended; whether
        the window reached ``target`` after any of them (several episodes end in one vector step:
        the window may reach the target after the first and fall below it by the last)."""
        reached = False
        for value in returns:
            self.extend((value,))
            reached = reached or self.reached(target)
        return reached

    def mean(self) -> float:
        """The mean of the window (nan when empty)."""
        return window_mean(self.returns)

    def full(self) -> bool:
        return len(self.returns) == self.maxlen

    def reached(self, target: float) -> bool:
        """Whether the window is full and its mean is at least ``target``: :meth:`mean` decides
        unless the running mean is below the target by more than its rounding (module docstring)."""
        count = len(self.returns)
        if count < self.maxlen:
            return False
        if self.running_sum / count + MARGIN * self.scale / count < target:  # False for nan and inf
            return False
        return self.mean() >= target

    def _resum(self) -> None:
        """Sum the window afresh (the running sum's rounding starts again from here)."""
        self.running_sum = float(sum(self.returns))
        self.scale = float(sum(abs(value) for value in self.returns))
        self.added = 0
