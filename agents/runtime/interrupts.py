"""A program's own SIGINT/SIGTERM handlers: the signal waits for the import it lands in, and what
fails after one is reported as the signal.

A program's first Ctrl-C (or SIGTERM) raises where the program happens to be. During start-up that
is often inside an import, where torch and numpy do not survive an exception: measured on a
benchmark worker interrupted 0.25-0.31 s after it started, torch's C++ start-up aborted
(``terminate called after throwing an instance of 'pybind11::error_already_set'``, SIGABRT), or
torch swallowed the interrupt and left numpy half-initialised, which then failed with a
``RecursionError``, ``module 'numpy' has no attribute 'matrix'``, or ``env=CartPole-v1 could not be
made: ... no attribute 'logical_or'`` (exit 2, as if the env were at fault). So:

* a signal that lands inside an import is delivered again 50 ms later, until the import is done
  (for at most :data:`MOST_DEFERRED_SECONDS` in one import, so a hung import still hears it), and
  so is one that lands in an object's ``__del__``, where its exception would be lost;
* the handlers record the signal before they raise, and a program
  (:func:`agents.tools.commands.command`) that fails after one came exits with the signal's one
  line and 130/143, as an interrupt caught cleanly does; one that went on as if nothing came
  stops before it trains (:class:`~agents.runtime.sweep_stop.StopRequest` raises it again).

A caller of the Python API keeps its own handlers: :func:`imports_finish_first` only makes a
signal that lands inside an import wait for it, then hands it on to them (a notebook's
"interrupt" left torch half-imported, and every later ``agents.train`` in that process failed).
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from types import FrameType
from typing import Any, NoReturn

from agents.errors import QUIT_AT_ONCE
from agents.runtime.run_log import write_to_run_logs

MOST_DEFERRED_SECONDS = 10.0
"""How long a signal may wait for one import it lands in (torch's or ``torch._dynamo``'s takes about
a second and a half here, and three times that on a busy machine), counted afresh when it lands in
another: a chain of imports (the env's module, then the optimizer's ``torch._dynamo``) took over the
3 s once allowed in all on a busy machine, and the signal broke the last one."""

REDELIVERY_SECONDS = 0.05
"""How soon a signal that landed in an import is sent again."""

received: list[int] = []
"""The signals the handlers below have raised for, in order (empty: none came)."""

quitting = False
"""Set by :func:`exit_for_signal`: the program is on its way out."""

over = False
"""Set by :func:`quit_at_once_from_now`: the program's work is over, done or not, and it has said how
it ends (read by :func:`ignore_once_finished`)."""

_holding = 0
"""Open :func:`held` blocks: while one is, a signal waits as in an import."""

_deferred_since: dict[int, tuple[float, float, str]] = {}
"""Signal -> when it was first deferred in the import it waits for, when last, and that import (a
redelivery taken by another handler, a :class:`~agents.runtime.sweep_stop.StopRequest`'s, never
comes back here to clear it)."""
_redelivery: list[threading.Timer] = []

SIGINT_IGNORED_VARIABLE = "SOFTMAX_REINFORCE_SIGINT_IGNORED"
"""Set (``1``) by a program started with SIGINT ignored (:func:`note_ignored_sigint`); the processes it
starts (a sweep's workers, a benchmark's) inherit it."""


def note_ignored_sigint() -> None:
    """As a program starts: where SIGINT is ignored (a background job of a shell script, ``cmd &``
    without job control), it stays ignored in the program and its processes, as POSIX programs keep
    it: the training loop put its own handler in its place, so a Ctrl-C meant for the script
    stopped the run once it trained (and not during its start-up, which left it ignored)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        os.environ[SIGINT_IGNORED_VARIABLE] = "1"
    else:  # it hears SIGINT, and so do its processes (a program's run in-process before had set it)
        os.environ.pop(SIGINT_IGNORED_VARIABLE, None)


def heard(signals: Iterable[int]) -> list[int]:
    """The ``signals`` a handler of ours may take: SIGINT not where it is ignored because the program
    started so (:func:`note_ignored_sigint`), rather than by a launcher's worker between jobs (which
    hears its job's). Where SIGINT is handled again (a caller set a handler after a program had run
    in its interpreter), it is heard: the variable stayed, and a later ``agents.train`` lost its run
    to the Ctrl-C."""
    started_ignoring = os.environ.get(SIGINT_IGNORED_VARIABLE) == "1"
    ignored = started_ignoring and signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    return [signum for signum in signals if not (ignored and signum == signal.SIGINT)]


class Terminated(BaseException):
    """SIGTERM outside a training loop (which saves first) and a benchmark's wait for its worker
    (which passes it on): unwinds like Ctrl-C, so ``finally`` blocks run and a child process is
    killed, not orphaned."""


def finalizer_running(frame: FrameType | None) -> str | None:
    """``"finalizer"`` where ``frame`` runs inside an object's ``__del__`` (an exception there is
    lost: "Exception ignored in: <function tqdm.__del__>" and a traceback, the signal with it);
    None outside any."""
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return "finalizer"
        frame = frame.f_back
    return None


def import_running(frame: FrameType | None) -> str | None:
    """The import ``frame`` runs inside (a frame of importlib's below it): the module of the
    outermost one, which imports the others; None outside any."""
    outermost = None
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            outermost = frame
        frame = frame.f_back
    return None if outermost is None else str(outermost.f_locals.get("name", outermost.f_code.co_name))


@contextmanager
def held(holding: bool = True) -> Iterator[None]:
    """Within the block (where ``holding``), a signal waits as one that lands in an import does.
    Forking an async vector env's workers runs Python's at-fork hooks in this process, where the
    exception of a signal is lost (``Exception ignored in: <function _releaseLock>``, a traceback);
    blocking the signals in this thread does not keep them out, as another thread (one of torch's)
    takes them and this one runs the handler."""
    global _holding
    _holding += holding
    try:
        yield
    finally:
        _holding -= holding


def deferred(signum: int, frame: FrameType | None) -> bool:
    """Whether ``signum``, landing in ``frame``, is left for later: inside an import, an object's
    ``__del__`` (or a :func:`held` block) it is sent again in :data:`REDELIVERY_SECONDS`, up to
    :data:`MOST_DEFERRED_SECONDS` after it first came to that import."""
    now = time.monotonic()
    waiting = import_running(frame) or finalizer_running(frame) or ("held" if _holding > 0 else None)
    first, last, waited = _deferred_since.get(signum, (now, now, waiting))
    if now - last > 10 * REDELIVERY_SECONDS or waited != waiting:  # that one was delivered elsewhere,
        first = now  # or this is the next import: its own wait begins
    if waiting is None or now - first > MOST_DEFERRED_SECONDS:
        _deferred_since.pop(signum, None)  # delivered: a later one may wait for its import again
        return False
    _deferred_since[signum] = (first, now, waiting)
    timer = threading.Timer(REDELIVERY_SECONDS, os.kill, (os.getpid(), signum))
    timer.daemon = True
    _redelivery.append(timer)
    timer.start()
    return True


def cancel_redelivery() -> None:
    """Stop the signals still waiting to be sent again (the program is ending)."""
    while _redelivery:
        _redelivery.pop().cancel()


def interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGINT: after the import it landed in, record it and raise ``KeyboardInterrupt`` (once the
    program is quitting: nothing)."""
    if quitting or deferred(signum, frame):
        return
    received.append(signum)
    raise KeyboardInterrupt


def terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM: after the import it landed in, record it and raise :class:`Terminated`."""
    if quitting or deferred(signum, frame):
        return
    received.append(signum)
    raise Terminated


@contextmanager
def imports_finish_first() -> Iterator[None]:
    """Within the block, a SIGINT or SIGTERM that lands inside an import waits for it (as in our
    programs, above), then goes to the handler the caller had (Python's ``KeyboardInterrupt``, a
    notebook's, their own). Outside the main thread, for a signal whose handler is not Python's
    (the default SIGTERM ends the process anyway) or is one of ours, nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    installed: dict[int, Callable[[int, FrameType | None], Any]] = {}
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(signum)
        if callable(handler) and handler not in (interrupt, terminate):
            installed[signum] = _after_imports(handler)
            previous[signum] = signal.signal(signum, installed[signum])
    try:
        yield
    finally:
        for signum, handler in installed.items():
            if signal.getsignal(signum) is handler:  # not one installed in the block since
                signal.signal(signum, previous[signum])


def _after_imports(
    handler: Callable[[int, FrameType | None], Any],
) -> Callable[[int, FrameType | None], Any]:
    """``handler``, called once the import a signal lands in is done."""

    def handle(signum: int, frame: FrameType | None) -> Any:
        if deferred(signum, frame):
            return None
        return handler(signum, frame)

    return handle


def unwind(signum: int, frame: FrameType | None) -> NoReturn:
    """A second SIGTERM where the process had ignored it (a sweep launcher's worker between jobs):
    :class:`Terminated`, which unwinds (a save in progress removes its temporary file), recording
    nothing (the worker's later work has nothing to learn from it)."""
    raise Terminated


def quit_line(signum: int) -> str:
    """What a program that a signal made quit at once says (``interrupted: ...``, ``terminated: ...``)."""
    return QUIT_AT_ONCE if signum == signal.SIGINT else QUIT_AT_ONCE.replace("interrupted", "terminated")


def exit_for_signal(signum: int) -> NoReturn:
    """The one line of a program that a signal made quit at once, and the shell's 128 + signal.
    The handlers above ignore a further signal from here, as the program quits anyway (a second
    Ctrl-C, or one still waiting for an import, printed the line again into the middle of this one)."""
    global quitting
    quitting = True
    cancel_redelivery()
    print(quit_line(signum), file=sys.stderr)
    write_to_run_logs(quit_line(signum))  # the run's log ended with its last line before, or was empty
    sys.exit(128 + signum)


def exit_if_interrupted() -> None:
    """Exit as :func:`exit_for_signal` if a signal came: what is failing now is its aftermath."""
    if received:
        exit_for_signal(received[0])


def exit_if_deferred() -> None:
    """Exit as :func:`exit_for_signal` for a signal still waiting to be sent again: it landed in an
    import near a program's end (Adam's lazy ``torch._dynamo``), and the work finished before the
    next redelivery; the program's end cancelled it, and an evaluation stopped by SIGTERM exited 0."""
    if _deferred_since:
        exit_for_signal(next(iter(_deferred_since)))


def take_received() -> int | None:
    """The signal a library swallowed, which the caller now handles (it stops as a signal asks);
    None when none came."""
    if not received:
        return None
    signum = received[0]
    received.clear()
    return signum


def raise_if_received() -> None:
    """Raise again the signal a library swallowed (``KeyboardInterrupt`` or :class:`Terminated`)."""
    if received:
        raise KeyboardInterrupt if received[0] == signal.SIGINT else Terminated


def reset() -> None:
    """A program starts or has ended (it may be called again in this process): no signal has
    come, none is waiting."""
    global quitting, over
    quitting = over = False
    received.clear()
    _deferred_since.clear()
    cancel_redelivery()


def quit_at_once_from_now(done: bool = False) -> None:
    """A program whose work is over (saved and said, or done) quits at once on a further SIGINT or
    SIGTERM: raised as ``KeyboardInterrupt``, a Ctrl-C that landed in a finalizer or an exit hook as
    the process ended (tqdm's ``__del__``, torch's library finalizer, ``torch._dynamo``'s exit hook),
    just after a stopped run's ``resume with:`` line or a finished run's last line, printed
    "Exception ignored in ..." and a traceback; it quits with its one line and 128 + signal. A
    program ``done`` with its work ends as finished, with 0 and no line, whenever the signal comes
    in the half second of its exit (a scheduler's SIGTERM there marked a finished run's job failed,
    143): at once during the exit hooks (a slow one of an env's module is cut short), and after
    them, once :func:`ignore_once_finished` ran, when the process ends; after them, a program that
    ended otherwise (stopped and saved, or refused) ends with the status it was ending with. An
    ignored signal (a background job's SIGINT) stays ignored."""
    global over
    over = True
    for signum in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(signum) is not signal.SIG_IGN:
            signal.signal(signum, _end_finished if done else _quit_now)


def _end_finished(signum: int, frame: FrameType | None) -> NoReturn:
    """A finished program's end on a signal as it exits: what was printed is flushed, then 0."""
    _flush_printed()
    os._exit(0)


_exit_hook_registered = False
"""Whether :func:`register_exit_hook` registered its hook in this process."""


def register_exit_hook() -> None:
    """Register :func:`ignore_once_finished` as an exit hook, once per process: as the first
    program starts, so that it runs late."""
    global _exit_hook_registered
    if not _exit_hook_registered:
        atexit.register(ignore_once_finished)
        _exit_hook_registered = True


def ignore_once_finished() -> None:
    """An exit hook a program registers as it starts, so that it runs after the hooks registered
    later (torch's, tqdm's, an env module's): a program whose work is over ignores SIGINT and
    SIGTERM from here on. The interpreter puts the default actions back as it begins to shut down,
    just after the exit hooks and before the half second of its modules' teardown, so
    :func:`_end_finished` and :func:`_quit_now` never ran then and a signal killed the process by
    its number, with no line: a finished run (not 0), a stopped one after its ``resume with:`` line
    (not 130/143), a refused one (not 2). An ignored signal stays ignored."""
    if over:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)


def _flush_printed() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):  # a flush this signal interrupted: "reentrant call"
            stream.flush()


def _quit_now(signum: int, frame: FrameType | None) -> NoReturn:
    """:func:`exit_for_signal` where no exception may rise: what was printed is flushed, then the
    process ends (nothing is left to save)."""
    _flush_printed()
    os.write(2, f"\n{quit_line(signum)}\n".encode())  # its own line: it may come between a line and its \n
    os._exit(128 + signum)
