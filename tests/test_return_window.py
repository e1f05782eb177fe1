"""The moving window's target check: its running sum only rules a target out, so the answer is
always the exact mean's ``np.mean(window) >= target``, however the returns round."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import pytest

from agents.runtime.return_stats import shown_return, spread
from agents.runtime.return_window import ReturnWindow, window_mean


def exact_reached(window: deque[float], target: float) -> bool:
    return len(window) == window.maxlen and float(np.mean(window)) >= target


@pytest.mark.parametrize("size", [1, 3, 100])
def test_reached_is_the_exact_means_comparison_at_every_step(size):
    """Targets at the exact mean and one ulp either side, on returns of mixed magnitudes that
    cancel (the running sum's rounding is largest there), fed in bursts as vector steps end them."""
    rng = np.random.default_rng(size)
    window, reference = ReturnWindow(size), deque(maxlen=size)
    values = rng.standard_normal(3000) * 10.0 ** rng.integers(-3, 9, 3000)
    values[::7] = np.round(values[::7])  # CartPole-like integer returns among them
    start = 0
    while start < len(values):
        burst = values[start : start + int(rng.integers(1, 4))].tolist()
        start += len(burst)
        window.extend(burst)
        reference.extend(burst)
        assert list(window) == list(reference)
        mean = float(np.mean(reference))
        for target in (mean, math.nextafter(mean, math.inf), math.nextafter(mean, -math.inf), 0.0, 1e9):
            assert window.reached(target) == exact_reached(reference, target), (start, target)


def test_a_window_that_held_huge_returns_still_answers_exactly():
    """After 1e300s leave the window, the running sum is all rounding (here: 0 or inf); the
    window's later returns of 475 still reach a target of 475, as the exact mean says."""
    window = ReturnWindow(4)
    window.extend([1e300, -1e300, 1e300, 1e300, -1e300])
    assert window.reached(0.0) and not window.reached(math.nextafter(0.0, math.inf))
    window.extend([475.0] * 4)
    assert window.reached(475.0) and not window.reached(math.nextafter(475.0, math.inf))
    window.extend([math.nan])
    assert not window.reached(0.0)
    window.extend([math.inf] * 4)
    assert window.reached(1e308) and window.mean() == math.inf


def test_a_partial_window_never_reaches():
    window = ReturnWindow(3)
    window.extend([500.0, 500.0])
    assert not window.reached(0.0) and window.mean() == 500.0 and not window.full()
    window.extend(iter([500.0]))  # a generator, as a resumed run's saved returns are given
    assert window.reached(500.0) and window.full() and len(window) == 3


def test_extend_reaching_checks_after_each_return():
    """Two episodes end together: the window [5, 0] reaches 2.5 after the first, [0, 0] not after
    the last; the check after each sees it."""
    window = ReturnWindow(2)
    assert not window.extend_reaching([5.0], 2.5)
    assert window.extend_reaching([0.0, 0.0], 2.5) and list(window) == [0.0, 0.0]
    assert not window.reached(2.5)


def test_the_spread_of_returns_is_numpys_std_and_survives_huge_returns():
    """``std(R) = m std(R / m)`` only where the squares overflow: elsewhere numpy's own numbers."""
    rng = np.random.default_rng(0)
    values = rng.normal(100.0, 30.0, 37)
    assert spread(values) == float(np.std(values)) and spread(values, ddof=1) == float(np.std(values, ddof=1))
    assert spread([1e300, 2e300, 3e300], ddof=1) == pytest.approx(1e300, rel=1e-12)
    assert math.isnan(spread([5.0], ddof=1)) and math.isnan(spread([1.0, math.nan]))
    assert math.isnan(spread([1.0, math.inf]))
    assert shown_return(475.987) == "475.99" and shown_return(-12.34, 1) == "-12.3"
    assert shown_return(1.2345678e301) == "1.23457e+301" and shown_return(math.nan) == "nan"


def test_a_mean_of_finite_returns_whose_sum_passes_float64_is_finite():
    """Returns of 1.5e307 over 100 episodes: their sum overflowed, the run ended with exit 0 and a
    mean return of inf, and a resume refused its own checkpoint (``counters.best_mean_return holds
    inf``) as an altered file. A return that is inf itself still makes the mean inf."""
    from agents.runtime.many_seeds import RecentReturns

    assert window_mean([1.5e307] * 100) == pytest.approx(1.5e307, rel=1e-12)
    assert window_mean([1.0, 2.0, 6.0]) == 3.0  # (the plain sum where it fits)
    assert window_mean([1.5e307] * 99 + [float("inf")]) == float("inf")
    recent = RecentReturns(3, 100)
    recent.add(
        np.repeat([0, 1, 2], 100),
        np.concatenate([np.full(100, 1.5e307), np.arange(100.0), np.full(100, -1.5e307)]),
    )
    np.testing.assert_allclose(recent.mean(np.arange(3)), [1.5e307, 49.5, -1.5e307], rtol=1e-12)
