"""From a checkpoint to a trained agent: the one path used by resume, evaluation and the gradient
comparison.

The file is loaded with :func:`~agents.runtime.checkpoint.load_checkpoint` (no code in it runs),
its config is merged over the schema (:func:`checkpoint_config`) and the agent is rebuilt exactly
as the trainer built it (:func:`~agents.runtime.build.build_agent`), then the policy parameters
and the feature map's statistics are loaded.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from agents.errors import UserError
from agents.features.inputs import PolicyInputs
from agents.runtime.acting import Actor, SeedActor
from agents.runtime.build import AgentParts, build_agent
from agents.runtime.checkpoint import (
    BEST_CHECKPOINT_NAME,
    CHECKPOINT_NAME,
    load_checkpoint,
    resolve_checkpoint,
)
from agents.runtime.config import TrainConfig
from envs.make import EnvInfo, check_env_id

CHECKPOINT_FILES = {"latest": CHECKPOINT_NAME, "best": BEST_CHECKPOINT_NAME}
"""``which=`` -> the file in a run folder."""
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
    info = check_env_id(config.env, config.env_kwargs, config.env_wrappers)
    parts = build_agent(config, info, device)
    parts.policy.load_state_dict(state["policy"])
    parts.inputs.feature_map.load_state_dict(state["features"])
    return config, info, parts


class TrainedAgent:
    """A trained policy that acts (``agents.load(run_dir).predict(obs)``, as SB3's ``model.predict``).

    :param config: the config the run was trained with (plain dataclasses).
    :param observation_space: the env's observation space (tells one observation from a batch).
    :param inputs: observations -> what the policy reads (the trained feature map).
    :param actor: samples ``A ~ pi(.|s)`` (numpy; its own seeded generator) or acts greedily.
    :param checkpoint: the file the agent was loaded from.
    """

    def __init__(
        self, config: TrainConfig, observation_space: gym.Space, inputs: PolicyInputs, actor: SeedActor,
        checkpoint: Path,
    ) -> None:  # fmt: skip
        self.config, self.observation_space = config, observation_space
        self.inputs, self.actor, self.checkpoint = inputs, actor, checkpoint

    def predict(self, obs: np.ndarray | int, deterministic: bool = True) -> int | np.ndarray:
        """The action for ``obs``: ``argmax_a pi(a|s)`` when ``deterministic``, else a sample.

        :param obs: one observation (shape of the observation space; an int for Discrete) or a
            batch ``[B, *shape]``.
        :return: an ``int`` for one observation, an int64 array ``[B]`` for a batch.
        """
        obs = np.asarray(obs)
        shape = self.observation_space.shape or ()
        single = obs.shape == shape
        batch = obs[None] if single else obs
        if batch.shape[1:] != shape or batch.ndim != len(shape) + 1:
            raise UserError(
                f"predict expects one observation of shape {shape} or a batch [B, *{shape}] "
                f"for {self.config.env}, got shape {obs.shape}"
            )
        act = self.actor.greedy if deterministic else self.actor
        actions = act(self.inputs(batch))
        return int(actions[0]) if single else actions


def load_agent(checkpoint: str | Path, which: str = "latest", seed: int = 0) -> TrainedAgent:
    """Resolve ``checkpoint`` (run folder or file), load it safely and rebuild the trained agent on
    the CPU, whatever device it was trained on (acting runs in numpy).

    :param which: for a run folder, ``latest`` (checkpoint.pt) or ``best`` (checkpoint_best.pt).
    :param seed: seeds the generator that ``predict(obs, deterministic=False)`` samples with.
    """
    if which not in CHECKPOINT_FILES:
        raise UserError(f"which={which!r} is not one of {', '.join(CHECKPOINT_FILES)}")
    path = resolve_checkpoint(checkpoint, CHECKPOINT_FILES[which])
    config, info, parts = agent_from_checkpoint(load_checkpoint(path), path)
    actor = Actor.for_policy(parts.policy, np.random.default_rng(seed))
    return TrainedAgent(config, info.observation_space, parts.inputs, actor, path)
