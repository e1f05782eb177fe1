"""From a checkpoint to a trained agent: the one path used by resume, evaluation and the gradient
comparison.

The file is loaded with :func:`~agents.runtime.checkpoint.load_checkpoint` (no code in it runs),
its config is merged over the schema (:func:`checkpoint_config`) and the agent is rebuilt exactly
as the trainer built it (:func:`~agents.runtime.build.build_agent`), then the policy parameters
and the feature map's statistics are loaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from agents.errors import UserError
from agents.runtime.build import AgentParts, build_agent
from agents.runtime.config import TrainConfig
from envs.make import EnvInfo, check_env_id

REQUIRED_KEYS = ("policy", "features", "config")
"""What every checkpoint written by the trainer holds (besides the resume state)."""


def checkpoint_config(state: dict, path: str | Path) -> DictConfig:
    """The run's config from a loaded checkpoint, merged over :class:`TrainConfig` (a missing key
    is a one-line :class:`UserError`)."""
    missing = [key for key in REQUIRED_KEYS if key not in state]
    if missing:
        raise UserError(f"checkpoint {path} lacks {', '.join(missing)}: is it a scripts/train.py checkpoint?")
    return OmegaConf.merge(OmegaConf.structured(TrainConfig), state["config"])


def agent_from_checkpoint(
    state: dict, path: str | Path, device: torch.device | str = "cpu"
) -> tuple[TrainConfig, EnvInfo, AgentParts]:
    """Rebuild the trained agent of a loaded checkpoint on ``device``; returns its config (plain
    dataclasses), its env's info and the agent."""
    config: TrainConfig = OmegaConf.to_object(checkpoint_config(state, path))
    info = check_env_id(config.env, config.env_kwargs)
    parts = build_agent(config, info, device)
    parts.policy.load_state_dict(state["policy"])
    parts.inputs.feature_map.load_state_dict(state["features"])
    return config, info, parts
