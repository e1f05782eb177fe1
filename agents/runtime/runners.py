"""Stepping envs in batches: :class:`EnvRunner`, for a single env and for a Gymnasium vector env.

Every runner takes a batch of actions and returns ``(next_obs, rewards, active, ended)``
(``rewards`` in the env's dtype: the buffer's float64 row takes them without a converted copy):

* ``active[i]`` is False when sub-env ``i``'s step was not a transition. Gymnasium 1.x vector
  envs autoreset in NEXT_STEP mode: the call after an episode ends only resets that sub-env
  (its action is ignored, its reward is 0), so the trainer must not store it.
* ``ended`` lists the sub-envs whose episode ended with this step (the buffer, which stores
  every reward anyway, sums their returns and lengths: :mod:`agents.runtime.buffer`).

Right after a step, :meth:`~EnvRunner.cut_by_time_limit` says which of the ``ended``
episodes a time limit cut (truncated, not terminated) and their last observations ``S_T``, for
``agent.bootstrap_truncated`` (:mod:`agents.core.reinforce`).

:class:`SingleEnvRunner` drives one ``gym.make`` env and resets it by hand; it exists because a
1-env vector env costs more per step than the env itself (see ``scripts/benchmark.py``).

Exact resume. An env's internal state (CartPole's pole angle, a TimeLimit's step counter) cannot
be saved generically without pickling code, but it is a deterministic function of the env's
random generator at the last reset and the actions taken since. :class:`SingleEnvRunner`
records that generator state at each reset; :meth:`SingleEnvRunner.restore` resets a fresh env
from it and replays the episode's actions (which the trainer's buffer holds anyway). A vector
env's sub-envs share generators in ways Gymnasium does not expose, so :class:`VectorEnvRunner`
resumes with fresh episodes (seeded from the run seed and the env-step counter).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np

from agents.errors import UserError, describe
from agents.runtime import interrupts
from agents.runtime.buffer import EpisodeBuffer
from envs.make import (
    Wrappers,
    close_quietly,
    describe_vector_failure,
    make_env,
    make_vector_env,
    stores_none_as_nan,
)
from envs.observations import (
    FLAG_TYPES,
    PLAIN_NUMBERS,
    EnvOutputError,
    describe_env_error,
    flag_value,
    hold_first_step_warnings,
    reward_number,
    rewards_fit,
    rewards_problem,
)

NOTHING_ENDED = np.zeros(0, dtype=np.int64)
ONE_ENDED = np.zeros(1, dtype=np.int64)


class EnvRunner(ABC):
    """Base class: steps ``num_envs`` (sub-)envs with a batch of actions and says which steps
    were transitions and which episodes ended."""

    num_envs: int
    single_observation_space: gym.Space
    single_action_space: gym.Space
    stores_none_as_nan = False
    """Whether the env stores a reward of None as nan (:func:`envs.make.stores_none_as_nan`)."""

    @abstractmethod
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start every (sub-)env's episode; the first observations ``[num_envs, *obs_shape]``."""

    @abstractmethod
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One step with ``actions`` ``[num_envs]``: ``(next_obs, rewards, active, ended)`` as the
        module says."""

    @abstractmethod
    def cut_by_time_limit(self, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of the episodes ``ended`` by the last step, those a time limit cut (truncated, not
        terminated): their sub-envs ``[n]`` and last observations ``S_T`` ``[n, *obs_shape]``."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """What :meth:`restore` needs besides the buffer (no code, no env objects)."""

    @abstractmethod
    def restore(self, state: dict[str, Any], buffer: EpisodeBuffer, seed: int) -> np.ndarray:
        """Continue after a resume from :meth:`state_dict`'s ``state``; the observations to act on."""

    @abstractmethod
    def close(self) -> None:
        """Close the env(s)."""

    def describe_failure(self, error: BaseException) -> str:
        """What an exception out of :meth:`step` or :meth:`reset` says about the env, in one line."""
        return describe_env_error(error)

    def returned_by(self, ended: np.ndarray) -> str:
        """The env's call that returned the observations of the :meth:`step` that ``ended`` those
        episodes, for a line about them: the step (a vector env's step resets its sub-envs)."""
        return "step"


class SingleEnvRunner(EnvRunner):
    """One env as a batch of one, reset by hand when an episode ends."""

    num_envs = 1

    def __init__(
        self, env_id: str, env_kwargs: dict[str, Any] | None = None, wrappers: Wrappers = ()
    ) -> None:
        self.env = make_env(env_id, env_kwargs, wrappers)
        self.single_observation_space = self.env.observation_space
        self.single_action_space = self.env.action_space
        self.active = np.ones(1, dtype=bool)
        self.reward = np.zeros(1)  # reused each step: the trainer copies it into its buffer at once
        self.episode_start: dict[str, Any] = {}
        self.cut = False
        """Whether the episode that ended last was truncated and not terminated."""
        space = self.single_observation_space
        self.last_obs = np.zeros((1, *space.shape), dtype=space.dtype)
        """``S_T`` of the episode that ended last, ``[1, *obs_shape]``."""

    def _reset(self, seed: int | None = None) -> Any:
        """Reset, first recording what reproduces this reset (the seed, or the generator state)."""
        if seed is not None:
            self.episode_start = {"seed": seed}
        else:
            self.episode_start = {"rng": self.env.unwrapped.np_random.bit_generator.state}
        obs, _ = self.env.reset(seed=seed)
        return obs

    def reset(self, seed: int | None = None) -> np.ndarray:
        return np.array(self._reset(seed))[None]

    def state_dict(self) -> dict[str, Any]:
        """The last reset's seed or generator state (the buffer holds the episode's actions)."""
        return {"episode_start": self.episode_start}

    def restore(self, state: dict[str, Any], buffer: EpisodeBuffer, seed: int) -> np.ndarray:
        """Rebuild the env exactly as it was: redo the last reset, replay the episode's actions
        (``buffer`` holds them)."""
        _, actions_in_progress, _ = buffer.in_progress(0)
        start = state["episode_start"]
        if "seed" in start:
            obs = self._reset(int(start["seed"]))
        else:
            self.env.reset(seed=0)  # creates the generator; its state is overwritten next
            self.env.unwrapped.np_random.bit_generator.state = start["rng"]
            obs = self._reset()
        actions = np.asarray(actions_in_progress).tolist()
        outside = [action for action in actions if not self.env.action_space.contains(int(action))]
        if outside:  # an edited file (the env's own check would be an AssertionError)
            raise ValueError(
                f"its episode in progress holds action {outside[0]}, outside {self.env.action_space}"
            )
        for action in actions:
            try:
                obs, _, _, _, _ = self.env.step(int(action))
            except Exception as error:  # the user's env raised while it was replayed: the env's fault
                raise UserError(
                    f"env={self.env.spec.id if self.env.spec else self.env} raised while the episode in "
                    f"progress was replayed: {describe(error)}"
                ) from None
        return np.array(obs)[None]  # a copy, as step's (an env may write each into one array)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        obs, reward, terminated, truncated, _ = self.env.step(actions[0])  # np.int64: cheapest check
        self.reward[0] = reward if type(reward) in PLAIN_NUMBERS else reward_number(reward)  # None: not nan
        if type(terminated) not in FLAG_TYPES or type(truncated) not in FLAG_TYPES:
            terminated, truncated = flag_value(terminated, "terminated"), flag_value(truncated, "truncated")
        # copies (0.1 us): an env may write every observation into one array it returns each time,
        # and the trainer stores S_t after the step that made S_{t+1}
        if terminated or truncated:
            self.cut, self.last_obs = bool(truncated and not terminated), np.array(obs)[None]
            return np.array(self._reset())[None], self.reward, self.active, ONE_ENDED
        return np.array(obs)[None], self.reward, self.active, NOTHING_ENDED

    def cut_by_time_limit(self, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return (ended, self.last_obs) if self.cut else (NOTHING_ENDED, self.last_obs[:0])

    def returned_by(self, ended: np.ndarray) -> str:
        """``reset`` after an episode ended: :meth:`step` reset the env itself."""
        return "reset" if ended.size else "step"

    def close(self) -> None:
        close_quietly(self.env)


class VectorEnvRunner(EnvRunner):
    """A Gymnasium vector env (native, sync or async); the buffer keeps the episode statistics."""

    def __init__(
        self, env_id: str, num_envs: int, mode: str, env_kwargs: dict[str, Any] | None = None,
        wrappers: Wrappers = (),
    ) -> None:  # fmt: skip
        with interrupts.held(mode == "async"):  # its workers are forked
            self.envs = make_vector_env(env_id, num_envs, mode, env_kwargs, wrappers)
        self.stores_none_as_nan = stores_none_as_nan(self.envs)
        self.num_envs = num_envs
        self.single_observation_space = self.envs.single_observation_space
        self.single_action_space = self.envs.single_action_space
        self.autoreset = np.zeros(num_envs, dtype=bool)
        self.terminated = self.truncated = np.zeros(num_envs, dtype=bool)
        """The last step's flags (kept as the env returned them; read only by :meth:`cut_by_time_limit`)."""
        self.last_obs: np.ndarray | None = None
        """The last step's observations (NEXT_STEP autoreset: ``S_T`` where an episode ended)."""

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, _ = self.envs.reset(seed=seed)
        self.autoreset[:] = False
        return obs

    def state_dict(self) -> dict[str, Any]:
        return {}

    def restore(self, state: dict[str, Any], buffer: EpisodeBuffer, seed: int) -> np.ndarray:
        """Start fresh episodes in every sub-env, dropping the ones in progress (see above)."""
        buffer.drop_in_progress()
        return self.reset(seed=seed)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        obs, rewards, terminated, truncated, _ = self.envs.step(actions)
        if not rewards_fit(rewards, self.num_envs):  # a vector env's own step (sync and async give float64)
            raise EnvOutputError(rewards_problem(rewards, self.num_envs))
        active = ~self.autoreset  # False: this call only reset that sub-env
        self.autoreset = terminated | truncated
        self.terminated, self.truncated, self.last_obs = terminated, truncated, obs
        ended = (self.autoreset & active).nonzero()[0]  # 1-D: np.flatnonzero's ravel costs 0.6 us a step
        return obs, rewards, active, ended  # the buffer stores float64

    def describe_failure(self, error: BaseException) -> str:
        return describe_vector_failure(self.envs, error)

    def cut_by_time_limit(self, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cut = ended[self.truncated[ended] & ~self.terminated[ended]]
        return cut, self.last_obs[cut]

    def close(self) -> None:
        close_quietly(self.envs)


def make_runner(
    env_id: str, num_envs: int, mode: str, env_kwargs: dict[str, Any] | None = None, wrappers: Wrappers = ()
) -> EnvRunner:
    """``vector.num_envs=1`` with ``vector.mode=native`` steps the env itself; anything else
    goes through ``gymnasium.make_vec``. ``wrappers`` (``env_wrappers``) wrap every (sub-)env."""
    if num_envs == 1 and mode == "native":
        runner: EnvRunner = SingleEnvRunner(env_id, env_kwargs, wrappers)
    else:
        runner = VectorEnvRunner(env_id, num_envs, mode, env_kwargs, wrappers)
    hold_first_step_warnings(runner)  # the env checker's warning of what the one line refuses
    return runner
