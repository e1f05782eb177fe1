"""Exceptions that end a run on purpose, each with the exit status the entry points use, and the
warnings the Python API gives the caller's code.

Entry points catch :class:`UserError`, print its one-line message and exit with
``error.exit_code`` (2 for a mistake; 130/143 for a run stopped by SIGINT/SIGTERM, the shell's
128 + signal number); any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
import warnings
from pathlib import Path
from types import FrameType

USER_ERROR_EXIT_CODE = 2
QUIT_AT_ONCE = "interrupted: quit at once (files written before are intact)"
"""What a Ctrl-C that is not caught to save (a second one, or one during start-up) prints."""


class UserError(Exception):
    """A bad config value, env id or file: the message says what arrived and what to change."""

    exit_code: int = USER_ERROR_EXIT_CODE


class RunInterrupted(UserError):
    """SIGINT/SIGTERM stopped a run after it saved a checkpoint; the message says how to resume.

    :param resumes: ``(command, call)`` for each stopped run whose line says how to resume it: the
        command line in the message and the same resume as a Python call (:meth:`in_python`).
    """

    def __init__(self, message: str, exit_code: int, resumes: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message, exit_code)
        self.exit_code = exit_code
        self.resumes = resumes

    def __str__(self) -> str:
        return str(self.args[0])

    def in_python(self) -> RunInterrupted:
        """The same stop, its resume commands said as the Python calls (for ``agents.train``)."""
        message = str(self)
        for command, call in self.resumes:
            message = message.replace(command, call)
        return RunInterrupted(message, self.exit_code)


PACKAGE_FOLDER = str(Path(__file__).parent) + os.sep


def caller_outside_package(frame: FrameType) -> tuple[FrameType, int]:
    """The first frame from ``frame`` outward that is not this package's code (the caller's own
    line; the outermost frame if all are), and how many frames out it is (0: ``frame`` itself)."""
    depth = 0
    while frame.f_back is not None and frame.f_code.co_filename.startswith(PACKAGE_FOLDER):
        frame, depth = frame.f_back, depth + 1
    return frame, depth


def warn_at_caller(message: str) -> None:
    """A ``UserWarning`` shown at the line of the caller's own code that called into this package
    (``agents.train(...)``), however deep in the package it is raised: a fixed ``stacklevel``
    pointed into the package once a call in between was added."""
    _, depth = caller_outside_package(sys._getframe(1))
    warnings.warn(message, UserWarning, stacklevel=2 + depth)  # stacklevel 2: this function's caller


def first_line(error: BaseException) -> str:
    """The first line of ``error``'s message without its final period (its type's name if empty)."""
    lines = str(error).strip().splitlines()
    return lines[0].rstrip(".") if lines else type(error).__name__


def describe(error: BaseException, last_line: bool = False) -> str:
    """``TypeName: message`` on one line (the message's first non-empty line, or its last, where
    torch puts the detail), cut at 300 characters: for one-line reports of foreign exceptions."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = (lines[-1] if last_line else lines[0]) if lines else ""
    return f"{type(error).__name__}: {detail}"[:300] if detail else type(error).__name__


def broken_yaml(error: Exception, path: str | Path | None = None) -> str:
    """One line for a YAML file that does not parse (PyYAML's ``MarkedYAMLError``, which spans four
    lines): the file and line (relative to the working folder where it lies below it), what the
    parser found and that its YAML needs fixing. ``path`` names the file where the error does not
    (PyYAML read a string)."""
    context_mark, problem_mark = getattr(error, "context_mark", None), getattr(error, "problem_mark", None)
    mark = context_mark or problem_mark
    # a ReaderError (a NUL byte, bytes that are no UTF-8) has no mark: its stream's name is the file
    stream = getattr(mark, "name", None) or getattr(error, "name", None) or ""
    name = str(path if path is not None else stream)
    if not name or name.startswith("<"):  # "<unicode string>": PyYAML read a string, not a file
        return f"a YAML file does not parse ({describe(error)}): fix its YAML"
    where = os.path.relpath(name) if Path(name).resolve().is_relative_to(Path.cwd()) else name
    parts = [getattr(error, name, None) for name in ("context", "problem")]
    what = ", ".join(str(part) for part in parts if part) or describe(error)
    line = f" line {mark.line + 1}" if mark is not None else ""
    later = problem_mark is not None and mark is not None and problem_mark.line != mark.line
    return f"{where}{line}: {what}{f' (line {problem_mark.line + 1})' if later else ''}: fix its YAML"


def nearest_existing(folder: Path) -> Path | None:
    """``folder`` or the nearest of its parents that exists (None: none does)."""
    # (os.path.exists: False for a name too long, where Path.exists raises)
    return next((place for place in (folder, *folder.parents) if os.path.exists(place)), None)


def write_refused(folder: Path) -> OSError | None:
    """The OS's error for a file written into the existing ``folder``; None where it takes one (a
    file, not ``os.access``: root passes that where the file system still refuses one, /sys/kernel)."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        return error
    return None


def folder_problem(folder: Path, error: OSError) -> str:
    """Why ``folder`` could not be created, for one line: the file that lies where ``folder`` or one
    of its parents must be a folder, named (the OS says "File exists" or "Not a directory", which
    name neither that file nor which of the two is meant), else the OS's reason."""
    place = nearest_existing(folder)
    if place is not None and not place.is_dir():
        return f"{place} is a file, not a folder"
    return error.strerror or str(error)


def unwritable_run_dir(run_dir: Path, error: OSError, resuming: bool = False) -> UserError:
    """One line for a run folder whose files could not be written: what is in the way, named (a file
    where a folder must be, as :func:`folder_problem` says, or a folder where a file must be), or the
    path and the OS's reason, and what to change (free space only where the disk is full: a file in
    the way was "File exists (free space, or choose another run_dir)", naming neither file); a resume
    continues in its own folder, so only the first fix is offered."""
    path = Path(os.fsdecode(error.filename)) if error.filename else None
    other = "" if resuming else ", or choose another run_dir"
    fix = (
        "choose another run_dir" if not resuming else "free space, or copy the run to a folder that takes it"
    )
    if path is not None and error.errno in (errno.EEXIST, errno.ENOTDIR):
        problem, fix = folder_problem(path, error), f"move it away{other}"
    elif path is not None and error.errno == errno.EISDIR:
        problem, fix = f"{path} is a folder, not a file", f"move it away{other}"
    else:
        problem = f"{path}: {error.strerror or error}" if path is not None else str(error.strerror or error)
        if error.errno in STORAGE_ERRNOS:
            fix = f"free space{other}"
    return UserError(f"cannot write into run_dir {run_dir}: {problem} ({fix})")


def path_too_long(error: BaseException) -> UserError | None:
    """One line for a path the user gave that the OS refuses as too long (``ENAMETOOLONG``: a name
    over 255 bytes, or a path over 4096): Python's ``Path.exists`` raises it, where it answers
    False for a path that is not there. None for any other error."""
    if not (isinstance(error, OSError) and error.errno == errno.ENAMETOOLONG):
        return None
    where = f" {os.fsdecode(error.filename)}" if error.filename else " a path"
    return UserError(f"cannot use{where}: {error.strerror} (choose a shorter path)")


def name_too_long(path: str | Path) -> str | None:
    """Why the OS would refuse ``path`` as too long (``ENAMETOOLONG``), before anything is created
    on the way to it: a name longer than its file system takes, or the whole path longer than
    ``PATH_MAX`` (a ``stat`` says so only where the folder above the long name exists). None if
    neither."""
    absolute = Path(os.path.abspath(path))
    existing = next(place for place in (absolute, *absolute.parents) if os.path.exists(place))
    try:
        name_max, path_max = os.pathconf(existing, "PC_NAME_MAX"), os.pathconf(existing, "PC_PATH_MAX")
    except (OSError, ValueError):
        name_max, path_max = 255, 4096
    long_name = next((part for part in absolute.parts if len(os.fsencode(part)) > name_max), None)
    if long_name is not None:
        shown = long_name if len(long_name) <= 24 else long_name[:20] + "..."
        size = len(os.fsencode(long_name))
        return f"its name {shown} has {size} bytes, more than the {name_max} a name may have"
    size = len(os.fsencode(str(absolute)))
    if size >= path_max:
        return f"it has {size} bytes, more than the {path_max - 1} a path may have"
    return None


STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})
"""What a full disk, a quota, a file-size limit, a read-only or failing disk say when a file is written."""


def storage_error(error: BaseException) -> OSError | None:
    """The :data:`STORAGE_ERRNOS` ``OSError`` behind ``error``: itself, or what it was raised from
    (torch's ``save`` reports a full disk as a ``RuntimeError`` "unexpected pos", from the OSError)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in STORAGE_ERRNOS:
            return seen
        seen = seen.__cause__ or seen.__context__
    return None
