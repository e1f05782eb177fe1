"""Returns as a report gives them: their spread over seeds or episodes, and their printed form (and
the counts beside them: ``1 episode``, ``10 episodes``).

An env's rewards may be large enough that a return is finite while its square is not (a return
of 1e300), or that two decimals print hundreds of digits. The spread is then computed on the
returns scaled by the largest, ``std(R) = m std(R / m)`` with ``m = max |R_n|`` (the same number
where nothing overflows), and a return past 1e9 prints with 6 significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

LARGEST_PRINTED_IN_FULL = 1e9
"""Returns below this print with their decimals; larger ones with 6 significant digits."""


def spread(returns: Sequence[float] | np.ndarray, ddof: int = 0) -> float:
    r"""Standard deviation of ``returns`` with ``ddof`` (``np.std``'s), without overflow::

        s = sqrt( sum_n (R_n - mean(R))^2 / (N - ddof) ) = m s(R / m),   m = max_n |R_n|

    nan for no more than ``ddof`` returns, or if a return is nan or infinite (numpy's)."""
    values = np.asarray(returns, dtype=np.float64)  # [N]
    if values.size <= ddof:
        return math.nan
    with np.errstate(over="ignore", invalid="ignore"):
        std = float(values.std(ddof=ddof))
        largest = float(np.max(np.abs(values)))
        if not math.isfinite(std) and math.isfinite(largest) and largest > 0:
            std = float((values / largest).std(ddof=ddof)) * largest
    return std


def shown_return(value: float, decimals: int = 2) -> str:
    """A return as the summaries print it: ``decimals`` decimals, or 6 significant digits past
    :data:`LARGEST_PRINTED_IN_FULL` (a return of 1e300 printed 300 digits)."""
    if abs(value) < LARGEST_PRINTED_IN_FULL or not math.isfinite(value):
        return f"{value:.{decimals}f}"
    return f"{value:.6g}"


def counted(count: int, noun: str, grouped: bool = False) -> str:
    """``1 update``, ``344 updates``; ``2,000 env steps`` when ``grouped``."""
    number = f"{count:,}" if grouped else str(count)
    return f"{number} {noun}{'' if count == 1 else 's'}"
