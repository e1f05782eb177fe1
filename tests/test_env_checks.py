"""check_env_id: what this project cannot train is a one-line UserError naming the space."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from agents.errors import UserError
from envs.make import check_env_id


class _SpaceEnv(gym.Env):
    """An env that only declares spaces (never stepped)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space) -> None:
        self.observation_space, self.action_space = observation_space, action_space


gym.register(
    "test/DictObs-v0",
    entry_point=lambda: _SpaceEnv(
        gym.spaces.Dict({"a": gym.spaces.Discrete(2), "b": gym.spaces.Box(0, 1, (2,))}),
        gym.spaces.Discrete(2),
    ),
)
gym.register(
    "test/ImageObs-v0",
    entry_point=lambda: _SpaceEnv(gym.spaces.Box(0, 255, (8, 8, 3), np.uint8), gym.spaces.Discrete(2)),
)
gym.register(
    "test/SequenceObs-v0",
    entry_point=lambda: _SpaceEnv(gym.spaces.Sequence(gym.spaces.Discrete(3)), gym.spaces.Discrete(2)),
)
gym.register(
    "test/MultiDiscreteActions-v0",
    entry_point=lambda: _SpaceEnv(gym.spaces.Box(-1, 1, (2,)), gym.spaces.MultiDiscrete([2, 3])),
)


@pytest.mark.parametrize(
    ("env_id", "expected"),
    [
        ("test/DictObs-v0", "has observation space Dict; supported are Box"),
        (
            "test/DictObs-v0",
            "flatten it first (env_wrappers=[{_target_:gymnasium.wrappers.FlattenObservation}])",
        ),
        ("test/SequenceObs-v0", "has observation space Sequence; supported are Box"),
        ("test/SequenceObs-v0", "it has no fixed size to flatten: wrap the env to observe a Box"),
        ("test/ImageObs-v0", "add env_wrappers=[{_target_:gymnasium.wrappers.FlattenObservation}]"),
        ("test/MultiDiscreteActions-v0", "has an action space MultiDiscrete([2 3]); a softmax policy needs"),
        ("Pendulum-v1", "has a continuous action space Box(-2.0, 2.0, (1,), float32)"),
        ("NoSuchEnv-v0", "pprint_registry"),
        ("CartPol-v1", "did you mean CartPole-v1"),
    ],
)
def test_unsupported_envs_are_one_line_errors(env_id, expected):
    with pytest.raises(UserError) as caught:
        check_env_id(env_id)
    message = str(caught.value)
    assert expected in message and "\n" not in message


def test_supported_spaces_pass():
    assert check_env_id("CartPole-v1").n_actions == 2
    assert check_env_id("FrozenLake-v1", {"is_slippery": False}).observation_space.n == 16
