"""A multirun stopped by SIGINT/SIGTERM: the jobs running stop after saving, the rest do not start,
and the sweep ends with its summary and one line per stopped job saying how to resume it."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, TypeVar

from omegaconf import DictConfig

from agents.errors import RunInterrupted, UserError
from agents.runtime import interrupts
from agents.runtime.sweep_stop import (
    asks_to_stop,
    quit_at_the_next_signal,
    quit_hint,
    request_sweep_stop,
    sweep_stop_signal,
)

T = TypeVar("T")


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (``-m``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


_sweep_stopped: list[RunInterrupted] = []
"""A signal that stopped a job of this process's multirun (the jobs after it do not start)."""


def _not_started(exit_code: int) -> RunInterrupted:
    """A job's (or a sweep's) line when a signal stopped the sweep before the job started."""
    return RunInterrupted("not started: the sweep was stopped by a signal", exit_code)


@asks_to_stop
def stop_sweep(signum: int, frame: object) -> None:
    """The launching process of a multirun on SIGINT/SIGTERM: no KeyboardInterrupt (it would end a
    joblib pool while its workers, which got the signal too, save); the jobs running stop after
    saving and the rest do not start. A second signal quits at once."""
    if not _sweep_stopped:
        _sweep_stopped.append(_not_started(128 + signum))
        request_sweep_stop(signum)  # for a launcher's workers, which may not have got the signal
    quit_at_the_next_signal({signal.SIGINT: interrupts.interrupt, signal.SIGTERM: interrupts.terminate})
    name = signal.Signals(signum).name
    print(f"\n{name}: stopping the sweep: the jobs running stop (a training job saves first), the rest "
          f"do not start ({quit_hint(signum)})", file=sys.stderr, flush=True)  # fmt: skip


def first_stop() -> RunInterrupted | None:
    """The first line of this process's sweep's stop: the first job a signal stopped, else that no
    more jobs start; None while no signal has stopped the sweep."""
    if _sweep_stopped:
        return _sweep_stopped[0]
    signum = sweep_stop_signal()  # (a job's own signal handler heard it: during its final save)
    return None if signum is None else _not_started(128 + signum)


def raise_the_sweeps_stop(runs: Sequence[Any] = ()) -> NoReturn:
    """End a sweep that a signal stopped: the error line of each job of ``runs`` (the launcher's
    batch, not read by the sweeper) that failed, its summary (with the jobs not launched) printed
    once, then one line per stopped job that saved, saying how to resume it
    (:func:`~agents.tools.sweep.sweep_stopped`)."""
    from hydra.core.utils import JobStatus

    from agents.tools.sweep import print_summary_once, sweep_stopped

    for run in runs:
        error = run._return_value if run.status == JobStatus.FAILED else None
        if isinstance(error, UserError) and not isinstance(error, RunInterrupted):
            print(f"error: {error}", file=sys.stderr)
    first = first_stop()
    assert first is not None, "the sweep was not stopped"
    print_summary_once()
    raise sweep_stopped(first)


def stopped_between_jobs(first: RunInterrupted) -> RunInterrupted:
    """The line and exit status (130/143, those of ``first``) of a sweep that ran to its end: the
    signal came as its last job ended (the launchers end a sweep stopped before that themselves)."""
    from agents.tools.sweep import SUMMARY_NAME, SweepSummary

    sweep_dir = SweepSummary.launched_sweep_dir
    where = f" (results: {sweep_dir / SUMMARY_NAME})" if sweep_dir is not None else ""
    name = signal.Signals(first.exit_code - 128).name
    return RunInterrupted(
        f"{name} came as the sweep ended: every job had finished, none was stopped{where}", first.exit_code
    )


def multirun_job(task: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """One job of a multirun: after a job stopped by Ctrl-C/SIGTERM, the jobs Hydra's launcher
    still starts in this process stop at once (interrupted, nothing trained) instead of running."""
    stopped = first_stop()  # (in a launcher's worker: the launching process's signal)
    if stopped is not None:
        raise _not_started(stopped.exit_code)
    try:
        return task(cfg)
    except RunInterrupted as error:
        _sweep_stopped.append(error)
        raise


@contextmanager
def failed_jobs_reported() -> Iterator[None]:
    """A sweep whose job failed (a user error, a signal) prints its summary table before the error's
    one line: Hydra's end-of-sweep callback, which prints it, does not run then. And Hydra's sweeper,
    reading each job's result, wrote ``Error executing job with overrides: [...]`` to stderr
    before raising the job's exception, whose one line :func:`~agents.tools.exits.run_or_exit`
    prints anyway: dropped."""
    from hydra.core.utils import JobReturn, JobStatus

    prop = JobReturn.return_value

    def quiet(job: JobReturn) -> Any:
        if job.status == JobStatus.FAILED:
            from agents.tools.sweep import print_stopped_sweep_summary, sweep_stopped

            error = job._return_value
            if isinstance(error, UserError) and not isinstance(error, RunInterrupted) and first_stop():
                raise_the_sweeps_stop([job])  # it failed before the signal stopped others: the lines
                # saying how to resume them come last
            print_stopped_sweep_summary(job)
            raise sweep_stopped(error) if isinstance(error, RunInterrupted) else error
        return prop.fget(job)  # type: ignore[misc]

    JobReturn.return_value = property(quiet, prop.fset)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        JobReturn.return_value = prop  # type: ignore[method-assign]


NO_COMPLETED_TRIAL = "No trials are completed yet."
"""What Optuna's ``study.best_trial`` raises (a ``ValueError``) for a study whose trials all failed."""


def search_with_no_completed_trial_said(app: Callable[[], T]) -> T:
    """``app()``; a search whose every trial failed, which ``hydra.sweeper.max_failure_rate`` let go
    on, ended as Optuna's sweeper read the study's best trial: ``ValueError: No trials are completed
    yet.`` and a traceback, after each trial's own line. One line instead."""
    try:
        return app()
    except ValueError as error:
        if str(error) != NO_COMPLETED_TRIAL:
            raise
        raise UserError(
            "no trial of the search completed, so it has no best one: each failed (see its 'Failed "
            "experiment: ...' line above; hydra.sweeper.max_failure_rate let the search go on): fix what "
            "they say"
        ) from None
