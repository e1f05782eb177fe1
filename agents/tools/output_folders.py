"""Hydra's output folders that a program made and did not use (it was refused, or wrote its
results elsewhere) are removed, so that a mistake leaves no empty ``outputs/<time>/`` behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from agents.runtime.run_lock import LOCK_NAME, SWEEP_LOCK_NAME, held_elsewhere

T = TypeVar("T")

HYDRA_RECORD = {".hydra": ("config.yaml", "hydra.yaml", "overrides.yaml")}
"""What Hydra writes into a run's folder before the run starts (besides an empty job log)."""
SWEEP_RECORD = ("multirun.yaml", SWEEP_LOCK_NAME)
"""What Hydra writes into a sweep's folder before its jobs start, and the sweep's lock file."""
RUN_OUTPUT_ROOTS = ("outputs", "runs", "multirun")
"""The working folder's subfolders that hold the default run folders (``outputs/<env>/<time>``)."""


@dataclass
class FoldersBefore:
    """The folders that existed before Hydra made a run's folder, and what a given one held: a run
    that fails before writing anything removes only what it added."""

    folders: set[Path]
    given: Path | None = None
    given_entries: set[str] = field(default_factory=set)

    @classmethod
    def now(cls, given: str | None) -> FoldersBefore:
        """What exists now; ``given``: the ``hydra.run.dir`` of the command line (as Hydra reads it)."""
        cwd = Path(os.path.abspath("."))
        folders = {cwd, *cwd.parents}
        for root in RUN_OUTPUT_ROOTS:
            with suppress(OSError):
                folders |= {cwd / root, *(path for path in (cwd / root).iterdir() if path.is_dir())}
        folder = Path(os.path.abspath(given)) if given else None
        entries: set[str] = set()
        if folder is not None:
            folders |= {path for path in (folder, *folder.parents) if path.is_dir()}
            with suppress(OSError):
                entries = set(os.listdir(folder))
        return cls({path for path in folders if path.is_dir()}, folder, entries)


def without_an_unused_output_dir(task: Callable[[], T], before: FoldersBefore | None = None) -> T:
    """Run ``task`` (a single Hydra run's body); if it fails (a user's mistake, a signal) before
    writing anything, remove what Hydra added for it: its ``.hydra/`` record, the empty job log, the
    run folder's lock and, when they did not exist ``before``, the run folder and its parents (then
    empty, e.g. ``outputs/<env>/``). A mistaken command line leaves nothing behind, and a folder or
    file that existed before is never removed."""
    try:
        return task()
    except BaseException:
        folder_remover(before)()
        raise


def folder_remover(before: FoldersBefore | None) -> Callable[[], None]:
    """A call that removes what Hydra added for the run it is making (:func:`_remove_what_the_run_added`)."""

    def remove() -> None:
        from hydra.core.hydra_config import HydraConfig

        if before is not None and HydraConfig.initialized() and HydraConfig.get().runtime.output_dir:
            _remove_what_the_run_added(Path(os.path.abspath(HydraConfig.get().runtime.output_dir)), before)

    return remove


def remove_an_unused_sweep_folder(before: FoldersBefore) -> None:
    """A sweep that ended in a one-line error before any job wrote its result (a logging setting
    Python refused, in the launching process or a joblib worker) removes what Hydra added for it:
    each job's folder as :func:`_remove_what_the_run_added` removes a run's, then the sweep's
    ``multirun.yaml`` and, when they did not exist ``before``, its folder and their parents."""
    from agents.tools.sweep import RESULT_NAME, SweepSummary

    if SweepSummary.launched_sweep_dir is None:  # (no summary callback: evaluate.py -m)
        return
    folder = Path(os.path.abspath(SweepSummary.launched_sweep_dir))
    kept = SweepSummary.entries_before or set()  # what the folder held as the sweep started
    if SweepSummary.entries_before is not None:  # (the command line may name it by an interpolation)
        before = FoldersBefore(before.folders | {folder}, folder, kept)
    try:
        if any(folder.rglob(RESULT_NAME)):
            return
        jobs = [path for path in folder.iterdir() if path.is_dir() and not path.is_symlink()]
    except OSError:
        return
    for job in jobs:
        if job.name not in kept:
            _remove_what_the_run_added(job, before)
    _remove_what_the_run_added(folder, before, SWEEP_RECORD)


def _remove_what_the_run_added(
    folder: Path, before: FoldersBefore, record_files: tuple[str, ...] = ()
) -> None:
    """Remove what ``folder`` (a run's, or with ``record_files`` a sweep's) holds that Hydra added,
    and the folder, where that is all it holds."""
    if held_elsewhere(folder):  # another run's, started with this one: its files, not this one's
        return
    existed = folder in before.folders
    kept = before.given_entries if folder == before.given else set()
    try:
        added = [folder / name for name in os.listdir(folder) if name not in kept]
        records = {path: list(path.iterdir())
                   for path in added if path.name in HYDRA_RECORD and path.is_dir()}  # fmt: skip
        files = [path for path in added if path.is_file() and not path.is_symlink()]
        empty_logs = [path for path in files if path.suffix == ".log" and not path.stat().st_size]
        unused = all(
            (path in records and all(file.name in HYDRA_RECORD[path.name] for file in records[path]))
            or path in empty_logs
            or (path in files and path.name in (LOCK_NAME, *record_files))
            for path in added
        )
    except OSError:
        return
    if not unused:
        return
    with suppress(OSError):
        for path in [*(file for listed in records.values() for file in listed), *files]:
            path.unlink()
        for record in records:
            record.rmdir()
        if existed:
            return
        folder.rmdir()
        parent = folder.parent
        while parent not in before.folders:
            parent.rmdir()  # OSError when it is not empty: stop there
            parent = parent.parent
