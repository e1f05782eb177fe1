"""Stepping envs in batches: one interface for a single env and for a Gymnasium vector env.

Both runners take a batch of actions and return ``(next_obs, rewards, active, finished)``:

* ``active[i]`` is False when sub-env ``i``'s step was not a transition. Gymnasium 1.x vector
  envs autoreset in NEXT_STEP mode: the call after an episode ends only resets that sub-env
  (its action is ignored, its reward is 0), so the trainer must not store it.
* ``finished`` lists the sub-envs whose episode ended with this step, with their undiscounted
  return and length (from Gymnasium's ``RecordEpisodeStatistics`` for vector envs).

:class:`SingleEnvRunner` drives one ``gym.make`` env and resets it by hand; it exists because a
1-env vector env costs more per step than the env itself (see ``scripts/benchmark.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from envs.make import make_vector_env


@dataclass
class Finished:
    """Episodes that ended on this step."""

    env_ids: np.ndarray
    returns: np.ndarray
    lengths: np.ndarray


NO_EPISODE = Finished(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))


class SingleEnvRunner:
    """One env as a batch of one, reset by hand when an episode ends."""

    num_envs = 1

    def __init__(self, env_id: str, env_kwargs: dict[str, Any] | None = None) -> None:
        self.env = gym.make(env_id, **(env_kwargs or {}))
        self.single_observation_space = self.env.observation_space
        self.active = np.ones(1, dtype=bool)
        self.episode_return, self.episode_length = 0.0, 0

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, _ = self.env.reset(seed=seed)
        self.episode_return, self.episode_length = 0.0, 0
        return np.asarray(obs)[None]

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, Finished]:
        obs, reward, terminated, truncated, _ = self.env.step(int(actions[0]))
        self.episode_return += float(reward)
        self.episode_length += 1
        finished = NO_EPISODE
        if terminated or truncated:
            finished = Finished(np.zeros(1, dtype=np.int64), np.array([self.episode_return]),
                                np.array([self.episode_length]))  # fmt: skip
            obs, _ = self.env.reset()
            self.episode_return, self.episode_length = 0.0, 0
        return np.asarray(obs)[None], np.array([reward], dtype=np.float64), self.active, finished

    def close(self) -> None:
        self.env.close()


class VectorEnvRunner:
    """A Gymnasium vector env (native, sync or async) with episode statistics."""

    def __init__(self, env_id: str, num_envs: int, mode: str, env_kwargs: dict[str, Any] | None = None) -> None:
        self.envs = make_vector_env(env_id, num_envs, mode, env_kwargs)
        self.num_envs = num_envs
        self.single_observation_space = self.envs.single_observation_space
        self.autoreset = np.zeros(num_envs, dtype=bool)

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, _ = self.envs.reset(seed=seed)
        self.autoreset[:] = False
        return obs

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, Finished]:
        obs, rewards, terminated, truncated, infos = self.envs.step(actions)
        active = ~self.autoreset  # False: this call only reset that sub-env
        self.autoreset = terminated | truncated
        ended = np.flatnonzero(self.autoreset & active)
        finished = NO_EPISODE
        if ended.size:
            episode = infos["episode"]
            finished = Finished(ended, episode["r"][ended].astype(np.float64), episode["l"][ended])
        return obs, np.asarray(rewards, dtype=np.float64), active, finished

    def close(self) -> None:
        self.envs.close()


EnvRunner = SingleEnvRunner | VectorEnvRunner


def make_runner(env_id: str, num_envs: int, mode: str, env_kwargs: dict[str, Any] | None = None) -> EnvRunner:
    """``vector.num_envs=1`` with ``vector.mode=native`` steps the env itself; anything else
    goes through ``gymnasium.make_vec``."""
    if num_envs == 1 and mode == "native":
        return SingleEnvRunner(env_id, env_kwargs)
    return VectorEnvRunner(env_id, num_envs, mode, env_kwargs)
