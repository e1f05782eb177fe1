"""Output to a reader that has gone (``program --help | head -1``): the program ends quietly.

Python ignores SIGPIPE, so the first write after the reader closed the pipe raised
BrokenPipeError, a traceback. A program ends there instead, silently and with
:data:`PIPE_CLOSED_EXIT_CODE`, as a program that SIGPIPE ends (``yes | head``): the pattern of
Python's ``signal`` docs, "Note on SIGPIPE". A BrokenPipeError of another pipe (a vector env's
worker) is no reader leaving and keeps its traceback.

A multirun (``train.py -m ... | head``) is the exception: its jobs' lines go to the null device
once the reader has gone (:func:`stdout_quiet_once_the_reader_leaves`), so each job ends as it
would have and its result is recorded as what it is; the sweep exits 141 after its summary.

So does Hydra's ``--info``: it prints through a log handler on stdout that Hydra makes before any
of our code runs, so its lines go to the null device once the reader has gone, then it exits 141.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, TextIO

PIPE_CLOSED_EXIT_CODE = 128 + signal.SIGPIPE
"""141, as the shell reports a program that SIGPIPE ended."""


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose reading end is closed (``poll`` reports an error on it)."""
    return _reader_gone(sys.stdout)


def _reader_gone(stream: TextIO) -> bool:
    """Whether ``stream`` is a pipe whose reading end is closed."""
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll (Windows), no file descriptor (captured)
        return False


_reader_left: list[bool] = []
"""Set once this process pointed stdout to the null device because its reader had gone."""


def reader_left() -> bool:
    """Whether stdout's reader went away in this process (stdout now points to the null device)."""
    return bool(_reader_left)


def _to_the_null_device(stream: TextIO | None = None) -> None:
    """Point ``stream``'s file descriptor (stdout's by default) to the null device."""
    null_device = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null_device, (sys.stdout if stream is None else stream).fileno())
    os.close(null_device)
    _reader_left.append(True)


def exit_for_the_closed_pipe() -> NoReturn:
    """Exit with :data:`PIPE_CLOSED_EXIT_CODE`; stdout now points to the null device, so the
    interpreter's last flush of what is still buffered raises nothing."""
    _to_the_null_device()
    sys.exit(PIPE_CLOSED_EXIT_CODE)


class _ReaderGone(logging.Filter):
    """On a log handler that writes to stdout: once the reader has gone, stdout points to the null
    device before the record is written (each line printed ``--- Logging error ---`` and a
    traceback to stderr, while the run went on)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if stdout_reader_gone():
            _to_the_null_device()
        return True


def quiet_log_lines_to_a_closed_stdout() -> None:
    """Put :class:`_ReaderGone` on the root logger's handlers that write to stdout (Hydra's job
    logging, configured for each run or job): a run piped to ``head`` trains on, saves and ends."""
    for handler in logging.getLogger().handlers:
        stdout = isinstance(handler, logging.StreamHandler) and handler.stream is sys.stdout
        if stdout and not any(isinstance(found, _ReaderGone) for found in handler.filters):
            handler.addFilter(_ReaderGone())


@contextmanager
def quiet_when_the_reader_leaves() -> Iterator[None]:
    """Run the body; if it (or the flush of stdout after it) writes to a reader that has gone,
    :func:`exit_for_the_closed_pipe`. Stdout is flushed also when the body exits (``--help``
    prints, then exits 0), while the error can still be caught; not after another exception,
    whose traceback a closed pipe must not hide."""
    try:
        try:
            yield
        except SystemExit:
            sys.stdout.flush()
            raise
        sys.stdout.flush()
    except BrokenPipeError:
        if not stdout_reader_gone():
            raise
        exit_for_the_closed_pipe()


class _QuietStream:
    """``sys.stdout`` (or ``sys.stderr``) whose write or flush to a reader that has gone points its
    file descriptor to the null device instead of raising BrokenPipeError (the text is dropped);
    anything else is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except BrokenPipeError as error:
            self._null_device_unless_another(error)
            return len(text)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except BrokenPipeError as error:
            self._null_device_unless_another(error)

    def _null_device_unless_another(self, error: BrokenPipeError) -> None:
        if not _reader_gone(self.stream):  # not the reader leaving: the error stands
            raise error
        _to_the_null_device(self.stream)  # what the stream still buffers is flushed there

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


@contextmanager
def stdout_quiet_once_the_reader_leaves() -> Iterator[None]:
    """Run the body (a multirun, or one of its jobs) with :class:`_QuietStream` as ``sys.stdout``: a
    job whose ``print`` met a closed pipe failed (Hydra marked it ``FAILED`` in ``result.json`` and
    the summary) although it had trained and saved. Now every job runs to its end; whether the reader
    left is :func:`reader_left`. Nested uses wrap once."""
    if isinstance(sys.stdout, _QuietStream):
        yield
        return
    stream = sys.stdout
    sys.stdout = _QuietStream(stream)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout = stream


@contextmanager
def quiet_once_the_readers_leave() -> Iterator[None]:
    """Run the body (one run) with stdout and stderr as :class:`_QuietStream`: a run piped with
    ``2>&1`` to a reader that had gone failed at the progress bar's first line, before it saved
    anything (and a resume's first ``resume:`` line undid its start). Now it trains on, saves and
    ends; whether a reader left is :func:`reader_left`."""
    stream = sys.stderr
    quiet = stream if isinstance(stream, _QuietStream) else _QuietStream(stream)
    sys.stderr = quiet  # type: ignore[assignment]
    try:
        with stdout_quiet_once_the_reader_leaves():
            yield
    finally:
        sys.stderr = stream
