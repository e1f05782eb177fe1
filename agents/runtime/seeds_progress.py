"""Progress of many seeds trained in one process: one bar over all their env steps, or, without
the bar (``logging.progress_bar=false``: SLURM, CI), one line every ``logging.print_every_seconds``,
as a single run prints them (each seed's own bar or lines would garble the seeds table)."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np
from tqdm import tqdm

from agents.runtime.config import LoggingConfig
from agents.runtime.return_stats import shown_return

log = logging.getLogger(__name__)


class SeedsProgress:
    """The seeds' bar or progress lines; :meth:`show` when the seeds' step counts moved.

    :param num_seeds: seeds trained together, each for ``steps_per_seed`` env steps at most.
    :param mean_returns: each seed's moving mean return (nan for a seed without a finished episode),
        read only when shown.
    """

    SHOW_SECONDS = 0.1
    """How often a loop that steps every seed by one step calls :meth:`show` (a clock read, not a
    sum over seeds, per step)."""

    def __init__(
        self, num_seeds: int, steps_per_seed: int, logging_cfg: LoggingConfig,
        mean_returns: Callable[[], np.ndarray],
    ) -> None:  # fmt: skip
        self.num_seeds, self.total, self.mean_returns = num_seeds, num_seeds * steps_per_seed, mean_returns
        self.bar = tqdm(
            total=self.total, unit="step", disable=not logging_cfg.progress_bar, dynamic_ncols=True
        )
        self.every = 0.0 if logging_cfg.progress_bar else logging_cfg.print_every_seconds
        self.start = time.perf_counter()
        self.next_print = self.start + self.every if self.every else math.inf

    def show(self, env_steps: int) -> None:
        """Move the bar to ``env_steps`` (all seeds together); print a line when one is due."""
        self.bar.update(env_steps - self.bar.n)
        now = time.perf_counter()
        if self.bar.disable and now < self.next_print:
            return
        means = self.mean_returns()
        means = means[np.isfinite(means)]
        with np.errstate(over="ignore"):
            mean = float(means.mean()) if means.size else math.nan
        if not self.bar.disable:
            self.bar.set_postfix(mean_return=shown_return(mean, 1), refresh=False)
            return
        self.next_print = now + self.every
        log.info(
            "env steps %s/%s (%.0f%%) | %s steps/s | mean return %s (mean over %d of %d seeds)",
            f"{env_steps:,}", f"{self.total:,}", 100 * env_steps / self.total,
            f"{env_steps / max(now - self.start, 1e-9):,.0f}", shown_return(mean), means.size, self.num_seeds,
        )  # fmt: skip

    def close(self, env_steps: int) -> None:
        """Close the bar at ``env_steps``, all seeds together (:func:`close_bar_at`)."""
        close_bar_at(self.bar, env_steps)


def close_bar_at(bar: tqdm, env_steps: int) -> None:
    """Move ``bar`` to the ``env_steps`` a run took, its total grown to them where vector envs
    stepped past the budget (a bar past its total drops it: ``3003step``), then close it."""
    bar.total = max(bar.total, env_steps)
    bar.update(env_steps - bar.n)
    bar.close()
