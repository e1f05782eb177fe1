"""Stop requests: SIGINT/SIGTERM within a block, and a multirun's stop, passed from the launching
process to its launcher's workers by a file.

On SIGINT/SIGTERM the launching process (:mod:`agents.tools.cli`) writes the signal's number to the
file that :data:`SWEEP_STOP_VARIABLE` names; worker processes (joblib's) inherit the variable, and
may not have got the signal themselves (``kill <pid>``, ``timeout``): their running job stops as if
signalled (:class:`StopRequest` looks at the file) and no other starts.
A terminal's Ctrl-C reaches every process of the group, so a worker may hear the same stop twice;
the file is not a second signal and never makes a worker quit without saving.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Self

from agents.runtime import interrupts

SWEEP_STOP_VARIABLE = "SOFTMAX_REINFORCE_SWEEP_STOP"
"""Environment variable naming the stop file of the multirun this process belongs to."""


def sweep_stop_file() -> Path | None:
    """The stop file of this process's multirun, if it is part of one."""
    path = os.environ.get(SWEEP_STOP_VARIABLE)
    return Path(path) if path else None


def sweep_stop_signal(path: Path | None = None) -> int | None:
    """The signal number written to the stop file (``path``, else this process's), if any."""
    path = path or sweep_stop_file()
    if path is None:
        return None
    with suppress(OSError, ValueError):
        return int(path.read_text())
    return None


def request_sweep_stop(signum: int) -> None:
    """Write ``signum`` to this process's stop file (in the launching process's signal handler)."""
    path = sweep_stop_file()
    if path is not None:
        with suppress(OSError):
            path.write_text(str(signum))


def note_job_started(num: int) -> None:
    """Mark job ``num`` of this process's multirun started, beside its stop file (a launcher's
    worker, as the job starts): a job handed out to a worker ahead may never start."""
    path = sweep_stop_file()
    if path is not None:
        with suppress(OSError):
            path.with_name(f"started_{num}").touch()


def jobs_started() -> set[int]:
    """The jobs of this process's multirun that :func:`note_job_started` marked."""
    path = sweep_stop_file()
    if path is None:
        return set()
    with suppress(OSError):
        return {int(marker.name.removeprefix("started_")) for marker in path.parent.glob("started_*")}
    return set()


def quit_hint(signum: int) -> str:
    """How to quit at once after the first ``signum`` asked to stop cleanly: after a SIGTERM (sent
    by ``kill``, ``timeout`` or a scheduler, maybe to a program with no terminal) a Ctrl-C is not the
    only way, nor perhaps one the sender has."""
    if signum == signal.SIGINT:
        return "press Ctrl-C again to quit at once"
    return f"a second {signal.Signals(signum).name} or Ctrl-C quits at once"


_STOP_ASKERS: list[Callable[[int, Any], None]] = []
"""Handlers that take a first signal as a request to stop (:func:`asks_to_stop`)."""


def asks_to_stop(handler: Callable[[int, Any], None]) -> Callable[[int, Any], None]:
    """Mark ``handler`` (a sweep's launching process's, :mod:`agents.tools.multirun_stop`) as one
    that asks to stop: a job's second signal must not go back to it, but quit."""
    _STOP_ASKERS.append(handler)
    return handler


def quit_at_the_next_signal(previous: Mapping[int, Any] | None = None) -> None:
    """After a first SIGINT/SIGTERM asked to stop cleanly, a second is not caught: it goes to the
    handler there was before the stop was asked for (``previous``) where that is Python code (an API
    caller's; a program's own, which quits with its one line and 130/143,
    :mod:`agents.runtime.interrupts`), to the program's own where that one asked to stop too (a
    sweep's, in the basic launcher) or ignored it (a launcher's worker between jobs, where the
    default SIGTERM killed the job in its save, leaving a temporary file), else to Python's
    defaults (KeyboardInterrupt, and termination: an API caller's process). A program's second
    SIGTERM had ended it at once with no line."""
    for sig in interrupts.heard((signal.SIGINT, signal.SIGTERM)):
        handler = (previous or {}).get(sig)
        if handler in _STOP_ASKERS or isinstance(getattr(handler, "__self__", None), StopRequest):
            handler = interrupts.interrupt if sig == signal.SIGINT else interrupts.terminate
        elif handler == signal.SIG_IGN and sig == signal.SIGTERM:
            handler = interrupts.unwind
        elif not callable(handler):
            handler = signal.SIG_DFL if sig == signal.SIGTERM else signal.default_int_handler
        signal.signal(sig, handler)


def deaf_between_jobs() -> None:
    """A launcher's worker process, as it starts: SIGINT/SIGTERM ignored while it runs no job. A
    terminal's Ctrl-C reaches every process of the group: a joblib worker waiting for its next job
    died of it, which broke the pool, and joblib SIGKILLed the workers still saving their jobs. A
    job's :class:`StopRequest` hears the signals while it runs (and restores this after). A worker
    started with them blocked (:func:`signals_blocked`, as it was importing) has them unblocked
    here, once ignored: one that came while it started is dropped."""
    for sig in StopRequest.SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, StopRequest.SIGNALS)


@contextmanager
def signals_blocked() -> Iterator[None]:
    """SIGINT/SIGTERM blocked in this thread for the block: a process it starts inherits them
    blocked (until :func:`deaf_between_jobs`); one that comes here meanwhile waits for the block's end."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, StopRequest.SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def signals_heard_by_children() -> Iterator[None]:
    """A process started in the block hears SIGINT/SIGTERM even where this one ignores them (a
    background job's SIGINT is ignored, and a child inherits that; a handler is reset to the
    default at ``exec``): they are handled here by a handler that ignores them, for the block. A
    benchmark's worker, sent this process's signal, ignored it outside its training loop, trained
    on, and was killed with its scratch folder left behind."""
    ignored = [
        sig for sig in interrupts.heard(StopRequest.SIGNALS) if signal.getsignal(sig) == signal.SIG_IGN
    ]
    if threading.current_thread() is not threading.main_thread():
        ignored = []  # (only the main thread may set a handler)
    for sig in ignored:
        signal.signal(sig, _ignore)
    try:
        yield
    finally:
        for sig in ignored:
            signal.signal(sig, signal.SIG_IGN)


def _ignore(signum: int, frame: Any) -> None:
    """A handler that does what ``SIG_IGN`` does, but is not inherited (see above)."""


class StopRequest:
    """Within the block, the first SIGINT/SIGTERM is a request to stop (:attr:`signum`), which the
    work polls to end cleanly (save, remove what it must); a second signal stops at once (Python's
    default handlers). In a multirun's worker, the launching process's signal, written to its stop
    file, is a request too (a thread looks every 0.2 s); a request here writes that file, so no
    later job of the sweep starts. Subclasses act on it in :meth:`on_stop`."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)
    POLL_SECONDS = 0.2

    def __init__(self) -> None:
        self.previous: dict[int, Any] = {}
        self.leaving = threading.Event()
        self.watcher: threading.Thread | None = None
        """The thread that looks at the sweep's stop file, in a multirun's worker."""
        self.signum: int | None = None
        """The signal that asked to stop (or the sweep's), once one did."""

    @property
    def heard(self) -> bool:
        """A stop came (a signal, or the sweep's stop file)."""
        return self.signum is not None

    def on_stop(self, signum: int, why: str) -> None:
        """Called once, at the first request; ``why``: ``""`` for a signal to this process, ``" to
        the sweep"`` for the sweep's stop file."""

    def _stop(self, signum: int, why: str) -> None:
        if self.heard:  # the stop file this process's own signal wrote, read back by the watcher
            return
        self.signum = signum
        request_sweep_stop(signum)  # in a multirun: no later job starts, even when this one had finished
        self.on_stop(signum, why)

    def _handle(self, signum: int, frame: Any) -> None:
        quit_at_the_next_signal(self.previous)
        self._stop(signum, "")

    def _watch(self, path: Path) -> None:
        while not self.leaving.wait(self.POLL_SECONDS):
            signum = sweep_stop_signal(path)
            if signum is not None:
                self._stop(signum, " to the sweep")  # (nothing when this process heard it already)
                return

    def __enter__(self) -> Self:
        interrupts.raise_if_received()  # a Ctrl-C during start-up that a library swallowed stops here
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self._handle) for sig in interrupts.heard(self.SIGNALS)}
        path = sweep_stop_file()
        if path is not None:
            self.watcher = threading.Thread(target=self._watch, args=(path,), daemon=True)
            self.watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Restore the handlers, once the watcher has ended: one still ending as the process exited
        (a signal's quit) let go of the request, and the tensors of the runs it holds, during the
        interpreter's finalization, which ends such a thread where it waits for the GIL, inside
        torch's C++ (``terminate called without an active exception``, SIGABRT, after the line)."""
        self.leaving.set()
        try:
            if self.watcher is not None:
                self.watcher.join(timeout=10 * self.POLL_SECONDS)  # it wakes at once
        finally:
            for sig, handler in self.previous.items():
                signal.signal(sig, handler)


def env_faults() -> tuple[type[BaseException], ...]:
    """What an env's code may raise that is its own fault, for an ``except`` clause (Python
    evaluates it as an exception arrives): any exception, ``SystemExit`` (``sys.exit`` in the
    user's env), and ``KeyboardInterrupt`` unless a signal may have raised it. None can where SIGINT
    is ignored (a background job's) or a :class:`StopRequest` takes it (a first Ctrl-C asks it to
    stop; a second finds it stepped aside), nor while a program's own handler
    (:func:`~agents.runtime.interrupts.interrupt`, as the envs start) has recorded none. An env's
    own ``KeyboardInterrupt`` was taken for a Ctrl-C: quit at once, nothing saved."""
    handler = signal.getsignal(signal.SIGINT)
    own = (
        handler in (signal.SIG_IGN, signal.SIG_DFL)
        or isinstance(getattr(handler, "__self__", None), StopRequest)
        or (handler is interrupts.interrupt and not interrupts.received)
    )
    return (Exception, SystemExit, KeyboardInterrupt) if own else (Exception, SystemExit)
