"""Episode storage for vector envs: ``store`` every step, ``finish`` an episode, ``get`` a batch.

REINFORCE is Monte Carlo, so it learns from complete episodes only. Each sub-env writes its
episode in progress into its own column of preallocated arrays ``[capacity, num_envs, ...]``;
when it ends, the column's first ``length`` rows are copied out to the finished list and the
column is reused. Memory grows only with the longest episode and the batch, never with the
total number of steps.
"""

from __future__ import annotations

import numpy as np


class EpisodeBuffer:
    """Per-sub-env episodes in progress plus the finished episodes awaiting an update.

    :param num_envs: number of sub-environments (columns).
    :param obs_shape: shape of one observation (``()`` for Discrete spaces).
    :param obs_dtype: numpy dtype of the observations.
    :param capacity: initial rows per column; doubles when an episode outgrows it.
    """

    def __init__(
        self, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype, capacity: int = 512
    ) -> None:
        self.num_envs = num_envs
        self.obs = np.zeros((capacity, num_envs, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, num_envs), dtype=np.int64)
        self.rewards = np.zeros((capacity, num_envs), dtype=np.float64)
        self.length = np.zeros(num_envs, dtype=np.int64)
        self.columns = np.arange(num_envs)
        self.finished: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @property
    def num_finished(self) -> int:
        return len(self.finished)

    def store(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, active: np.ndarray) -> None:
        """Append ``(S_t, A_t, R_{t+1})`` for the sub-envs where ``active`` (not autoresetting)."""
        if self.num_envs == 1:  # the common case, with plain indexing (3x cheaper than fancy)
            if active[0]:
                row = int(self.length[0])
                if row == self.obs.shape[0]:
                    self._grow()
                self.obs[row, 0], self.actions[row, 0], self.rewards[row, 0] = obs[0], actions[0], rewards[0]
                self.length[0] = row + 1
            return
        if not active.all():
            obs, actions, rewards = obs[active], actions[active], rewards[active]
        rows, cols = self.length[active], self.columns[active]
        try:
            self.obs[rows, cols] = obs
        except IndexError:  # an episode outgrew the capacity: double it (rare, so no check per step)
            self._grow()
            self.obs[rows, cols] = obs
        self.actions[rows, cols] = actions
        self.rewards[rows, cols] = rewards
        self.length += active

    def finish(self, env_ids: np.ndarray) -> None:
        """Move the episodes of ``env_ids`` (which just ended) to the finished list."""
        for env in env_ids:
            steps = self.length[env]
            self.finished.append(
                (
                    self.obs[:steps, env].copy(),
                    self.actions[:steps, env].copy(),
                    self.rewards[:steps, env].copy(),
                )
            )
            self.length[env] = 0

    def get(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Finished episodes end to end: ``obs, actions, rewards, dones``; clears the list."""
        obs, actions, rewards = (np.concatenate(parts) for parts in zip(*self.finished, strict=False))
        dones = np.zeros(actions.shape[0], dtype=bool)
        dones[np.cumsum([len(a) for _, a, _ in self.finished]) - 1] = True
        self.finished = []
        return obs, actions, rewards, dones

    def _grow(self) -> None:
        for name in ("obs", "actions", "rewards"):
            old = getattr(self, name)
            setattr(self, name, np.concatenate([old, np.zeros_like(old)]))

    def state_dict(self) -> dict[str, object]:
        """Episodes in progress and finished, for exact resume."""
        longest = int(self.length.max())
        return {
            "obs": self.obs[:longest].copy(),
            "actions": self.actions[:longest].copy(),
            "rewards": self.rewards[:longest].copy(),
            "length": self.length.copy(),
            "finished": [list(parts) for parts in self.finished],
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        longest = int(np.asarray(state["length"]).max())
        while self.obs.shape[0] < longest:
            self._grow()
        for name in ("obs", "actions", "rewards"):
            getattr(self, name)[:longest] = np.asarray(state[name])
        self.length = np.asarray(state["length"]).copy()
        self.finished = [tuple(np.asarray(p) for p in parts) for parts in state["finished"]]  # type: ignore[union-attr,misc]
