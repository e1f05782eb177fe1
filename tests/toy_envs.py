"""Tiny deterministic envs for the tests: the observation is the step index."""

from __future__ import annotations

import os

import gymnasium as gym
import numpy as np


class StepCounter(gym.Env):
    """Observation ``t`` (the step index), reward ``t`` (``constant_reward=None``) or a constant;
    terminates after ``length`` steps; actions are ignored."""

    observation_space = gym.spaces.Box(0.0, 100.0, (1,), np.float64)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length: int = 3, constant_reward: float | None = None) -> None:
        self.length, self.constant_reward, self.t = length, constant_reward, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.array([0.0]), {}

    def step(self, action):
        self.t += 1
        reward = float(self.t) if self.constant_reward is None else self.constant_reward
        return np.array([float(self.t)]), reward, self.t >= self.length, False, {}


class FirstSeedPays(StepCounter):
    """``StepCounter`` whose every step pays 5 in the sub-env first reset with a seed divisible by
    4 and 0 elsewhere: a 4-env vector env seeded 0 has one paying column, and its episodes all end
    on the same vector steps (the paying one first). With ``FIRST_SEED_PAYS_NOTHING`` set in the
    environment nothing pays."""

    def __init__(self, length: int = 1) -> None:
        super().__init__(length, constant_reward=0.0)
        self.first_seed: int | None = None

    def reset(self, *, seed=None, options=None):
        if seed is not None and self.first_seed is None:
            self.first_seed = seed
        return super().reset(seed=seed, options=options)

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        pays = (self.first_seed or 0) % 4 == 0 and not os.environ.get("FIRST_SEED_PAYS_NOTHING")
        return obs, 5.0 if pays else 0.0, terminated, truncated, info
