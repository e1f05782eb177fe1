"""From a checkpoint to a trained agent: the one path used by resume, evaluation and the gradient
comparison.

The file is loaded with :func:`~agents.runtime.checkpoint.load_checkpoint` (no code in it runs),
its config is merged over the schema (:func:`checkpoint_config`) and the agent is rebuilt exactly
as the trainer built it (:func:`~agents.runtime.build.build_agent`), then the policy parameters
and the feature map's statistics are loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.errors import UserError, describe
from agents.features.inputs import PolicyInputs
from agents.runtime.acting import Actor, SeedActor
from agents.runtime.build import AgentParts, build_agent
from agents.runtime.checkpoint import (
    BEST_CHECKPOINT_NAME,
    CHECKPOINT_FORMAT,
    CHECKPOINT_NAME,
    load_checkpoint,
    resolve_checkpoint,
)
from agents.runtime.config import TrainConfig, check_seed, validate
from agents.runtime.sizes import check_agent_size
from envs.make import EnvInfo, Wrappers, check_env_id, code_to_trust
from envs.observations import ObservationCheck

CHECKPOINT_FILES = {"latest": CHECKPOINT_NAME, "best": BEST_CHECKPOINT_NAME}
"""``which=`` -> the file in a run folder."""
REQUIRED_KEYS = ("policy", "features", "config")
"""What every checkpoint written by the trainer holds (enough to act)."""
RESUME_KEYS = ("learner", "buffer", "envs", "counters", "recent_returns", "rng")
"""What a resume needs besides :data:`REQUIRED_KEYS`."""


def check_schema(state: object, path: str | Path, keys: tuple[str, ...] = REQUIRED_KEYS) -> None:
    """A one-line :class:`UserError` unless ``state`` looks like one of our checkpoints: a dict
    with a ``format_version`` we can read and ``keys``, holding dicts where dicts belong."""
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}, not a scripts/train.py checkpoint")
    version = state.get("format_version", 1)  # files from before the field are version 1
    if not isinstance(version, int) or not 1 <= version <= CHECKPOINT_FORMAT:
        raise UserError(
            f"checkpoint {path} has format_version {version!r}; this code reads 1..{CHECKPOINT_FORMAT}"
        )
    missing = [key for key in keys if key not in state]
    if missing:
        raise UserError(f"checkpoint {path} lacks {', '.join(missing)}: is it a scripts/train.py checkpoint?")
    wrong = [key for key in ("policy", "features", "config", "counters", "rng") if key in state
             and not isinstance(state[key], dict)]  # fmt: skip
    if wrong:
        raise UserError(f"checkpoint {path}: {', '.join(wrong)} should be a dict (the file was altered)")


def checkpoint_config(state: dict, path: str | Path, keys: tuple[str, ...] = REQUIRED_KEYS) -> DictConfig:
    """The run's config from a loaded checkpoint, merged over :class:`TrainConfig` and validated
    (an altered file is a one-line :class:`UserError`)."""
    check_schema(state, path, keys)
    try:
        config = OmegaConf.merge(OmegaConf.structured(TrainConfig), state["config"])
        OmegaConf.resolve(config)  # a run saves its config resolved: an edited ${...} fails here, in one line
    except OmegaConfBaseException as error:
        raise UserError(f"checkpoint {path} has a config this code cannot read: {describe(error)}") from None
    try:
        validate(config)
    except UserError as error:
        raise UserError(f"checkpoint {path} holds an invalid config: {error}") from None
    return config


def load_matching(module: Any, saved: dict, what: str, path: str | Path, config: Any) -> None:
    """``module.load_state_dict(saved)`` after checking that every array has the shape the
    checkpoint's own config builds; a mismatch (an edited config, another env) is one line."""
    fresh = module.state_dict()
    for key, value in fresh.items():
        expected, found = getattr(value, "shape", None), getattr(saved.get(key), "shape", None)
        if key not in saved or (expected is not None and tuple(expected) != tuple(found or ())):
            arrived = "nothing" if key not in saved else f"shape {list(found or ())}"
            raise UserError(
                f"checkpoint {path} does not match its config: {what}.{key} holds {arrived}, but env="
                f"{config.env} features={config.features.name} agent.policy={config.agent.policy} "
                f"builds shape {list(expected or ())}"
            )
        if (
            isinstance(saved[key], torch.Tensor)
            and saved[key].is_floating_point()
            and not saved[key].isfinite().all()
        ):
            raise UserError(  # a run saves its last good state; nan/inf here was put there
                f"checkpoint {path} holds nan/inf in {what}.{key}: nothing can act on it "
                "(use another checkpoint)"
            )
    try:
        module.load_state_dict(saved)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise UserError(f"checkpoint {path}: cannot load {what}: {describe(error, last_line=True)}") from None


def refuse_untrusted_code(env_id: str, wrappers: Wrappers, path: str | Path) -> None:
    """A checkpoint is data, but its config names the env's module and the wrappers' targets,
    which making the env would import and call: refuse any outside Gymnasium, this project and the
    modules already imported (:func:`~envs.make.code_to_trust`) unless the caller trusts the file.

    :raises UserError: naming each and how to trust it.
    """
    named = code_to_trust(env_id, wrappers)
    if named:
        raise UserError(
            f"checkpoint {path} names code from outside Gymnasium and this project ({'; '.join(named)}), "
            "which rebuilding its env would run; if you trust the file, add trust_code=true "
            "(agents.load(..., trust_code=True)) or import that module first"
        )


def agent_from_checkpoint(
    state: dict, path: str | Path, device: torch.device | str = "cpu", trust_code: bool = False
) -> tuple[TrainConfig, EnvInfo, AgentParts]:
    """Rebuild the trained agent of a loaded checkpoint on ``device``; returns its config (plain
    dataclasses), its env's info and the agent. The code its config names runs only if it is
    Gymnasium's, this project's, already imported, or ``trust_code`` (:func:`refuse_untrusted_code`)."""
    config: TrainConfig = OmegaConf.to_object(checkpoint_config(state, path))
    if not trust_code:
        refuse_untrusted_code(config.env, config.env_wrappers, path)
    info = check_env_id(config.env, config.env_kwargs, config.env_wrappers)
    check_agent_size(config.features, config.agent, info, f"the agent of checkpoint {path}")
    parts = build_agent(config, info, device)
    load_matching(parts.policy, state["policy"], "policy", path, config)
    load_matching(parts.inputs.feature_map, state["features"], "features", path, config)
    return config, info, parts


class TrainedAgent:
    """A trained policy that acts (``agents.load(run_dir).predict(obs)``, as SB3's ``model.predict``).

    :param config: the config the run was trained with (plain dataclasses).
    :param observation_space: the env's observation space (tells one observation from a batch).
    :param inputs: observations -> what the policy reads (the trained feature map).
    :param actor: samples ``A ~ pi(.|s)`` (numpy; its own seeded generator) or acts greedily.
    :param checkpoint: the file the agent was loaded from (None: a training run's live policy).
    :param action_start: the env's first action (``Discrete(n, start)``), added by :meth:`predict`.
    """

    def __init__(
        self, config: TrainConfig, observation_space: gym.Space, inputs: PolicyInputs, actor: SeedActor,
        checkpoint: Path | None = None, action_start: int = 0,
    ) -> None:  # fmt: skip
        self.config, self.observation_space = config, observation_space
        self.inputs, self.actor, self.checkpoint = inputs, actor, checkpoint
        self.action_start = action_start
        self.observation_check = ObservationCheck(observation_space)

    def predict(self, obs: np.ndarray | int, deterministic: bool = True) -> int | np.ndarray:
        """The env's action for ``obs`` (what ``env.step`` takes): ``argmax_a pi(a|s)`` when
        ``deterministic``, else a sample.

        :param obs: one observation (shape of the observation space; an int for Discrete) or a
            batch ``[B, *shape]``.
        :return: an ``int`` for one observation, an int64 array ``[B]`` for a batch.
        """
        return self.action_start + self.action_index(obs, deterministic)

    def action_index(self, obs: np.ndarray | int, deterministic: bool = True) -> int | np.ndarray:
        """:meth:`predict` as the policy's index ``0 .. n-1`` (for an env wrapped in
        :class:`~envs.make.ZeroBasedActions`, as evaluation's is)."""
        if isinstance(obs, torch.Tensor):
            obs = obs.detach().cpu().numpy()
        try:
            obs = np.asarray(obs)
        except ValueError as error:  # a ragged list: [[1, 2, 3, 4], [1, 2]]
            raise UserError(
                f"predict got observations numpy cannot stack ({error}) (env={self.config.env})"
            ) from None
        shape = self.observation_space.shape or ()
        single = obs.shape == shape
        batch = obs[None] if single else obs
        if batch.shape[1:] != shape or batch.ndim != len(shape) + 1:
            raise UserError(
                f"predict expects one observation of shape {shape} or a batch [B, *{shape}] "
                f"for {self.config.env}, got shape {obs.shape}"
            )
        if not self.observation_check.fits(batch):
            raise UserError(f"{self.observation_check.problem('predict got', batch)} (env={self.config.env})")
        if batch.dtype.kind == "f" and not np.isfinite(batch).all():
            raise UserError(
                f"predict got nan/inf observations (env={self.config.env}); no action is defined for them"
            )
        act = self.actor.greedy if deterministic else self.actor
        actions = act(self.inputs(batch))
        return int(actions[0]) if single else actions


def load_agent(
    checkpoint: str | Path, which: str = "latest", seed: int = 0, trust_code: bool = False
) -> TrainedAgent:
    """Resolve ``checkpoint`` (run folder or file), load it safely and rebuild the trained agent on
    the CPU, whatever device it was trained on (acting runs in numpy).

    :param which: for a run folder, ``latest`` (checkpoint.pt) or ``best`` (checkpoint_best.pt).
    :param seed: seeds the generator that ``predict(obs, deterministic=False)`` samples with.
    :param trust_code: import and call whatever the checkpoint's config names (its env's module,
        its wrappers), not only Gymnasium's, this project's and the modules already imported.
    """
    if which not in CHECKPOINT_FILES:
        raise UserError(f"which={which!r} is not one of {', '.join(CHECKPOINT_FILES)}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise UserError(f"seed={seed!r} must be an int (it seeds predict's sampling)")
    check_seed(seed)
    if which != "latest" and Path(checkpoint).is_file():  # which picks a file of a run folder
        raise UserError(
            f"which={which!r} picks a file in a run folder, but {checkpoint} is a file: give the run "
            f"folder, or the file {CHECKPOINT_FILES[which]} itself"
        )
    path = resolve_checkpoint(checkpoint, CHECKPOINT_FILES[which])
    config, info, parts = agent_from_checkpoint(load_checkpoint(path), path, trust_code=trust_code)
    actor = Actor.for_policy(parts.policy, np.random.default_rng(seed))
    return TrainedAgent(config, info.observation_space, parts.inputs, actor, path, info.action_start)
