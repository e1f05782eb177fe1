r"""Several runs' steps laid end to end: ``segments[t] = n`` says step ``t`` belongs to run ``n``.

A batched update over ``k`` runs (:mod:`agents.core.stacked`) sees one flat ``[T]`` stream in
which each run's steps are contiguous. What it needs per run is done here without a Python loop
over runs:

* sums ``out[n] = sum_{t: n(t) = n} v_t`` as one ``index_add``;
* standardisation within each run, from those sums;
* :func:`map_over_segments`: a per-run function ``f(theta_n, steps of run n)`` evaluated for
  every run at once, with ``vmap`` over the runs and each run's steps zero-padded to the
  longest (a function of sums over steps gives the same value when the padding adds zeros).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor
from torch.func import vmap


def segment_sum(values: Tensor, segments: Tensor, count: int) -> Tensor:
    """``out[n] = sum_{t: segments[t] = n} values[t]``; ``[count, *values.shape[1:]]``."""
    return values.new_zeros((count, *values.shape[1:])).index_add_(0, segments, values)


def standardize_segments(values: Tensor, segments: Tensor, count: int) -> Tensor:
    """``(v - mean_n) / (std_n + 1e-8)`` within each segment ``n`` (unbiased std, as
    ``Tensor.std``); a segment of one value is left as it is (as ``_standardize`` does)."""
    sizes = segment_sum(torch.ones_like(values), segments, count)
    mean = segment_sum(values, segments, count) / sizes
    centred = values - mean[segments]
    std = (segment_sum(centred * centred, segments, count) / (sizes - 1).clamp(min=1)).sqrt()
    if not bool(torch.isfinite(std).all()) and bool(torch.isfinite(values).all()):  # squares past the
        # dtype's range: scaled first, as _standardize (non-finite values are refused after this)
        largest = values.new_zeros(count).scatter_reduce_(0, segments, values.abs(), "amax")
        scale = torch.where(largest > 0, largest, 1.0)[segments]
        return torch.where(sizes[segments] > 1, standardize_segments(values / scale, segments, count), values)
    standardized = centred / (std[segments] + 1e-8)
    return torch.where(sizes[segments] > 1, standardized, values)


def pad_segments(values: Tensor, segments: Tensor, positions: Tensor, count: int, length: int) -> Tensor:
    """Rows of ``values [T, ...]`` scattered to ``[count, length, ...]`` at ``(segments, positions)``;
    zeros elsewhere."""
    padded = values.new_zeros((count, length, *values.shape[1:]))
    padded[segments, positions] = values
    return padded


def map_over_segments(
    function: Callable[..., Tensor], params: Tensor, segments: Tensor, *steps: Tensor
) -> Tensor:
    """``out[n] = function(params[n], *(s[t in run n] for s in steps))`` for every row of
    ``params [k, ...]``, by ``vmap``: each run's steps padded with zeros to the longest run, so
    ``function`` must give the same value with zero rows appended (e.g. a sum over steps with a
    zero coefficient on the padding)."""
    count = params.shape[0]
    sizes = torch.bincount(segments, minlength=count)
    starts = torch.cumsum(sizes, 0) - sizes
    positions = torch.arange(segments.shape[0], device=segments.device) - starts[segments]
    length = int(sizes.max())
    padded = [pad_segments(values, segments, positions, count, length) for values in steps]
    return vmap(function)(params, *padded)
