"""Episode storage for vector envs: ``store`` every step, ``finish`` an episode, ``get`` a batch.

REINFORCE is Monte Carlo, so it learns from complete episodes only. The buffer is time-major,
like a rollout buffer: each vector step writes one row ``[num_envs, ...]`` of observations,
actions and rewards (three contiguous copies, however many sub-envs there are), and sub-env
``e``'s episode in progress is rows ``[start[e], t)`` of column ``e``. When it ends, those rows
are copied out to the finished list and ``start[e]`` moves on. A row where a sub-env was not
active (Gymnasium's NEXT_STEP autoreset: that call only reset it) is written but lies before the
sub-env's next ``start``, so it is never part of an episode.

When the rows run out, the rows still needed (from the oldest episode in progress on) move to
the front; if that frees less than half the rows, the capacity doubles. So memory grows only
with the longest episode (and the batch), never with the total number of steps, and the
compaction's copying costs O(1) per step on average.
"""

from __future__ import annotations

import numpy as np


class EpisodeBuffer:
    """Per-sub-env episodes in progress plus the finished episodes awaiting an update.

    :param num_envs: number of sub-environments (columns).
    :param obs_shape: shape of one observation (``()`` for Discrete spaces).
    :param obs_dtype: numpy dtype of the observations.
    :param capacity: initial rows; grows (doubling) with the longest episode.
    """

    def __init__(
        self, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype, capacity: int = 512
    ) -> None:
        self.num_envs = num_envs
        self.obs = np.zeros((capacity, num_envs, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, num_envs), dtype=np.int64)
        self.rewards = np.zeros((capacity, num_envs), dtype=np.float64)
        self.t = 0
        """Rows written; the next ``store`` writes row ``t``."""
        self.start = np.zeros(num_envs, dtype=np.int64)
        """First row of each sub-env's episode in progress."""
        self.finished: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    @property
    def num_finished(self) -> int:
        return len(self.finished)

    @property
    def length(self) -> np.ndarray:
        """Steps of each sub-env's episode in progress."""
        return self.t - self.start

    def store(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, active: np.ndarray) -> None:
        """Append ``(S_t, A_t, R_{t+1})`` for every sub-env; where not ``active`` (an autoreset
        step, which follows the end of that sub-env's episode) the row is not a transition."""
        row = self.t
        if row == self.obs.shape[0]:
            self._make_room()
            row = self.t
        if self.num_envs == 1:  # the common case, with plain indexing (3x cheaper than slicing)
            if not active[0]:
                return
            self.obs[row, 0], self.actions[row, 0], self.rewards[row, 0] = obs[0], actions[0], rewards[0]
        else:
            self.obs[row], self.actions[row], self.rewards[row] = obs, actions, rewards
            if not active.all():
                self.start[~active] = row + 1
        self.t = row + 1

    def in_progress(self, env: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of sub-env ``env``'s episode in progress: ``obs, actions, rewards``."""
        rows = slice(int(self.start[env]), self.t)
        return self.obs[rows, env], self.actions[rows, env], self.rewards[rows, env]

    def finish(self, env_ids: np.ndarray) -> None:
        """Move the episodes of ``env_ids`` (which just ended) to the finished list."""
        for env in env_ids.tolist():
            self.finished.append(tuple(part.copy() for part in self.in_progress(env)))  # type: ignore[arg-type]
            self.start[env] = self.t

    def drop_in_progress(self) -> None:
        """Forget the episodes in progress (the envs were reset)."""
        self.start[:] = self.t

    def get(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Finished episodes end to end: ``obs, actions, rewards, dones``; clears the list."""
        obs, actions, rewards = (np.concatenate(parts) for parts in zip(*self.finished, strict=False))
        dones = np.zeros(actions.shape[0], dtype=bool)
        dones[np.cumsum([len(a) for _, a, _ in self.finished]) - 1] = True
        self.finished = []
        return obs, actions, rewards, dones

    def _make_room(self) -> None:
        """Move the rows still needed to the front; double the capacity if that frees too little."""
        oldest = int(self.start.min())
        capacity = self.obs.shape[0]
        self._move_to_front(oldest, 2 * capacity if self.t - oldest > capacity // 2 else capacity)

    def _move_to_front(self, oldest: int, capacity: int) -> None:
        """Rows ``[oldest, t)`` become rows ``[0, t - oldest)`` of arrays with ``capacity`` rows."""
        kept = self.t - oldest
        for name in ("obs", "actions", "rewards"):
            old = getattr(self, name)
            new = old if capacity == old.shape[0] else np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[:kept] = old[oldest : self.t]
            setattr(self, name, new)
        self.start -= oldest
        self.t = kept

    def state_dict(self) -> dict[str, object]:
        """Episodes in progress and finished, for exact resume."""
        oldest = int(self.start.min())
        return {
            "obs": self.obs[oldest : self.t].copy(),
            "actions": self.actions[oldest : self.t].copy(),
            "rewards": self.rewards[oldest : self.t].copy(),
            "start": self.start - oldest,
            "finished": [list(parts) for parts in self.finished],
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        rows = len(state["actions"])  # type: ignore[arg-type]
        capacity = self.obs.shape[0]
        while capacity <= rows:
            capacity *= 2
        self.t, self.start = 0, np.zeros(self.num_envs, dtype=np.int64)
        self._move_to_front(0, capacity)
        for name in ("obs", "actions", "rewards"):
            getattr(self, name)[:rows] = np.asarray(state[name])
        self.t = rows
        self.start = np.asarray(state["start"]).astype(np.int64)
        self.finished = [tuple(np.asarray(p) for p in parts) for parts in state["finished"]]  # type: ignore[union-attr,misc]
