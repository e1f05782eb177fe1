"""The evaluation's configuration: :class:`EvaluateConfig`, which ``configs/evaluate.yaml`` extends,
and its checks (:func:`validate_evaluate_config`).

Apart from :mod:`agents.runtime.evaluation` (torch, Gymnasium): a typo on the command line is one
line when Hydra composes the config, and a value out of range or a missing checkpoint one line
before those are imported (:func:`agents.tools.commands.evaluate`).
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

from agents.errors import UserError, name_too_long, nearest_existing, write_refused
from agents.runtime.config import MAX_EVAL_EPISODES, check_seed


@dataclass
class EvaluateConfig:
    """``python scripts/evaluate.py checkpoint=<run dir> [episodes=10] [video=true] ...``."""

    checkpoint: str = MISSING
    """A run folder (or a checkpoint file) written by ``scripts/train.py``."""
    which: str = "latest"
    """For a run folder: ``latest`` (checkpoint.pt) or ``best`` (checkpoint_best.pt)."""
    episodes: int = 10
    """Episodes per mode (>= 1)."""
    seed: int = 0
    """Episode i resets the env with seed + i; sampling uses a generator seeded with seed."""
    max_episode_steps: int | None = None
    """Cut episodes after this many steps; null = the env's registered limit, or, for an env
    without one, 10,000 steps (the report counts the episodes cut there)."""
    csv: str | None = None
    """Where the per-episode CSV goes; null = a new <run dir>/evaluation_<date>_<time>.csv per call."""
    video: bool = False
    """Record the first episode of each mode as an MP4 (needs the ``video`` extra)."""
    video_dir: str | None = None
    """Folder for the MP4s; null = <run dir>/videos."""
    trust_code: bool = False
    """Let the checkpoint import its env's module and call its wrappers when they are neither
    Gymnasium's nor this project's (a crafted file could name any code)."""


def register_evaluate_config() -> None:
    """Store the schema that ``configs/evaluate.yaml`` extends."""
    ConfigStore.instance().store(name="evaluate_schema", node=EvaluateConfig)


def validate_evaluate_config(cfg: EvaluateConfig) -> None:
    """Ranges an evaluation needs; one-line :class:`UserError` naming the key."""
    if not cfg.checkpoint.strip():  # was "no checkpoint at checkpoint.pt" (the working folder's)
        raise UserError(
            "checkpoint= is empty: give the run folder to evaluate (or its checkpoint file), "
            "e.g. checkpoint=outputs/CartPole-v1/<run>"
        )
    if not 1 <= cfg.episodes <= MAX_EVAL_EPISODES:
        raise UserError(f"episodes={cfg.episodes} must be in [1, {MAX_EVAL_EPISODES:,}]")
    if cfg.video_dir is not None and not cfg.video:  # (it was not read: no video, no folder, no word)
        raise UserError(
            f"video_dir={cfg.video_dir} is where video=true writes; add video=true, or leave it out"
        )
    check_seed(cfg.seed)
    if cfg.max_episode_steps is not None and cfg.max_episode_steps < 1:
        raise UserError(f"max_episode_steps={cfg.max_episode_steps} must be >= 1 (or null)")
    target = Path(cfg.csv) if cfg.csv else None
    too_long = name_too_long(target) if target is not None else None
    if too_long is not None:  # (after every episode, having made the folders on the way)
        raise UserError(f"cannot use csv={cfg.csv}: {too_long} (choose a shorter path; nothing was run)")
    if target is not None and target.is_dir():
        raise UserError(f"csv={cfg.csv} is a folder; give a file path ending in .csv")
    problem = unwritable_folder(target.parent) if target is not None else None
    if problem is not None:  # found after every episode had run (and printed)
        raise UserError(f"cannot write csv={cfg.csv}: {problem} (choose another location; nothing was run)")
    if target is not None and target.exists() and not target.is_file():  # a pipe: reading its first
        raise UserError(  # line waited for ever; a device (/dev/null) the atomic write would replace
            f"csv={cfg.csv} is not a regular file (a device or a pipe); give a file path ending in .csv"
        )
    first_line = csv_first_line(target) if target is not None and target.exists() else CSV_HEADER
    own = first_line == CSV_HEADER  # an evaluation's csv, whatever its name (csv=x.txt again)
    if target is not None and target.exists() and target.suffix.lower() != ".csv" and not own:  # a checkpoint
        raise UserError(
            f"csv={cfg.csv} exists and is not a .csv file, which the evaluation would overwrite; "
            "give a path ending in .csv (nothing was run)"
        )
    if first_line not in (CSV_HEADER, "", None):  # a .csv of the user's own data: it was replaced silently
        raise UserError(
            f"csv={cfg.csv} exists and holds other data (its first line is {reprlib.repr(first_line)}), "
            f"which the evaluation would overwrite; give another path (an evaluation's own csv, "
            f"'{CSV_HEADER}', is replaced; nothing was run)"
        )


def unwritable_folder(folder: Path) -> str | None:
    """Why no file could be written into ``folder`` once it is made: the file that lies where it
    or one of its parents must be a folder, or the nearest existing one that takes no files (a
    read-only place, ``/proc``); None where one could. Nothing is made (a check before the work)."""
    existing = nearest_existing(folder)
    if existing is None:
        return None
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    refused = write_refused(existing)
    return None if refused is None else f"{existing} takes no files ({refused.strerror or refused})"


CSV_HEADER = "episode,mode,return,length"
"""The first line of the csv :func:`~agents.runtime.evaluation.write_csv` writes."""


def csv_first_line(path: Path) -> str | None:
    """The first line that is not blank of the file at ``path`` (without a byte-order mark: a
    spreadsheet's save of an evaluation's csv adds one); "" for a blank file,
    None where it cannot be read (writing it then fails with its own line)."""
    try:
        with path.open("rb") as file:
            chunks = iter(lambda: file.readline(65536), b"")  # (a file with no line ends: in pieces)
            lines = (line.decode("utf-8", "replace").removeprefix("\ufeff").strip() for line in chunks)
            return next((line for line in lines if line), "")
    except OSError:
        return None
