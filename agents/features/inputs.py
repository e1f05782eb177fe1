r"""What a policy reads: state features ``x(s)`` or action features ``phi(s, .)`` built from them.

A policy form declares its ``input_form`` (``state`` or ``action``); :class:`PolicyInputs` turns a
batch of observations into that, in numpy, once per vector step.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from agents.errors import UserError, describe
from agents.features.maps import Array, FeatureMap


class ActionFeaturesFault(UserError):
    """The env's ``action_features(obs)`` raised, or returned another shape or nan/inf, on a batch
    after it passed its first check (:func:`probe_action_features`): the env's fault. Its line says
    what; training names the env and the step and saves the last good state
    (:meth:`~agents.runtime.trainer.Trainer.fail_in_env`), elsewhere it is the one line as it is."""


def state_action_features(state_features: Array, n_actions: int) -> Array:
    r"""``phi(s,a) = x(s) (x) e_a``, flattened like ``W.flatten()``: ``[B, d] -> [B, A, d*A]``.

    With ``theta = W.flatten()``, ``phi(s,a)^T theta = x(s)^T W[:, a]``, so
    :class:`~agents.core.policies.ActionFeatureSoftmaxPolicy` on these features *is*
    :class:`~agents.core.policies.LinearSoftmaxPolicy` on ``x``. Works on numpy arrays and torch
    tensors alike.
    """
    batch, dim = state_features.shape
    out = state_features[:, None, :, None] * _eye(n_actions, state_features)  # [B, A, d, A]
    return out.reshape(batch, n_actions, dim * n_actions)


def _eye(n: int, like: Any) -> Any:
    """An ``[1, n, 1, n]`` identity of the same array library and dtype as ``like``."""
    if isinstance(like, np.ndarray):
        return np.eye(n, dtype=like.dtype)[None, :, None, :]
    import torch

    return torch.eye(n, dtype=like.dtype, device=like.device)[None, :, None, :]


class PolicyInputs:
    """Observations -> what the policy reads: ``x(s)`` for ``agent.policy=state``,
    ``phi(s, .)`` for ``agent.policy=action`` (the env's own phi when it supplies one, else
    :func:`state_action_features`).

    :param feature_map: the state feature map ``x(s)``.
    :param form: ``state`` or ``action``.
    :param n_actions: number of actions ``A``.
    :param env_action_features: ``obs [B] -> phi [B, A, d]`` supplied by the env, or None.
    :param observation_space: the env's, for the observation :func:`probe_action_features` gives
        the env's ``phi`` (None: the state 0 of a Discrete space).
    """

    def __init__(
        self, feature_map: FeatureMap, form: str, n_actions: int, env_action_features: Any = None,
        observation_space: gym.Space | None = None,
    ) -> None:  # fmt: skip
        self.feature_map, self.form, self.n_actions = feature_map, form, n_actions
        self.env_action_features = env_action_features if form == "action" else None
        if self.env_action_features is not None:
            self.dim = probe_action_features(self.env_action_features, observation_space, n_actions)
        elif form == "action":
            self.dim = feature_map.dim * n_actions
        else:
            self.dim = feature_map.dim

    def state(self, obs: Array) -> Array:
        """State features ``x(s)``, ``[B, d]``."""
        return self.feature_map(obs)

    def __call__(self, obs: Array) -> Array:
        """``[B, d]`` (state form) or ``[B, A, dim]`` (action form)."""
        if self.env_action_features is not None:
            return self._env_action_features(obs)
        x = self.feature_map(obs)
        return state_action_features(x, self.n_actions) if self.form == "action" else x

    def _env_action_features(self, obs: Array) -> Array:
        """The env's ``phi(s, .)`` ``[B, A, dim]`` for ``obs`` ``[B, ...]``, checked as its first
        call was (a batch of 40 may fail where one observation did not).

        :raises ActionFeaturesFault: the hook raised, or returned another shape or nan/inf."""
        count = len(obs)
        try:
            phi = np.asarray(self.env_action_features(obs), dtype=np.float64)
        except (Exception, SystemExit) as error:  # the user's hook: one line, not a traceback
            raise ActionFeaturesFault(
                f"the env's action_features(obs) raised on {_batch_of(count)}: {describe(error)}"
            ) from error
        if phi.shape != (count, self.n_actions, self.dim):
            raise ActionFeaturesFault(
                f"the env's action_features(obs) returned shape {phi.shape} for {_batch_of(count)}, not "
                f"the [{count}, {self.n_actions}, {self.dim}] of its first call"
            )
        if not np.isfinite(phi).all():
            raise ActionFeaturesFault(
                f"the env's action_features(obs) returned nan/inf features for {_batch_of(count)}"
            )
        return phi


def _batch_of(count: int) -> str:
    """``a batch of 20 observations`` (said only when the env's hook failed on it)."""
    return f"a batch of {count} observation{'' if count == 1 else 's'}"


def probe_observation(space: gym.Space | None) -> Array:
    """A batch of one observation ``space`` allows: a Discrete space's first state, the point of a
    Box nearest the origin (None: the state 0)."""
    if isinstance(space, gym.spaces.Box):
        return np.clip(np.zeros(space.shape), space.low, space.high).astype(space.dtype)[None]
    return np.array([int(space.start) if isinstance(space, gym.spaces.Discrete) else 0], dtype=np.int64)


def probe_action_features(action_features: Any, space: gym.Space | None, n_actions: int) -> int:
    """The length ``d`` of the env's ``phi(s, a)``, from its ``action_features`` on one valid
    observation (:func:`probe_observation`), which must give ``[1, n_actions, d]``.

    :raises UserError: naming what the hook did (raised, or returned another shape).
    """
    obs = probe_observation(space)
    try:
        phi = np.asarray(action_features(obs), dtype=np.float64)
    except (Exception, SystemExit) as error:  # the user's hook: one line, not a traceback
        raise UserError(
            f"agent.policy=action reads the env's action_features(obs), which raised on observation "
            f"{obs.tolist()}: {describe(error)}"
        ) from None
    if phi.ndim != 3 or phi.shape[:2] != (1, n_actions) or not phi.shape[2]:
        raise UserError(
            f"the env's action_features(obs) returned shape {phi.shape} for a batch of one observation; "
            f"agent.policy=action needs [1, {n_actions}, d]: a feature vector phi(s, a) for each of the "
            f"{n_actions} actions"
        )
    return int(phi.shape[2])
