"""What an env returned, checked on every step: a numeric batch ``[n, *shape]`` of its observation
space's shape and, for a ``Discrete(n, start)`` space, integers in ``start .. start + n - 1`` (the
one-hot features of ``-1`` would silently be the last state's, and ``n`` an ``IndexError``)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class ObservationCheck:
    """Checks batches of observations against ``space`` (a Box or a Discrete space)."""

    def __init__(self, space: gym.Space) -> None:
        self.space = space
        self.shape = space.shape or ()
        self.states = (
            (int(space.start), int(space.start) + int(space.n))
            if isinstance(space, gym.spaces.Discrete)
            else None
        )
        """``(first, last + 1)`` of a Discrete space's states, else None."""

    def fits(self, obs: Any) -> bool:
        """Whether ``obs`` is a batch the space allows (two comparisons for a Box space's)."""
        if not (isinstance(obs, np.ndarray) and obs.shape[1:] == self.shape and obs.dtype.kind in "biuf"):
            return False
        if self.states is None or not obs.size:
            return True
        first, end = self.states
        return obs.dtype.kind in "iu" and first <= int(obs.min()) and int(obs.max()) < end

    def problem(self, source: str, obs: Any) -> str:
        """What is wrong with a batch ``obs`` that :meth:`fits` refused; ``source`` says where it
        came from (``step returned``, ``predict got``)."""
        space = self.space
        if not isinstance(obs, np.ndarray):
            return f"{source} a {type(obs).__name__}, not an array"
        if obs.shape[1:] != self.shape or obs.dtype.kind not in "biuf":
            return (
                f"{source} an observation of shape {obs.shape[1:]} and dtype {obs.dtype}; "
                f"its observation_space says shape {space.shape}, dtype {space.dtype}"
            )
        if obs.dtype.kind not in "iu":
            return f"{source} {obs.dtype} observations; the observation_space {space} holds integers"
        first, end = self.states or (0, 0)
        outside = obs[(obs < first) | (obs >= end)]
        return (
            f"{source} observation {int(outside.flat[0])}, outside the observation_space {space} "
            f"(states {first}..{end - 1})"
        )
