"""Checkpoints: written atomically, loaded without executing code.

``save_checkpoint`` writes to a temporary file in the same folder, fsyncs it and ``os.replace``-s
it over the target, so a crash leaves either the old or the new file, never half of one
(``write_text_atomically`` does the same for text: summaries, tables, an evaluation's CSV;
``write_files_atomically`` for a set of files that must change together, such as a study's figures).
``load_checkpoint`` uses ``torch.load(weights_only=True)``: only tensors and plain containers
are unpickled, so a crafted file cannot run code. numpy arrays are stored as tensors.

torch is imported where tensors are written and read: the command line checks the
folders it is given (:func:`run_folder_of`) before Hydra composes the config, and a typo in a key
is one line in under a second instead of after torch's import.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import signal
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Collection, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from omegaconf import DictConfig, OmegaConf

from agents.errors import UserError, storage_error

if TYPE_CHECKING:
    import torch

CHECKPOINT_NAME = "checkpoint.pt"
"""The latest state of a run."""
BEST_CHECKPOINT_NAME = "checkpoint_best.pt"
"""The state with the best moving-mean return so far (the best evaluation with ``eval.every_steps``)."""
KEPT_CHECKPOINT_GLOB = "checkpoint_*_steps.pt"
"""The copies a run keeps of its periodic saves (``checkpoint.every_steps``)."""
CHECKPOINT_FORMAT = 1
"""``format_version`` stored in every checkpoint; a file with a newer one is refused."""


def without_numpy(value: Any, array: Callable[[np.ndarray], Any] = np.ndarray.tolist) -> Any:
    """``value`` with numpy scalars as Python numbers and arrays as ``array(a)`` (lists by
    default), through nested dicts, lists and tuples (which become lists)."""
    if isinstance(value, np.ndarray):
        return array(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {key: without_numpy(item, array) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [without_numpy(item, array) for item in value]
    return value


def _write_state(state: dict[str, Any], handle: BinaryIO) -> None:
    """``torch.save`` of ``state`` with numpy arrays/scalars as tensors/python numbers, recursively
    (what ``weights_only`` loads)."""
    import torch

    torch.save(without_numpy(state, lambda array: torch.from_numpy(array.copy())), handle)


def _file_mode() -> int:
    """The mode a plain ``open`` gives a new file under this process's umask (``mkstemp``'s
    temporary files are 0600: a renamed one kept that, unreadable to a shared run's other users).
    Read once, at import: setting the umask to read it is not safe while other threads make files."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def remove_stale_temporaries(run_dir: Path) -> None:
    """Delete the temporary files of checkpoint saves that a killed process left in ``run_dir``
    (call with the folder's lock held: no other writer can be mid-save there)."""
    for name in (CHECKPOINT_NAME, BEST_CHECKPOINT_NAME, KEPT_CHECKPOINT_GLOB):
        for temporary in run_dir.glob(f".{name}.*.tmp"):
            temporary.unlink(missing_ok=True)


def kept_checkpoint_name(env_steps: int) -> str:
    """The file that keeps the periodic save at ``env_steps`` (SB3's ``rl_model_<N>_steps.zip``)."""
    return KEPT_CHECKPOINT_GLOB.replace("*", str(env_steps))


def keep_copy(saved: Path, kept: Path, state: dict[str, Any]) -> Path:
    """Make ``kept`` hold what ``saved`` (just written) holds, for good: a hard link, made under a
    temporary name and renamed, so no second write and no second ``fsync`` (the next save of
    ``saved`` renames a new file over that name, and the link keeps this one); where the file
    system has no hard links, a second atomic save of ``state``."""
    kept = followed(kept)
    temporary = kept.with_name(f".{kept.name}.{os.getpid()}.tmp")
    try:
        os.link(followed(saved), temporary)
    except OSError:
        return save_checkpoint(kept, state)
    try:
        os.replace(temporary, kept)
    except OSError as error:  # (a folder in its way): the line names it, not the temporary file
        error.filename, error.filename2 = str(kept), None
        raise
    finally:
        temporary.unlink(missing_ok=True)
    return kept


def kept_steps(path: Path) -> int:
    """The env step of a kept periodic save's file (:func:`kept_checkpoint_name`; -1: not one)."""
    middle = path.name.removeprefix("checkpoint_").removesuffix("_steps.pt")
    return int(middle) if middle.isdigit() else -1


def _raise_interrupt_behind(error: BaseException) -> None:
    """Raise the Ctrl-C (or SIGTERM's unwinding) that ``error`` was raised while handling, if any.

    A second Ctrl-C inside ``torch.save`` lands in the zip writer's Python ``write`` call; the
    writer's ``__exit__`` then fails on the half-written archive with a ``RuntimeError``
    (``[enforce fail at inline_container.cc...] unexpected pos``) whose context is the
    ``KeyboardInterrupt``. The save is re-raised as the interrupt it was, so the run quits at once
    (exit 130) instead of failing with torch's error."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if not isinstance(current, Exception):  # KeyboardInterrupt, SystemExit, interrupts.Terminated
            raise current from None
        seen.add(id(current))
        current = current.__cause__ or current.__context__


def followed(path: Path) -> Path:
    """``path``, or the file its symbolic link names: an atomic write replaces that file (the
    rename replaced the link itself with a file, and the file it named kept its old contents). A
    link into a folder that does not exist is replaced, as before (following it failed the write
    once the work was done, or made the folders), and so is one to what is no regular file: a
    device, a pipe, a folder (the rename put a file in place of ``/dev/null`` or ``/dev/full``,
    and a temporary file in ``/dev``)."""
    if not path.is_symlink():
        return path
    target = Path(os.path.realpath(path))
    if not target.parent.is_dir() or (target.exists() and not target.is_file()):
        return path
    return target


def save_checkpoint(path: str | Path, state: dict[str, Any]) -> Path:
    """Atomically write ``state`` (tensors, numbers, strings, lists, dicts, numpy arrays); returns
    ``path`` (a link stays a link: the file it names is replaced)."""
    given = path = Path(path)
    path = followed(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise UserError(
            f"cannot write checkpoint {path}: {error.strerror} (choose another run_dir)"
        ) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _write_state(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        _raise_interrupt_behind(error)
        _raise_write_failure(path, error)
        raise
    return given


def _raise_write_failure(path: Path, error: BaseException) -> None:
    """A full disk, a quota (torch's own error for them too) writing ``path``: one line; else nothing."""
    failure = error if isinstance(error, OSError) else storage_error(error)
    if failure is None:
        return
    kept = f"; the previous {path.name} is intact" if path.is_file() else ""
    raise UserError(
        f"cannot write checkpoint {path}: {failure.strerror or failure}{kept} (free space or another run_dir)"
    ) from None


def save_checkpoints(items: Sequence[tuple[Path, dict[str, Any]]]) -> None:
    """Many checkpoints at once (one per seed of a batched run), each atomically: all written to
    temporary files, one ``os.sync`` for all of them (an ``fsync`` per file costs ~10-30 ms on
    these VMs: 1000 seeds would wait half a minute), then each renamed over its target."""
    temporaries: list[str] = []
    path = Path()
    items = [(followed(path), state) for path, state in items]
    try:
        for path, state in items:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temporaries.append(temporary)
            with os.fdopen(descriptor, "wb") as handle:
                _write_state(state, handle)
        os.sync()
        for (path, _), temporary in zip(items, temporaries, strict=True):
            os.chmod(temporary, FILE_MODE)
            os.replace(temporary, path)
    except BaseException as error:
        for temporary in temporaries:
            Path(temporary).unlink(missing_ok=True)
        _raise_interrupt_behind(error)
        _raise_write_failure(path, error)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in its folder and ``os.replace``: a
    reader (or a signal) never sees half a file, and the old one stays whole until then."""
    write_files_atomically(  # bytes read with surrogateescape stay as they were
        [(path, lambda temporary: temporary.write_text(text, encoding="utf-8", errors="surrogateescape"))]
    )


def temporary_path(path: Path) -> Path:
    """The temporary file next to ``path`` that is renamed over it: ``.<name>.<pid>.tmp``, or for a
    name near the file system's 255 bytes (which the temporary's dozen more would pass) a shorter
    one made from its hash."""
    encoded = os.fsencode(path.name)
    name = path.name if len(encoded) <= 200 else hashlib.sha1(encoded).hexdigest()
    return path.with_name(f".{name}.{os.getpid()}.tmp")


def write_files_atomically(writers: Sequence[tuple[Path, Callable[[Path], object]]]) -> None:
    """A set of files replaced together: each ``write(temporary)`` fills a temporary file next to
    its ``path``, and only once all are written are they ``os.replace``-d over their targets, with
    SIGINT and SIGTERM held back for those few renames. An error or a signal leaves either the
    whole old set or the whole new one, never half a file nor old and new files mixed, and no
    temporary file behind. A path that is a symbolic link stays one: the file it names is replaced."""
    writers = [(followed(path), write) for path, write in writers]
    for path, _ in writers:  # before any is replaced: a folder in the way of the second one failed
        if path.is_dir() and not path.is_symlink():  # only after the first was replaced, naming the
            # temporary file (a link to a folder is replaced, as followed says)
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    temporaries: list[Path] = []
    try:
        for path, write in writers:
            temporaries.append(temporary_path(path))
            try:
                write(temporaries[-1])
            except OSError as error:  # a full disk while writing names no file: the line names this one
                if error.filename is None or str(error.filename) == str(temporaries[-1]):
                    error.filename = str(path)
                raise
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:  # a signal now is delivered after the last rename
            for (path, _), temporary in zip(writers, temporaries, strict=True):
                os.replace(temporary, path)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    finally:
        for temporary in temporaries:
            with suppress(OSError):  # (not there; a name too long, which the error above says)
                temporary.unlink()


def run_folder_of(path: str | Path) -> Path:
    """The run folder a ``resume=`` or ``checkpoint=`` path names: itself, or a checkpoint file's folder."""
    path = Path(path)
    return path.parent if path.is_file() else path


def seed_run_folders(folder: Path) -> list[Path]:
    """The seed folders of a ``num_seeds`` run in ``folder`` that hold a checkpoint, in seed order
    (``seed2`` before ``seed10``)."""
    numbers = {path.parent: seed_number(path.parent) for path in folder.glob(f"seed*/{CHECKPOINT_NAME}")}
    return sorted((seed for seed, number in numbers.items() if number is not None), key=numbers.__getitem__)


def seed_number(folder: Path) -> int | None:
    """``s`` for a ``num_seeds`` run's seed folder ``seed<s>``; None for any other folder."""
    match = re.fullmatch(r"seed(\d+)", folder.name)
    return int(match.group(1)) if match else None


def interpolated_setting(config: Any, prefix: str = "") -> tuple[str, str] | None:
    """The first ``(key, value)`` of a checkpoint's config (plain containers) whose string holds
    ``${``, else None. A run saves its config resolved, so such a string was put in by hand;
    resolving it read the environment (``${oc.env:HOME}``) and named the value in the error line."""
    if isinstance(config, str):
        return (prefix, config) if "${" in config else None
    if isinstance(config, dict):
        children = [(f"{prefix}.{key}" if prefix else str(key), value) for key, value in config.items()]
    elif isinstance(config, list):
        children = [(f"{prefix}[{index}]", value) for index, value in enumerate(config)]
    else:
        return None
    found = (interpolated_setting(value, name) for name, value in children)
    return next((item for item in found if item is not None), None)


def saved_config(folder: Path) -> DictConfig | None:
    """``folder``'s ``config.yaml`` (a run's, or a ``num_seeds`` run's top folder's); None without a
    readable one."""
    config = folder / "config.yaml"
    try:
        saved = OmegaConf.load(config) if config.is_file() else None
    except Exception:  # not a config (edited, damaged): the checkpoint's own is checked on loading
        return None
    return saved if isinstance(saved, DictConfig) else None


def saved_seed_mode(folder: Path) -> str | None:
    """The ``seed_mode`` in ``folder``'s ``config.yaml``; None without a readable one."""
    saved = saved_config(folder)
    mode = saved.get("seed_mode") if saved is not None else None
    return mode if isinstance(mode, str) else None


def resolve_checkpoint(path: str | Path, name: str = CHECKPOINT_NAME) -> Path:
    """A run folder or a file -> the checkpoint file; :class:`UserError` when missing."""
    path = Path(path)
    candidate = path / name if path.is_dir() else path
    if not candidate.is_file():
        # a run folder holds the file, or only checkpoint_best.pt where a kill cut its save short
        held = {name, BEST_CHECKPOINT_NAME}

        def holds_a_run(folder: Path, files: Collection[str] = held) -> bool:
            return any((folder / file).is_file() for file in files)

        def seed_runs(folder: Path) -> list[Path]:  # a num_seeds run's: one run folder per seed
            return sorted(seed for seed in folder.glob("seed*") if holds_a_run(seed))

        seeds = seed_runs(path)
        if path.is_dir() and seeds:
            raise UserError(
                f"{path} holds {len(seeds)} seeds' runs, each in its own folder: pass one of them, "
                f"e.g. {seeds[0]}"
            )
        runs = {folder: [folder] if holds_a_run(folder) else seed_runs(folder) for folder in path.glob("*")}
        jobs = sorted((folder for folder, held_runs in runs.items() if held_runs), key=_job_number)
        if path.is_dir() and jobs and (path / "multirun.yaml").is_file():  # a sweep: a folder per job
            raise UserError(  # (of num_seeds jobs: their seed folders; it was "no checkpoint at")
                f"{path} is a sweep's folder, whose {len(jobs)} jobs each have their own run folder: pass "
                f"one of them, e.g. {runs[jobs[0]][0]}"
            )
        both = (CHECKPOINT_NAME, BEST_CHECKPOINT_NAME)  # a run folder so named (either file in it): below
        named = path.is_dir() and path.name in both and not holds_a_run(path, both)
        folder = candidate if candidate.is_dir() else path if named else None
        if folder is not None:  # "the save was cut short", or "no checkpoint at <it>/checkpoint.pt"
            raise UserError(
                f"{folder} is a folder, not a checkpoint file: pass a run folder that holds {name}"
            )
        if name == BEST_CHECKPOINT_NAME and (path / CHECKPOINT_NAME).is_file():
            why = (
                "a seed_mode=batched run writes none"
                if saved_seed_mode(path) == "batched"
                else "it is written once budget.window episodes have ended, at the run's end or a "
                "periodic save (checkpoint.every_steps), or at an evaluation (eval.every_steps); never at "
                "a save for a signal (Ctrl-C, SIGTERM)"
            )
            raise UserError(f"{path} holds no {name}: {why}; which=latest for its {CHECKPOINT_NAME}")
        if name == CHECKPOINT_NAME and (path / BEST_CHECKPOINT_NAME).is_file():  # a kill between the two
            raise UserError(
                f"{path} holds {BEST_CHECKPOINT_NAME} but no {name} (the save that writes both was cut short "
                f"between them): pass {path / BEST_CHECKPOINT_NAME}"
            )
        kept = sorted(path.glob(KEPT_CHECKPOINT_GLOB), key=kept_steps) if path.is_dir() else []
        if kept:  # a folder of copies (a periodic save's): "no checkpoint at" named none of them
            raise UserError(
                f"{path} holds no {name}, but {len(kept)} periodic save{'s' * (len(kept) > 1)} "
                f"(checkpoint.every_steps): pass one, e.g. the last, {kept[-1]}"
            )
        raise UserError(f"no checkpoint at {candidate} (pass a run folder that holds {name})")
    return candidate


CHECKPOINT_FILES = {"latest": CHECKPOINT_NAME, "best": BEST_CHECKPOINT_NAME}
"""The file of a run folder that ``which=`` picks (evaluation, ``agents.load``)."""


def checkpoint_file(checkpoint: str | Path, which: str = "latest") -> Path:
    """The checkpoint file ``which`` picks: in the run folder ``checkpoint``, or the file itself
    (for ``latest``); a one-line :class:`UserError` for a ``which`` that is none of
    :data:`CHECKPOINT_FILES` and as :func:`resolve_checkpoint` says."""
    if not isinstance(which, str) or which not in CHECKPOINT_FILES:  # [] is unhashable
        raise UserError(f"which={which!r} is not one of {', '.join(CHECKPOINT_FILES)}")
    if which != "latest" and Path(checkpoint).is_file():  # which picks a file of a run folder
        raise UserError(
            f"which={which!r} picks a file in a run folder, but {checkpoint} is a file: give the run "
            f"folder, or the file {CHECKPOINT_FILES[which]} itself"
        )
    return resolve_checkpoint(checkpoint, CHECKPOINT_FILES[which])


def _job_number(folder: Path) -> tuple[int, str]:
    """A sweep job folder's sort key: its number (``3_lr=0.01``: 3), then its name."""
    number = folder.name.partition("_")[0]
    return (int(number) if number.isdigit() else 1 << 62, folder.name)


def file_version(path: Path) -> tuple[int, int, int]:
    """``path``'s inode, size and modification time (ns): each save writes a new file and renames
    it over the old (:func:`save_checkpoint`), so another version means another save."""
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint safely; a corrupt, truncated or unsafe file is a one-line UserError."""
    import torch

    path = resolve_checkpoint(path)
    damaged = damaged_member(path)
    if damaged is not None:  # torch.load does not check the archive's checksums: a flipped bit loaded
        raise UserError(f"cannot load checkpoint {path}: the file is corrupt ({damaged} fails its checksum)")
    try:
        with warnings.catch_warnings():  # torch warns of a plain pickle's protocol before refusing it
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # any unpickling failure means an unusable file
        reason = "".join(char if char.isprintable() else repr(char)[1:-1] for char in _reason(error, path))
        raise UserError(f"cannot load checkpoint {path}: {reason}") from None  # no raw NUL from the file


def damaged_member(path: Path) -> str | None:
    """The first member of a checkpoint's zip archive whose CRC-32 does not match its bytes (a
    bit flipped on disk or in a copy), or None (also for a file that is no zip archive, or one
    torch cannot read anyway: :func:`load_checkpoint` words those)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError):
        return None


def saved_by_torch(path: Path) -> bool:
    """Whether the zip archive ``path`` has the ``<name>/data.pkl`` and ``<name>/version`` records
    that ``torch.save`` writes (True where it cannot be read as a zip: torch's own error says why)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return True
    return all(any(name.endswith(f"/{record}") for name in names) for record in ("data.pkl", "version"))


def _reason(error: Exception, path: Path) -> str:
    """The informative line of torch's multi-line message (``WeightsUnpickler error: ...``),
    without terminal colour codes, for a one-line error."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line]
    damaged = isinstance(error, EOFError) or (isinstance(error, OSError) and error.errno == errno.EINVAL)
    if damaged or "PytorchStreamReader" in str(error):
        first = (lines[0] if lines else type(error).__name__).split(". ")[0]
        return f"the file is truncated or corrupt ({first})"[:200]
    if not zipfile.is_zipfile(path):  # e.g. a config.yaml, a log or a plain pickle given for the checkpoint
        return "it is not a checkpoint (torch.save writes a zip archive; this file is not one)"
    if not saved_by_torch(path):  # another zip (a.txt zipped, renamed .pt): torch's "[enforce fail at ...]"
        return "it is not a checkpoint (a zip archive that torch.save did not write: no data.pkl and version)"
    for index, line in enumerate(lines):
        if "WeightsUnpickler error" in line:
            line = line[line.index("WeightsUnpickler error") :]
            if line.endswith(":") and index + 1 < len(lines):
                line = f"{line} {lines[index + 1]}"
            return line.split(". Please use")[0][:200]  # not torch's advice to allow what it refused
    if lines and lines[0].startswith("Weights only load failed"):  # torch's advice to load unsafely
        # is dropped: the line that names what the file holds is kept
        named = [line for line in lines[1:] if "weights_only" not in line and not line.startswith("Check")]
        return f"it holds objects a safe load refuses ({named[0] if named else lines[0]})"[:200]
    return (lines[0] if lines else type(error).__name__)[:200]
