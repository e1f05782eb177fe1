"""Tiny deterministic envs for the tests: the observation is the step index."""

from __future__ import annotations

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
