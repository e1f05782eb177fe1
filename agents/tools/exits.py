"""How a program ends on a user's mistake: one line on stderr and exit 2 (130/143 for a signal),
no traceback (:func:`run_or_exit`); a bug keeps its traceback."""

from __future__ import annotations

import errno
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn, TypeVar

from agents.errors import (
    STORAGE_ERRNOS,
    USER_ERROR_EXIT_CODE,
    RunInterrupted,
    UserError,
    folder_problem,
    name_too_long,
    write_refused,
)
from agents.runtime import interrupts
from agents.tools.closed_pipe import exit_for_the_closed_pipe, stdout_reader_gone
from agents.tools.composing import not_utf8_message
from agents.tools.hydra_compose import unreadable_config
from agents.tools.usage import CONFIG_DIR, config_dirs_given

T = TypeVar("T")


def exit_with_user_error(message: object, exit_code: int = USER_ERROR_EXIT_CODE) -> NoReturn:
    """Print ``error: <message>`` to stderr and exit with ``exit_code`` (2: a user's mistake); after
    a signal, what failed is its aftermath: the signal's line instead (:mod:`~agents.runtime.interrupts`)."""
    interrupts.exit_if_interrupted()
    print(f"error: {message}", file=sys.stderr)
    sys.exit(exit_code)


FILE_SYSTEM_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG,
                      errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                      errno.ENAMETOOLONG}  # fmt: skip
"""An ``OSError`` with one of these is the machine's answer to a path the user gave, not a bug."""


def exit_with(error: UserError | KeyboardInterrupt | OSError) -> NoReturn:
    """One line for ``error`` and its exit status: a run stopped by a signal says where it was
    saved (130/143), a mistake or an unusable location is ``error: ...`` (2)."""
    if isinstance(error, RunInterrupted):  # not a mistake: say what happened, no "error:"
        interrupts.quit_at_once_from_now()  # the run is saved: a further Ctrl-C ends the process now
        print(error, file=sys.stderr)
        sys.exit(error.exit_code)
    if isinstance(error, KeyboardInterrupt):
        interrupts.exit_for_signal(signal.SIGINT)
    if isinstance(error, OSError):
        exit_with_user_error(os_error_line(error))
    exit_with_user_error(error, error.exit_code)


def os_error_line(error: OSError) -> str:
    """The line of an ``OSError`` that is the machine's answer to a place the user chose
    (:data:`FILE_SYSTEM_ERRORS`): the file it names (a path of bytes, as the OS gave it, was
    printed ``b'/...'``), what is wrong and what to change."""
    where = f" {os.fsdecode(error.filename)}" if error.filename else ""
    problem = error.strerror
    if error.filename and error.errno in (errno.ENOTDIR, errno.EEXIST):  # which file is in the way
        problem = folder_problem(Path(os.fsdecode(error.filename)), error)
    if error.errno in STORAGE_ERRNOS:  # a full disk, a quota: Hydra's own files or train.log
        return f"cannot write{where}: {problem} (free space, or choose another location)"
    return f"cannot use{where}: {problem} (choose another location)"


def check_output_folder(folder: Path, key: str, files: Sequence[str] = ()) -> None:
    """Create ``folder``, where ``key`` writes its output, and check it takes files, before the
    work (which may take hours) rather than after it: one line and exit 2 otherwise. ``files``:
    the names the work writes in it, none of which may be a folder (it failed after the work)."""
    too_long = name_too_long(folder)
    if too_long is not None:  # (mkdir made the parents before it failed)
        exit_with_user_error(f"{key}: cannot use {folder}: {too_long} (choose a shorter path)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        exit_with_user_error(
            f"{key}: cannot create {folder}: {folder_problem(folder, error)} (choose another location)"
        )
    refused = write_refused(folder)
    if refused is not None:
        exit_with_user_error(
            f"{key}: cannot write into {folder}: {refused.strerror or refused} (choose another location)"
        )
    for name in files:
        if (folder / name).is_dir():
            exit_with_user_error(
                f"{key}: {folder / name} is a folder, where the file {name} is written "
                "(move it away, or choose another location)"
            )


@contextmanager
def output_folder(folder: Path, key: str, files: Sequence[str] = ()) -> Iterator[None]:
    """:func:`check_output_folder` before the work that writes into ``folder``; the folders it
    created are removed again if the work leaves them empty (a refusal, a Ctrl-C before the
    first file), so a command that wrote nothing leaves nothing behind."""
    created = [path for path in (folder, *folder.parents) if not path.exists()]  # innermost first
    try:
        check_output_folder(folder, key, files)
        yield
    finally:
        for path in created:
            try:
                path.rmdir()
            except OSError:  # not empty: the work wrote into it
                break


def run_or_exit(task: Callable[[], T]) -> T:
    """Run ``task``; on :class:`UserError` print ``error: <message>`` to stderr and exit with the
    error's ``exit_code`` (2 for a mistake, 130/143 for an interrupted run); an unwritable or
    full location (:data:`FILE_SYSTEM_ERRORS`) and a Ctrl-C that quit at once are one line too; output
    to a reader that left (``... | head``) ends it quietly, exit 141 (:mod:`~agents.tools.closed_pipe`:
    inside a Hydra app, before Hydra would log the error)."""
    try:
        return task()
    except (UserError, KeyboardInterrupt) as error:
        exit_with(error)
    except UnicodeDecodeError as error:  # a config file saved as UTF-16 (Windows' Notepad)
        message = not_utf8_message(error, [CONFIG_DIR, *config_dirs_given(sys.argv[1:])])
        if message is None:
            interrupts.exit_if_interrupted()
            raise
        exit_with_user_error(message)
    except OSError as error:
        if isinstance(error, BrokenPipeError) and stdout_reader_gone():
            exit_for_the_closed_pipe()
        if error.errno not in FILE_SYSTEM_ERRORS:
            interrupts.exit_if_interrupted()
            exit_if_unreadable_config(error)
            raise
        exit_with(error)
    except Exception as error:  # inside a Hydra app: before Hydra prints "Error executing job"
        interrupts.exit_if_interrupted()
        exit_if_unreadable_config(error)
        raise


def exit_if_unreadable_config(error: BaseException) -> None:
    """Exit with the one line of a config file Hydra could not read as one, where ``error`` is
    Hydra's for it as the app composed its config (:func:`~agents.tools.hydra_compose.unreadable_config`;
    the checks before the app defer to the app's own composition)."""
    message = unreadable_config(error)
    if message is not None:
        exit_with_user_error(message)
