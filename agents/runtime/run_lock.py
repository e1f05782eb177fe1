"""One writer per run folder: an advisory ``flock`` on ``<run dir>/.lock`` held while a run writes.

Two runs in one folder would interleave their event files and leave a ``config.yaml`` that does
not match ``checkpoint.pt``. The lock is ``fcntl.flock`` on an open file, which the kernel
releases when the process ends however it ends (kill -9 included), so a killed run never leaves
a stale lock; the file keeps the holder's pid for the message.
"""

from __future__ import annotations

import fcntl
import os
import resource
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import IO, ClassVar

from agents.errors import UserError

LOCK_NAME = ".lock"
"""The lock file in each run folder (it holds the pid of the run that writes there)."""
SWEEP_LOCK_NAME = ".sweep.lock"
"""The lock file in a sweep's folder (``hydra.sweep.dir``): the pid of the process launching its
jobs (not ``.lock``, which would make the jobs' own folders look held by another run)."""


SPARE_OPEN_FILES = 16
"""Files kept free beyond the count: a checkpoint being written, a log, Hydra's files."""
FILES_PER_SEED = 2
"""Files each seed of ``seed_mode=exact`` holds open: its folder's lock and its TensorBoard event file."""
FILES_PER_ASYNC_ENV = 4
"""Files each sub-env of ``vector.mode=async`` holds open in this process (its pipes, its process)."""


def open_files() -> int:
    """Files this process holds open now (``/proc/self/fd``; 0 where there is none)."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def make_room_for_seeds(num_seeds: int, async_envs: int = 0) -> tuple[int, int]:
    """Let this process hold the files of ``num_seeds`` runs open at once (:data:`FILES_PER_SEED`
    each, and ``async_envs`` sub-env processes in all): raise its soft limit on open files toward
    the hard one, as Ray does, or refuse in one line where the hard limit is too low. Returns the
    limits as they were, for :func:`restore_open_file_limit` once the seeds are done. A 1,100-seed
    run under ``ulimit -n 1024`` was a traceback after 38 s (``Too many open files``)."""
    limits = soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    per_seed = FILES_PER_SEED * num_seeds + FILES_PER_ASYNC_ENV * async_envs
    needed = open_files() + per_seed + SPARE_OPEN_FILES
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return limits
    if hard != resource.RLIM_INFINITY and needed > hard:
        each = (
            f"{FILES_PER_SEED} per seed{f', {FILES_PER_ASYNC_ENV} per async sub-env' if async_envs else ''}"
        )
        raise UserError(
            f"num_seeds={num_seeds} with seed_mode=exact needs about {needed:,} open files ({each}), more "
            f"than the {hard:,} this process may open (ulimit -Hn): lower num_seeds, or use seed_mode=batched"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return limits


def restore_open_file_limit(limits: tuple[int, int]) -> None:
    """Put back the soft limit :func:`make_room_for_seeds` raised (an ``agents.train`` caller's
    process, and its children, keep theirs), where the files open now allow it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != limits[0] and (limits[0] == resource.RLIM_INFINITY or open_files() <= limits[0]):
        with suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (limits[0], hard))


def still_named(path: Path, handle: IO[str]) -> bool:
    """Whether ``path`` still names the file ``handle`` has open."""
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


def held_elsewhere(folder: Path) -> bool:
    """Whether another process holds ``folder``'s run or sweep lock: a run refused there (started at
    the same moment as that one) removed, as its own unused output, that run's ``.lock``, ``.hydra/``
    record and empty log, or the whole folder, while that run trained on."""
    for lock in (RunFolderLock, SweepFolderLock):
        try:
            lock.check_free(folder, unless_ours=True)
        except UserError:
            return True
    return False


class RunFolderLock:
    """Hold ``<run_dir>/.lock`` exclusively until :meth:`release` (or the process ends).

    :param run_dir: an existing run folder.
    :raises UserError: another process (or another run in this one) holds the folder.
    """

    name: ClassVar[str] = LOCK_NAME
    """The lock file's name in the folder."""

    def __init__(self, run_dir: Path, made_folders: Sequence[Path] = ()) -> None:
        path = run_dir / self.name
        self.path, self.made_folders = path, list(made_folders)
        """The folders the run made for ``run_dir``, itself first, then its parents that were not
        there (:meth:`give_up` removes them, when empty)."""
        self.made_file = not path.exists()  # (a run's folder keeps its lock file after the run)
        while True:
            handle: IO[str] | None = path.open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip()
                handle.close()
                raise self.in_use(run_dir, holder) from None
            if still_named(path, handle):
                break
            handle.close()  # a run that gave up removed the file after this one opened it: a lock on
            # that file would leave the name free for a third run; lock the file the name holds now
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle

    @staticmethod
    def in_use(folder: Path, holder: str) -> UserError:
        """The line for a folder that ``holder`` (a pid) holds."""
        return UserError(
            f"run folder {folder} is in use by another run (pid {holder or 'unknown'}); wait for it to end "
            "or choose another run_dir"
        )

    @classmethod
    def check_free(cls, run_dir: Path, unless_ours: bool = False) -> None:
        """Raise :class:`UserError` as the constructor does when a run holds ``run_dir``; write
        nothing (a folder without a lock file is free). ``unless_ours``: a lock this process holds
        counts as free (a ``num_seeds`` run holds its folder while its seeds lock their own)."""
        path = run_dir / cls.name
        try:
            handle = path.open("r")
        except OSError:
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = handle.read().strip()
                if unless_ours and holder == str(os.getpid()):
                    return
                raise cls.in_use(run_dir, holder) from None
            fcntl.flock(handle, fcntl.LOCK_UN)

    def give_up(self) -> None:
        """Release the folder of a run that never started, leaving it as it was: the lock file goes
        where this lock made it (before the release: no other run holds the file then), and the
        folders the run made (its own and the parents), where nothing else is in them."""
        if self.handle is not None and self.made_file:
            with suppress(OSError):
                self.path.unlink()
        self.release()
        for folder in self.made_folders:
            try:
                folder.rmdir()  # (only an empty folder)
            except OSError:
                break

    def release(self) -> None:
        """Let another run write here (once; later calls do nothing)."""
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


class SweepFolderLock(RunFolderLock):
    """One sweep per ``hydra.sweep.dir``, held by the process that launches its jobs from the
    sweep's start to its end: two sweeps started together into one folder both passed the check
    for an earlier sweep's ``multirun.yaml``, then wrote one ``multirun.yaml`` and mixed their
    jobs' records (or overwrote each other's, for the same jobs)."""

    name = SWEEP_LOCK_NAME

    @staticmethod
    def in_use(folder: Path, holder: str) -> UserError:
        return UserError(
            f"hydra.sweep.dir={folder} is in use by another sweep (pid {holder or 'unknown'}); wait for "
            "it to end or choose another hydra.sweep.dir"
        )
