"""Hydra launchers and a Ctrl-C. Where the jobs run in other processes of the terminal's process
group (joblib's loky workers, submitit's local task processes), a Ctrl-C reaches them all, and each
job must hear it once, save and end, while the launcher waits for it (:mod:`agents.runtime.sweep_stop`
is the jobs' side). Hydra's basic launcher, which runs them one after another in this process, must
not go on through the jobs the signal kept from starting."""

from __future__ import annotations

import functools
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from agents.runtime.sweep_stop import deaf_between_jobs, signals_blocked, sweep_stop_signal
from agents.tools.logging_settings import logging_settings_in_one_line


@contextmanager
def basic_launcher_stops_with_the_sweep(stop: Callable[[Sequence[Any]], NoReturn]) -> Iterator[None]:
    """After a Ctrl-C, Hydra's basic launcher still went through every job of the sweep: each one
    the signal kept from starting got its folder, Hydra's files and a result saying so, and the
    summary was written again each time (a 20,000-job sweep went on for hours). Now, once a signal
    has stopped the sweep, the launcher launches no more jobs: they are noted (rows of the summary,
    :func:`~agents.tools.sweep.note_not_launched`) and ``stop(runs)`` (``runs``: the batch's jobs
    that ran) raises the sweep's stop, which no sweeper takes for a failed trial (Optuna's
    ``max_failure_rate`` went on to the next batch)."""
    from hydra._internal.core_plugins import basic_launcher
    from hydra.core.utils import JobReturn

    from agents.tools.sweep import note_not_launched, note_quit  # (lazily: it imports torch)

    launch, run_job = basic_launcher.BasicLauncher.launch, basic_launcher.run_job

    @functools.wraps(launch)
    def launch_until_stopped(self: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Any:
        runs: list[JobReturn] = []

        def run_unless_stopped(*args: Any, **kwargs: Any) -> JobReturn:
            if sweep_stop_signal() is not None:
                note_not_launched(enumerate(job_overrides[len(runs) :], initial_job_idx + len(runs)))
                stop(runs)
            try:
                runs.append(run_job(*args, **kwargs))
            except BaseException:  # a second signal quit at once (SystemExit, KeyboardInterrupt): the
                if sweep_stop_signal() is not None:  # summary keeps this job and the ones after it
                    note_quit(list(enumerate(job_overrides, initial_job_idx))[len(runs) :])
                raise
            return runs[-1]

        basic_launcher.run_job = run_unless_stopped
        try:
            return launch(self, job_overrides, initial_job_idx)
        finally:
            basic_launcher.run_job = run_job

    basic_launcher.BasicLauncher.launch = launch_until_stopped  # type: ignore[method-assign]
    try:
        yield
    finally:
        basic_launcher.BasicLauncher.launch = launch  # type: ignore[method-assign]


SUBMITIT_LOCAL_LAUNCHER = "hydra_plugins.hydra_submitit_launcher.submitit_launcher.LocalLauncher"
"""``hydra/launcher=submitit_local``: each job in a subprocess of a submitit controller process."""


@contextmanager
def submitit_jobs_hear_ctrl_c_once() -> Iterator[None]:
    """submitit's local launcher runs each job in a task process under a controller process, all
    in the terminal's process group. On Ctrl-C the controller raised KeyboardInterrupt, sent its
    task a second SIGINT and SIGKILLed it a second later: the second SIGINT quit the job at once
    (the first had started its save; a traceback, exit 1). The controllers now start with SIGINT
    ignored, which a child process keeps, so they let their task be (it hears the Ctrl-C once
    while it trains, or through the sweep's stop file) and wait for it to save and end."""
    from submitit.local import local

    start = local.start_controller

    @functools.wraps(start)
    def start_ignoring_ctrl_c(*args: Any, **kwargs: Any) -> Any:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # inherited by the controller
        try:
            return start(*args, **kwargs)
        finally:
            signal.signal(signal.SIGINT, previous)

    local.start_controller = start_ignoring_ctrl_c
    try:
        yield
    finally:
        local.start_controller = start


JOBLIB_LAUNCHER = "hydra_plugins.hydra_joblib_launcher.joblib_launcher.JoblibLauncher"
"""``hydra/launcher=joblib``: the jobs in loky worker processes, all in the terminal's process group."""


def joblib_worker_start() -> None:
    """A joblib worker process, as it starts (the launcher's loky pool's initializer): deaf to
    SIGINT/SIGTERM while it runs no job (:func:`deaf_between_jobs`), and a refused logging setting
    of its jobs one line (:func:`logging_settings_in_one_line`)."""
    from hydra._internal import logging_config

    deaf_between_jobs()
    logging_config.configure_logging = logging_settings_in_one_line(logging_config.configure_logging)


def run_unless_the_sweep_stopped(job: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """In a joblib worker: ``job(*args, **kwargs)``, unless a signal stopped the sweep before it
    started (None: it made no folder)."""
    if sweep_stop_signal() is not None:
        return None
    return job(*args, **kwargs)


@contextmanager
def joblib_workers_deaf_between_jobs(stop: Callable[[Sequence[Any]], NoReturn]) -> Iterator[None]:
    """On Ctrl-C, a loky worker with no job to run (its own done, another still training, or still
    starting) died of the KeyboardInterrupt, loky called the pool broken and SIGKILLed the workers
    still saving: the running job lost its checkpoint, and the sweep ended in a
    ``BrokenProcessPool`` or ``TerminatedWorkerError`` traceback. The workers now start with
    SIGINT/SIGTERM blocked, then ignored (:func:`joblib_worker_start`); each job hears them while
    it runs, or through the sweep's stop file. The pool is shut down at the block's end, while a
    Ctrl-C is still the sweep's: at exit, loky's join of it turned one into a traceback. Once a
    signal has stopped the sweep, no more jobs start (each started as "not started", with its
    folder): they are noted and ``stop(runs)`` raises the sweep's stop
    (:func:`basic_launcher_stops_with_the_sweep`)."""
    from hydra_plugins.hydra_joblib_launcher import _core
    from joblib._parallel_backends import LokyBackend
    from joblib.externals.loky import reusable_executor
    from joblib.externals.loky.backend import fork_exec as loky_fork_exec

    from agents.tools.sweep import note_not_launched, note_quit  # (lazily: it imports torch)

    parallel, fork_exec = _core.Parallel, loky_fork_exec.fork_exec

    @functools.wraps(parallel)
    def workers_deaf_between_jobs(**settings: Any) -> Callable[[Iterable[Any]], list[Any]]:
        pool = parallel(**{**settings, "backend": LokyBackend(initializer=joblib_worker_start)})  # loky

        def run_until_stopped(jobs: Iterable[Any]) -> list[Any]:
            """The jobs handed out until a signal stops the sweep; those joblib had handed out
            ahead start only if the sweep was not stopped before (they got a folder saying "not
            started"). The others are noted, and the sweep's stop raised."""
            jobs = list(jobs)  # each joblib's (execute_job, (number, overrides, ...), {})
            handed_out = 0

            def until_stopped() -> Iterator[Any]:  # read by joblib as it hands out work
                nonlocal handed_out
                for job, args, kwargs in jobs:
                    if sweep_stop_signal() is not None:
                        return
                    handed_out += 1
                    yield run_unless_the_sweep_stopped, (job, args, kwargs), {}

            try:
                results = pool(until_stopped())
            except BaseException:  # a second signal quit at once: the summary keeps the batch's jobs
                if sweep_stop_signal() is not None:  # without a result (it had no row for them)
                    note_quit([(args[0], args[1]) for _, args, _ in jobs])
                raise
            skipped = [job for job, result in zip(jobs, results, strict=False) if result is None]
            skipped += jobs[handed_out:]
            if skipped:  # the sweep's stop, not a short or empty batch (Optuna divided by its size)
                note_not_launched((args[0], args[1]) for _, args, _ in skipped)
                stop([result for result in results if result is not None])
            return results

        return run_until_stopped

    @functools.wraps(fork_exec)
    def fork_exec_with_signals_blocked(*args: Any, **kwargs: Any) -> Any:
        with signals_blocked():
            return fork_exec(*args, **kwargs)

    _core.Parallel, loky_fork_exec.fork_exec = workers_deaf_between_jobs, fork_exec_with_signals_blocked
    stopped_at_once = False
    try:
        yield
    except KeyboardInterrupt:  # a second Ctrl-C: joblib has killed the workers already
        stopped_at_once = True
        raise
    finally:
        _core.Parallel, loky_fork_exec.fork_exec = parallel, fork_exec
        executor = reusable_executor._executor
        if executor is not None:
            executor.shutdown(wait=True, kill_workers=stopped_at_once)
