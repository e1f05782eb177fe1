"""Environment construction: id checks with actionable errors, then ``gymnasium.make_vec``.

:func:`check_env_id` runs before anything is trained: an unknown id gets the closest registered
ids, a continuous action space or an unsupported observation space gets one line saying what
this project needs. :func:`make_vector_env` builds the vector env (the env's own vector entry
point where it has one, e.g. CartPole) wrapped in Gymnasium's ``RecordEpisodeStatistics``.
"""

from __future__ import annotations

import difflib
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector.async_vector_env import _async_worker

import envs  # noqa: F401  (registers this project's envs)
from agents.errors import UserError

ActionFeatureFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class EnvInfo:
    """What the agent needs to know about an env before building anything."""

    env_id: str
    observation_space: gym.Space
    n_actions: int
    reward_threshold: float | None
    action_features: ActionFeatureFn | None
    """``obs [B] -> phi [B, A, d]`` when the env supplies its own phi(s, a)."""


def _close_ids(env_id: str) -> str:
    matches = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.5)
    if not matches:
        lowered = env_id.lower().split("-")[0]
        matches = [i for i in gym.registry if lowered and lowered in i.lower()][:3]
    if matches:
        return f" (did you mean {', '.join(matches)}?)"
    return " (list the registered ids with: python -c 'import gymnasium; gymnasium.pprint_registry()')"


def check_env_id(env_id: str, env_kwargs: dict[str, Any] | None = None) -> EnvInfo:
    """Make one env to read its spaces; raise :class:`UserError` for anything we cannot train."""
    if env_id not in gym.registry:
        raise UserError(f"env={env_id} is not a registered Gymnasium id{_close_ids(env_id)}")
    try:
        probe = gym.make(env_id, **(env_kwargs or {}))
    except gym.error.DependencyNotInstalled as error:
        raise UserError(f"env={env_id} needs an optional dependency: {error}") from None
    except TypeError as error:
        raise UserError(f"env_kwargs do not fit env={env_id}: {error}") from None
    action_space, observation_space = probe.action_space, probe.observation_space
    action_features = getattr(probe.unwrapped, "action_features", None)
    probe.close()
    if not isinstance(action_space, gym.spaces.Discrete):
        kind = "continuous " if isinstance(action_space, gym.spaces.Box) else ""
        raise UserError(
            f"env={env_id} has a {kind}action space {action_space}; a softmax policy needs a "
            "Discrete action space (try env=CartPole-v1, env=Acrobot-v1 or env=MountainCar-v0)"
        )
    if isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) > 1:
        raise UserError(
            f"env={env_id} observes images/arrays {observation_space}; linear features need a flat "
            "vector (wrap it with gymnasium.wrappers.FlattenObservation or pick a 1-D Box env)"
        )
    if not isinstance(observation_space, gym.spaces.Box | gym.spaces.Discrete):
        raise UserError(
            f"env={env_id} has observation space {type(observation_space).__name__}; supported are "
            "Box (features=raw|normalized|polynomial|fourier|rbf|tile) and Discrete "
            "(features=onehot); flatten it first (gymnasium.wrappers.FlattenObservation)"
        )
    spec = gym.spec(env_id)
    return EnvInfo(env_id, observation_space, int(action_space.n), spec.reward_threshold, action_features)


def signal_safe_worker(*args: Any) -> None:
    """Gymnasium's async worker, deaf to SIGINT and SIGTERM: Ctrl-C reaches the whole process
    group, and a worker that died of it mid-step would take the run down with a traceback. The
    main process decides (it saves, then closes the workers through their pipes); a worker whose
    main process is gone exits when its pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _async_worker(*args)


def make_vector_env(
    env_id: str, num_envs: int, mode: str, env_kwargs: dict[str, Any] | None = None
) -> gym.vector.VectorEnv:
    """``gymnasium.make_vec`` with ``mode`` in native|sync|async, plus episode statistics.

    ``native`` uses the env's own vector implementation (``vector_entry_point``) where the
    registration has one and falls back to ``sync``. Autoreset is Gymnasium's default
    (NEXT_STEP): the step after a ``done`` is a reset, which the trainer skips.
    """
    spec = gym.spec(env_id)
    if mode == "native":
        mode = "vector_entry_point" if spec.vector_entry_point is not None else "sync"
    vector_kwargs = {"worker": signal_safe_worker} if mode == "async" else None
    vector_env = gym.make_vec(
        env_id, num_envs=num_envs, vectorization_mode=mode, vector_kwargs=vector_kwargs, **(env_kwargs or {})
    )
    return gym.wrappers.vector.RecordEpisodeStatistics(vector_env)
