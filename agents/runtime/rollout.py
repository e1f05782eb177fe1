"""Complete episodes from a fixed policy, for measurements rather than training.

The comparison script needs real states, the gradient-variance study and the tests need many
episodes of one frozen policy. Actions are drawn by :class:`~agents.runtime.acting.Actor`, the sampler
the trainer acts with, so these episodes come from exactly the trainer's pi(.|s).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.core.batch import EpisodeBatch
from agents.core.policies import SoftmaxPolicy
from agents.features.inputs import PolicyInputs
from agents.runtime.acting import Actor
from agents.runtime.sweep_stop import env_faults
from envs.observations import (
    EnvOutputError,
    ObservationCheck,
    describe_env_error,
    flag_value,
    reward_number,
    show_warnings,
    warnings_held,
)

Step = tuple[np.ndarray, int, float, bool]
"""``(S_t, A_t, R_{t+1}, done)``; ``done`` is True on an episode's last step (terminated or truncated)."""


class BadObservation(EnvOutputError):
    """An observation the env returned that the policy cannot act on (its message says why,
    ``returned nan/inf observations``): raised by an ``act`` callback, an :class:`EnvFault` of
    the step that returned it."""


class EnvFault(Exception):
    """The env itself raised inside :func:`play_episode`; what it raised is ``error`` (and the
    ``__cause__``). Not a :class:`~agents.errors.UserError`: a caller whose env is the user's
    turns it into one line naming the env; elsewhere it is a bug and keeps its traceback.

    :param step: the episode's step whose ``env.step`` raised (1 = the first), 0 for ``env.reset``.
    """

    def __init__(self, error: Exception, step: int) -> None:
        super().__init__(error, step)
        self.error, self.step = error, step
        self.episode: int | None = None
        """Which episode, where a caller plays several (:func:`collect_episodes` sets it)."""

    def __str__(self) -> str:
        """``<TypeName>: <message> in step 7 of episode 2`` (``in reset()`` ...)."""
        where = "reset()" if self.step == 0 else f"step {self.step}"
        episode = "" if self.episode is None else f" of episode {self.episode}"
        what = describe_env_error(self.error)
        return f"{what} in {where}{episode}"


def own_copy(obs: Any) -> Any:
    """A copy of an array ``obs`` (anything else as it is): an env may write every observation
    into one array it returns each time, so the next step would change ``S_t`` in place."""
    return obs.copy() if isinstance(obs, np.ndarray) else obs


def play_episode(
    env: gym.Env, act: Callable[[np.ndarray], int], seed: int | None = None, max_steps: int | None = None
) -> Iterator[Step]:
    """The one episode loop: ``env.reset(seed=seed)`` (None continues the env's generator), then
    ``A_t = act(S_t)`` and ``env.step`` until the episode ends or ``max_steps`` steps were taken.
    An exception from ``env.reset`` or ``env.step``, or a reward that is not a number
    (:func:`~envs.observations.reward_number`), comes out as :class:`EnvFault` saying which.

    Used by training's measurements (:func:`collect_episodes`), the evaluation, the gradient
    checks and the gradient-variance study. The trainer steps vector envs itself
    (:mod:`agents.runtime.runners`), and the Sutton & Barto study steps 100 runs at once from the
    env's transition table (:mod:`agents.studies.sutton_barto` says why).
    """
    # the warnings of the reset and the first step (Gymnasium's passive env checker: "the obs
    # returned by reset() is not within the observation space") are shown once act() takes what
    # they returned; when it refuses it, the EnvFault's line says what they did
    with warnings_held() as held:
        try:
            obs, _ = env.reset(seed=seed)
        except env_faults() as error:  # sys.exit in the user's env too, and its own KeyboardInterrupt
            raise EnvFault(error, 0) from error
    obs = own_copy(obs)
    steps, done = 0, False
    while not done and (max_steps is None or steps < max_steps):
        try:
            action = act(obs)
        except BadObservation as error:  # what reset (step 0) or the last step returned
            raise EnvFault(error, steps) from error
        show_warnings(held)
        with warnings_held() if steps == 0 else nullcontext([]) as held:
            try:
                next_obs, reward, terminated, truncated, _ = env.step(action)
                reward = reward_number(reward, "returned")
                terminated = flag_value(terminated, "terminated", "returned")
                truncated = flag_value(truncated, "truncated", "returned")
            except env_faults() as error:
                raise EnvFault(error, steps + 1) from error
        done = bool(terminated or truncated)
        yield obs, action, reward, done
        obs, steps = own_copy(next_obs), steps + 1
    show_warnings(held)  # an episode of one step: its step's warnings


def collect_episodes(
    env: gym.Env,
    inputs: PolicyInputs,
    policy: SoftmaxPolicy,
    num_episodes: int,
    seed: int,
    max_steps: int | None = None,
) -> tuple[EpisodeBatch, np.ndarray]:
    """Run ``num_episodes`` episodes of ``policy`` in ``env`` (reset with ``seed`` once, then
    continuing its generator; actions from a generator seeded with ``seed``).

    :param max_steps: stop as soon as this many steps are stored (the last episode is then
        incomplete: its last ``dones`` entry is False); None = only complete episodes.
    :return: the episodes laid end to end as an :class:`EpisodeBatch` (in the policy's dtype),
        and the raw observations ``S_t`` ``[T, *obs_shape]``. An episode cut by a time limit
        counts as ended.
    :raises EnvFault: the env raised, or returned an observation its space does not hold; its
        :attr:`~EnvFault.episode` says in which episode.
    """
    actor = Actor.for_policy(policy, np.random.default_rng(seed))
    check = ObservationCheck(env.observation_space)

    def act(obs: np.ndarray) -> int:
        batch = np.asarray(obs)[None]
        # a shape the policy cannot read: numpy's "shapes not aligned" was a traceback
        if not check.fits(batch):
            raise BadObservation(check.problem("returned", batch))
        return int(actor(inputs(batch))[0])

    observations, actions, rewards, dones = [], [], [], []
    limit = max_steps if max_steps is not None else None
    for episode in range(num_episodes):
        left = None if limit is None else limit - len(actions)
        try:
            for obs, action, reward, done in play_episode(env, act, seed if episode == 0 else None, left):
                observations.append(obs)
                actions.append(action)
                rewards.append(reward)
                dones.append(done)
        except EnvFault as fault:
            fault.episode = episode
            raise
        if limit is not None and len(actions) >= limit:
            break
    obs_array = np.asarray(observations)
    dtype, device = policy.param.dtype, policy.param.device

    def tensor(array: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(array, dtype=dtype, device=device)

    batch = EpisodeBatch(
        inputs=tensor(inputs(obs_array)),
        states=tensor(inputs.state(obs_array)),
        actions=torch.as_tensor(actions, dtype=torch.int64, device=device),
        rewards=tensor(np.asarray(rewards)),
        dones=torch.as_tensor(dones, dtype=torch.bool, device=device),
    )
    return batch, obs_array
