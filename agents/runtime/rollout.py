"""Complete episodes from a fixed policy, for measurements rather than training.

The comparison script needs real states, the gradient-variance study and the tests need many
episodes of one frozen policy. Actions are drawn by :class:`~agents.runtime.acting.Actor`, the sampler
the trainer acts with, so these episodes come from exactly the trainer's pi(.|s).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from agents.core.batch import EpisodeBatch
from agents.core.policies import SoftmaxPolicy
from agents.features.inputs import PolicyInputs
from agents.runtime.acting import Actor


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
    """
    actor = Actor.for_policy(policy, np.random.default_rng(seed))
    observations, actions, rewards, dones = [], [], [], []
    obs, _ = env.reset(seed=seed)
    limit = max_steps if max_steps is not None else float("inf")
    for _ in range(num_episodes):
        done = False
        while not done and len(actions) < limit:
            action = int(actor(inputs(np.asarray(obs)[None]))[0])
            next_obs, reward, terminated, truncated, _ = env.step(action)
            done = bool(terminated or truncated)
            observations.append(obs)
            actions.append(action)
            rewards.append(float(reward))
            dones.append(done)
            obs = next_obs
        if len(actions) >= limit:
            break
        obs, _ = env.reset()
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
