"""agents/runtime/logger.py: scalars reach the event file in batches, each with its own wall time."""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
import pytest
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.errors import UserError
from agents.runtime import tags
from agents.runtime.logger import Logger
from agents.runtime.run import train


def test_scalars_are_batched_until_the_handoff_and_keep_their_wall_times(tmp_path, monkeypatch):
    logger = Logger(tmp_path, True, OmegaConf.create({"env": "CartPole-v1"}))
    monkeypatch.setattr(logger, "next_handoff", time.monotonic() + 3600)
    before = time.time()
    for step in range(5):
        logger.scalar("charts/x", float(step), step)
    assert len(logger.batch) == 5  # nothing handed to TensorBoard's thread yet
    logger.next_handoff = time.monotonic()  # the hand-off is due: the next scalar sends all six
    logger.scalar("charts/x", 5.0, 5)
    assert logger.batch == []
    logger.scalar("charts/y", 1.0, 6)  # still batched when the run ends: close() hands it off
    logger.close()
    events = EventAccumulator(str(tmp_path)).Reload()
    xs = events.Scalars("charts/x")
    assert [(e.step, e.value) for e in xs] == [(s, float(s)) for s in range(6)]
    assert [e.step for e in events.Scalars("charts/y")] == [6]
    assert all(before - 1 <= e.wall_time <= time.time() + 1 for e in xs)
    assert [e.wall_time for e in xs] == sorted(e.wall_time for e in xs)


def test_disabled_logger_writes_nothing(tmp_path):
    logger = Logger(tmp_path, False, OmegaConf.create({}))
    logger.scalar("charts/x", 1.0, 0)
    logger.close()
    assert list(tmp_path.iterdir()) == []


class _BrokenAfter300Steps(gym.Env):
    """Episodes of 10 steps with return 10; step 300 raises (a bug in someone's env)."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self) -> None:
        self.t = self.total = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        self.total += 1
        if self.total == 300:
            raise RuntimeError("the env broke")
        return np.zeros(1, np.float32), 1.0, self.t == 10, False, {}


gym.register("test/BrokenAfter300Steps-v0", entry_point=_BrokenAfter300Steps)


@pytest.mark.parametrize("num_seeds", [1, 2])
def test_a_crash_still_writes_what_was_logged(make_config, tmp_path, num_seeds):
    cfg = make_config("env=test/BrokenAfter300Steps-v0", f"num_seeds={num_seeds}", f"run_dir={tmp_path}",
                      "logging.episode_stats=each")  # fmt: skip
    with pytest.raises(UserError, match="RuntimeError: the env broke"):  # an env fault: one line
        train(cfg)
    run_dirs = [tmp_path] if num_seeds == 1 else [tmp_path / "seed0", tmp_path / "seed1"]
    for run_dir in run_dirs:
        returns = EventAccumulator(str(run_dir)).Reload().Scalars(tags.EPISODIC_RETURN)
        assert len(returns) >= 29 and {e.value for e in returns} == {10.0}
