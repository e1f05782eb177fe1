"""ShortCorridor-v0 (S&B Example 13.1): dynamics by hand, the transition table, the env checker."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs.make import check_env_id
from envs.short_corridor import LEFT, MAX_EPISODE_STEPS, RIGHT


def test_passes_gymnasium_env_checker():
    check_env(gym.make("ShortCorridor-v0").unwrapped, skip_render_check=True)


@pytest.mark.parametrize(
    ("state_actions", "expected_states"),
    [
        ([LEFT], [0]),  # the wall: no movement
        ([RIGHT, RIGHT], [1, 0]),  # state 1 is switched: right goes back to 0
        ([RIGHT, LEFT, LEFT], [1, 2, 1]),  # left from 1 goes to 2, left from 2 goes to 1
    ],
)
def test_moves(state_actions, expected_states):
    env = gym.make("ShortCorridor-v0")
    obs, _ = env.reset(seed=0)
    assert obs == 0
    for action, expected in zip(state_actions, expected_states, strict=True):
        obs, reward, terminated, truncated, _ = env.step(action)
        assert (obs, reward, terminated, truncated) == (expected, -1.0, False, False)


def test_shortest_path_is_three_steps_with_return_minus_three():
    env = gym.make("ShortCorridor-v0")
    env.reset(seed=0)
    outcomes = [env.step(action)[1:3] for action in (RIGHT, LEFT, RIGHT)]
    assert outcomes == [(-1.0, False), (-1.0, False), (-1.0, True)]


def test_transition_table_matches_step():
    env = gym.make("ShortCorridor-v0").unwrapped
    for state in range(3):
        for action in (LEFT, RIGHT):
            env.reset(seed=0)
            env.state = state
            ((prob, next_state, reward, terminated),) = env.P[state][action]
            obs, step_reward, step_terminated, _, _ = env.step(action)
            assert (prob, next_state, reward, terminated) == (1.0, obs, step_reward, step_terminated)
    assert env.P[3] == {LEFT: [(1.0, 3, 0.0, True)], RIGHT: [(1.0, 3, 0.0, True)]}


def test_action_features_ignore_the_state():
    env = gym.make("ShortCorridor-v0").unwrapped
    phi = env.action_features(np.array([0, 1, 2, 3]))
    assert phi.shape == (4, 2, 2)
    assert (phi[:, RIGHT] == [1.0, 0.0]).all() and (phi[:, LEFT] == [0.0, 1.0]).all()
    info = check_env_id("ShortCorridor-v0")
    assert info.n_actions == 2 and info.action_features is not None


def test_time_limit_is_registered_and_can_be_overridden():
    assert gym.spec("ShortCorridor-v0").max_episode_steps == MAX_EPISODE_STEPS
    env = gym.make("ShortCorridor-v0", max_episode_steps=5)
    env.reset(seed=0)
    truncated = [env.step(LEFT)[3] for _ in range(5)]
    assert truncated == [False] * 4 + [True]


def test_invalid_action_is_rejected():
    env = gym.make("ShortCorridor-v0").unwrapped
    env.reset(seed=0)
    with pytest.raises(ValueError, match="0 = left, 1 = right"):
        env.step(2)


def test_trains_with_the_env_action_features(make_config):
    from agents.runtime.run import train

    result = train(make_config("env=ShortCorridor-v0", "agent.policy=action", "budget.total_env_steps=600"))
    assert result.episodes > 0 and np.isfinite(result.final_mean_return)
