"""The evaluation's configuration: :class:`EvaluateConfig`, which ``configs/evaluate.yaml`` extends.

Apart from :mod:`agents.runtime.evaluation` (torch, Gymnasium): the command line's typo is one
line when Hydra composes the config, before those are imported.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


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
