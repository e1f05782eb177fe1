"""TensorBoard logging: scalars against env steps, the config as text and as HParams.

Tags are the constants of :mod:`agents.tags`; x is always the global env-step count.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams as hparams_summaries

from agents import tags
from agents.reinforce import UpdateStats


def hyperparameter_table(cfg: DictConfig) -> str:
    """The resolved config as a markdown table for TensorBoard's text tab."""
    flat = _flatten(OmegaConf.to_container(cfg, resolve=True))
    rows = "\n".join(f"|{key}|{value}|" for key, value in flat.items())
    return f"|parameter|value|\n|-|-|\n{rows}"


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"))
    return flat


class Logger:
    """TensorBoard scalars against env steps (a no-op writer when ``logging.tensorboard=false``)."""

    def __init__(self, run_dir: Path, enabled: bool, cfg: DictConfig, purge_step: int | None = None) -> None:
        self.writer = SummaryWriter(str(run_dir), purge_step=purge_step) if enabled else None
        if self.writer is not None and purge_step is None:
            self.writer.add_text(tags.HPARAMS_TEXT, hyperparameter_table(cfg))

    def scalar(self, tag: str, value: float, env_steps: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, env_steps)

    def update(self, stats: UpdateStats, lr: float, steps_per_second: float, env_steps: int) -> None:
        for tag, value in (
            (tags.POLICY_OBJECTIVE, stats.policy_objective),
            (tags.BATCH_RETURN, stats.mean_return),
            (tags.ENTROPY, stats.entropy),
            (tags.GRAD_NORM, stats.grad_norm),
            (tags.LEARNING_RATE, lr),
            (tags.STEPS_PER_SECOND, steps_per_second),
        ):
            self.scalar(tag, value, env_steps)

    def hparams(self, cfg: DictConfig, metrics: dict[str, float], env_steps: int) -> None:
        """One row of TensorBoard's HParams tab: the flat config against ``final/<metric>`` scalars."""
        if self.writer is None:
            return
        flat = _flatten(OmegaConf.to_container(cfg, resolve=True))
        values = {key: v if type(v) in (int, float, str) else str(v) for key, v in flat.items()}  # bool: str
        metrics = {tags.FINAL_PREFIX + name: value for name, value in metrics.items()}
        for summary in hparams_summaries(values, metrics):  # in this run's own event file, not a sub-run
            self.writer.file_writer.add_summary(summary)
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, env_steps)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
