"""The one best-of timer, shared by the gradient comparison and the benchmarks."""

from __future__ import annotations

import timeit
from collections.abc import Callable

import torch


def best_of_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls of ``fn`` after one warm-up call (vmap tracing,
    the allocator), on one torch intra-op thread: the batches timed here gain nothing from more,
    and on a loaded machine a second thread waiting for a core costs milliseconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        fn()
        return min(timeit.repeat(fn, number=1, repeat=repeats))
    finally:
        torch.set_num_threads(threads)
