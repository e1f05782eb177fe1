"""The run folder: where a run goes (:func:`resolve_run_dir`), and taking it: created, locked
(one writer per folder, :mod:`agents.runtime.run_lock`), refused where it holds another run, and
left as it was when the run never started.
"""

from __future__ import annotations

import errno
import os
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from agents.errors import UserError, folder_problem, unwritable_run_dir
from agents.runtime.checkpoint import (
    BEST_CHECKPOINT_NAME,
    CHECKPOINT_NAME,
    KEPT_CHECKPOINT_GLOB,
    file_version,
    kept_steps,
    remove_stale_temporaries,
    saved_seed_mode,
    write_text_atomically,
)
from agents.runtime.event_files import EVENT_FILE_PREFIX
from agents.runtime.program import path_override
from agents.runtime.run_lock import LOCK_NAME, RunFolderLock

RUN_FILES = ("config.yaml", CHECKPOINT_NAME, BEST_CHECKPOINT_NAME)
"""The files a run writes into its folder."""
SEEDS_TOP_FILES = ("config.yaml",)
"""Those a ``num_seeds`` run's top folder may get (its checkpoints are in its seed folders)."""


def refuse_folders_named_as_run_files(
    run_dir: Path, names: tuple[str, ...] = RUN_FILES, resuming: bool = False
) -> None:
    """A folder where a run writes one of its files (``names``; a ``num_seeds`` run's top folder:
    :data:`SEEDS_TOP_FILES`) is refused before it starts (a folder named ``checkpoint.pt``
    failed the run's save once it had trained: the training was lost)."""
    for name in names:
        if (run_dir / name).is_dir():
            in_the_way = IsADirectoryError(errno.EISDIR, "Is a directory", str(run_dir / name))
            raise unwritable_run_dir(run_dir, in_the_way, resuming)


def held_checkpoints(run_dir: Path) -> list[Path]:
    """The checkpoints of runs already in ``run_dir``: its own (latest or best, then the periodic
    saves it kept, which a new run there wrote over) and those of a ``num_seeds`` run's ``seed*/``
    folders."""
    names = (CHECKPOINT_NAME, BEST_CHECKPOINT_NAME)
    kept = sorted(run_dir.glob(KEPT_CHECKPOINT_GLOB), key=kept_steps, reverse=True)
    seeds = sorted(path for name in names for path in run_dir.glob(f"seed*/{name}"))
    return [path for path in (*(run_dir / name for name in names), *kept, *seeds) if path.is_file()]


SWEEP_RECORDS = ("multirun.yaml", "summary.md")
"""The files a ``-m`` sweep writes at the top of its folder."""


def sweeps_own_folder(run_dir: Path) -> bool:
    """Whether ``run_dir`` is the folder of the sweep this process runs a job of: a one-job sweep
    with ``hydra.sweep.subdir=.`` trains beside the record its own sweep wrote there."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return False
    hydra = HydraConfig.get()
    own = Path(os.path.realpath(str(hydra.sweep.dir)))
    return str(hydra.mode) == "RunMode.MULTIRUN" and own == Path(os.path.realpath(run_dir))


def refuse_finished_runs(run_dir: Path) -> None:
    """A new run must not write over another's checkpoints, nor sit beside them (two runs' event
    files in one folder, or another run's ``checkpoint_best.pt`` taken for this one's), nor beside
    the curves of a run that quit before it saved one (a many-seeds run stopped while it set up its
    seed folders left them, and the next run's curves mixed with them), nor beside a sweep's job
    folders, nor write over a
    ``config.yaml`` there (the user's own, or a run's that quit before it wrote anything else).

    :raises UserError: naming the first one found and how to continue that run instead.
    """
    held = held_checkpoints(run_dir)
    if held:
        existing = held[0]
        batched = saved_seed_mode(existing.parent) == "batched"  # not resumable
        seed_folders = {path.parent for path in held} - {run_dir}  # a num_seeds run's: each resumes
        others = " (and its other seed folders, each on its own)" if len(seed_folders) > 1 else ""
        # a save cut short between checkpoint_best.pt and checkpoint.pt: only the best file resumes
        resumes = existing.parent if (existing.parent / CHECKPOINT_NAME).is_file() else existing
        how = "" if batched else f"continue it with {path_override('resume', resumes)}{others}, or "
        raise UserError(
            f"run_dir={run_dir} already holds a run ({existing}); {how}give a new run_dir "
            "(nothing was written)"
        )
    sweep = next((run_dir / name for name in SWEEP_RECORDS if (run_dir / name).is_file()), None)
    if sweep is not None and not sweeps_own_folder(run_dir):  # its jobs' and a run's side by side
        raise UserError(
            f"run_dir={run_dir} holds a sweep ({sweep}), whose job folders a run there would mix with: "
            "give a new run_dir (nothing was written)"
        )
    curves = sorted([*run_dir.glob(f"{EVENT_FILE_PREFIX}*"), *run_dir.glob(f"seed*/{EVENT_FILE_PREFIX}*")])
    if curves:  # a run quit before its first save (a second Ctrl-C, a kill): its curves, no checkpoint
        raise UserError(
            f"run_dir={run_dir} holds the TensorBoard curves of a run that saved no checkpoint ({curves[0]}; "
            "two runs' curves in one folder mix): give a new run_dir, or remove that run's files "
            "(nothing was written)"
        )
    if (run_dir / "config.yaml").is_file():  # the user's own file, which the run's would replace
        raise UserError(
            f"run_dir={run_dir} holds a config.yaml, which a run there would write over: give a new "
            "run_dir, or move that file (nothing was written)"
        )


@dataclass
class FolderBefore:
    """A run folder's ``config.yaml`` and event files before a run (or a resume) started in it."""

    run_dir: Path
    resuming: bool
    config_text: str | None
    """``config.yaml``'s text; None where there was none (or no file: a FIFO's read never returned)."""
    event_files: set[Path]

    @classmethod
    def now(cls, run_dir: Path, resuming: bool) -> FolderBefore:
        config = run_dir / "config.yaml"
        text = None
        if config.is_file():
            with suppress(OSError):
                text = config.read_text(encoding="utf-8", errors="surrogateescape")
        return cls(run_dir, resuming, text, set(run_dir.glob(f"{EVENT_FILE_PREFIX}*")))

    def put_back(self, lock: RunFolderLock) -> None:
        """Undo a start that took no step, holding the run's ``lock``: a new run's files go
        (:func:`remove_unstarted_run`); a resume's new event file goes and ``config.yaml`` (which
        it had written with its changes, which the checkpoint lacks) is the run's again, or goes
        where the run had none (a resume never removes the curves it found: it had taken a folder
        without ``config.yaml`` for a new run's, and removed them)."""
        if not self.resuming:
            remove_unstarted_run(self.run_dir, lock)
            return
        for path in set(self.run_dir.glob(f"{EVENT_FILE_PREFIX}*")) - self.event_files:
            with suppress(OSError):
                path.unlink()
        with suppress(OSError):
            if self.config_text is not None:
                write_text_atomically(self.run_dir / "config.yaml", self.config_text)
            elif (self.run_dir / "config.yaml").is_file():  # the resume's own
                (self.run_dir / "config.yaml").unlink()
        lock.release()


def remove_unstarted_run(run_dir: Path, lock: RunFolderLock | None = None) -> None:
    """Remove what a new run wrote into ``run_dir`` before it took a step (its ``config.yaml`` and
    event file; the folder held no curves before it: :func:`refuse_finished_runs`), so that a
    retry there is not refused for a run that never ran. With the run's ``lock`` (still held) the
    folder is left as it was (:meth:`~RunFolderLock.give_up`); without it, a folder left with
    nothing but its lock file goes too (a many-seeds run stopped while it set up left one per seed
    built)."""
    for written in [*run_dir.glob(f"{EVENT_FILE_PREFIX}*"), run_dir / "config.yaml"]:
        with suppress(OSError):
            written.unlink()
    if lock is not None:
        lock.give_up()
        return
    with suppress(OSError):
        if [path.name for path in run_dir.iterdir()] == [LOCK_NAME]:
            (run_dir / LOCK_NAME).unlink()
            run_dir.rmdir()


def refuse_another_folder_for_a_resume(run_folder: Path, key: str, given: str) -> None:
    """``resume=`` continues a run in its own ``run_folder``: another folder given as ``key``
    (``run_dir``, ``hydra.run.dir``) is a one-line :class:`UserError` (the latter had left a stray
    folder holding Hydra's ``.hydra/`` and an empty ``train.log``)."""
    if os.path.realpath(run_folder) != os.path.realpath(given):
        raise UserError(
            f"resume= continues the run in its own folder {run_folder}, not {key}={given}: drop {key} (to "
            "continue a copy elsewhere, copy the run folder there and resume that)"
        )


def check_writable(run_dir: Path) -> None:
    """:class:`UserError` for an existing ``run_dir`` that takes no new files (read-only, or its
    permissions)."""
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise UserError(
            f"cannot write into run_dir {run_dir} (read-only, or its permissions): choose another "
            "run_dir (to resume a run there, copy it to a folder you can write first)"
        )


def lock_run_folder(run_dir: Path, new_run: bool = True, files: tuple[str, ...] = RUN_FILES) -> RunFolderLock:
    """Create ``run_dir`` and take its lock (one writer per folder); for a ``new_run``, refuse it,
    letting the lock go (and its file, where the folder had none), when it holds another run's
    checkpoints (:func:`refuse_finished_runs`). A
    folder that takes no new files (read-only, or its permissions) is one line before anything is
    written: the event file's writer thread would otherwise fail on its own, with a traceback. A
    folder inside a running ``num_seeds`` run's (one of its ``seed*/``) is refused as in use."""
    RunFolderLock.check_free(run_dir.parent, unless_ours=True)  # (this process's: its own seeds)
    made = [path for path in (run_dir, *run_dir.parents) if not os.path.exists(path)]  # (a name too long)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file on the way (or the folder itself), no permission, a full disk
        for path in made:  # the folders it made (a name too long for the file system is seen last)
            with suppress(OSError):
                path.rmdir()
        problem = folder_problem(run_dir, error)  # names the file in the way (run_dir itself, or above it)
        raise UserError(f"cannot use run_dir {run_dir}: {problem} (choose another run_dir)") from None
    check_writable(run_dir)
    try:
        lock = RunFolderLock(run_dir, made)
    except OSError as error:  # writing its pid into .lock: a full disk, a quota, a folder named .lock
        raise unwritable_run_dir(run_dir, error, resuming=not new_run) from None
    try:
        refuse_folders_named_as_run_files(run_dir, files, resuming=not new_run)
        if new_run:
            refuse_finished_runs(run_dir)
    except UserError:  # "nothing was written": not even the lock file, where there was none
        lock.give_up()
        raise
    remove_stale_temporaries(run_dir)  # a killed save's; no other writer now
    _taken.add(Path(os.path.realpath(run_dir)))
    return lock


_taken: set[Path] = set()
"""The run folders this process took for a run since :func:`forget_taken_folders`."""


def took_run_folder(run_dir: Path | str) -> bool:
    """Whether a run of this process took ``run_dir`` (:func:`lock_run_folder`) since
    :func:`forget_taken_folders`: a sweep job refused a folder that holds another run wrote nothing
    there, and its record must not either."""
    return Path(os.path.realpath(os.path.expanduser(run_dir))) in _taken  # as resolve_run_dir names it


def forget_taken_folders() -> None:
    """Start counting the folders taken anew (as a sweep job starts, in the process that runs it)."""
    _taken.clear()


def check_seed_folders(folders: list[Path]) -> None:
    """Before a ``num_seeds`` run writes into its seed folders: each can be a run folder (not a
    file), takes a new run as a run folder does (:func:`refuse_finished_runs`: the batched mode,
    which takes no seed folder's lock, wrote over a ``config.yaml`` there) and no other run is writing
    there. :raises UserError: for the first that cannot."""
    for folder in folders:
        if folder.exists() and not folder.is_dir():
            raise UserError(
                f"cannot use run_dir {folder}: it is a file, not a folder (choose another run_dir)"
            )
        RunFolderLock.check_free(folder)
        if folder.is_dir():
            refuse_folders_named_as_run_files(folder)
            refuse_finished_runs(folder)


def prepare_run_dir(
    run_dir: Path,
    config: DictConfig,
    resuming: bool = False,
    loaded: tuple[Path, tuple[int, int, int]] | None = None,
) -> RunFolderLock:
    """Lock the run folder (:func:`lock_run_folder`; one holding a checkpoint only when
    ``resuming`` it) and write the resolved ``config.yaml`` into it.

    :param loaded: the checkpoint a resume read and its :func:`file_version` before reading it:
        another process that resumed the run between the read and the lock has saved over it since
        (both would write the run, the later one's checkpoint going back in time): refused.
    """
    lock = lock_run_folder(run_dir, new_run=not resuming)
    if loaded is not None and not same_version(*loaded):
        lock.release()
        raise UserError(
            f"{loaded[0]} was saved again while this resume read it (another process resumed the run "
            "meanwhile): resume again once that one has stopped"
        )
    try:  # atomically: a resume on a full disk keeps the run's config.yaml whole
        write_text_atomically(run_dir / "config.yaml", OmegaConf.to_yaml(config, resolve=True))
    except OSError as error:
        if resuming:
            lock.release()
        else:
            remove_unstarted_run(run_dir, lock)
        raise unwritable_run_dir(run_dir, error) from None
    return lock


def same_version(path: Path, version: tuple[int, int, int]) -> bool:
    """Whether ``path`` is still the file whose :func:`file_version` was ``version``."""
    try:
        return file_version(path) == version
    except OSError:  # removed
        return False


def resolve_run_dir(cfg: DictConfig) -> Path:
    """``run_dir`` if set (where the OS finds it: ``link/../x`` is not the text's ``x``, which
    ``tempfile`` and Hydra would read), else Hydra's output dir, else a fresh
    ``runs/<env>__<seed>__<time>`` below the working folder; each absolute, as results report it."""
    if cfg.run_dir:  # "~/runs/x" from a config object as from the command line (agents.tools.cli)
        return not_the_root(Path(os.path.realpath(os.path.expanduser(cfg.run_dir))), "run_dir")
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        hydra = HydraConfig.get()
        key = "hydra.sweep.dir" if str(hydra.mode) == "RunMode.MULTIRUN" else "hydra.run.dir"
        return not_the_root(Path(hydra.runtime.output_dir), key)
    return new_run_dir(cfg)


def not_the_root(run_dir: Path, key: str) -> Path:
    """``run_dir``, unless it is the file system's root (``run_dir=/``: a run wrote its checkpoint,
    config.yaml, lock and event file into ``/``)."""
    if run_dir == Path(run_dir.anchor):
        raise UserError(f"{key}={run_dir} is the file system's root: give the run a folder of its own")
    return run_dir


def new_run_dir(cfg: DictConfig) -> Path:
    """A fresh ``runs/<experiment_name>__seed<seed>__<time>`` below the working folder, absolute."""
    started = datetime.now().strftime("%Y%m%d-%H%M%S-%f")  # microseconds: two runs never share one
    return Path(os.path.realpath("runs")) / f"{cfg.experiment_name}__seed{cfg.seed}__{started}"
