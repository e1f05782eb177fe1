"""Episode storage for vector envs: ``store`` every step, ``finish`` episodes, ``get`` a batch.

REINFORCE is Monte Carlo, so it learns from complete episodes only. The buffer is time-major,
like a rollout buffer: each vector step writes one row ``[num_envs, ...]`` of observations,
actions and rewards (three contiguous copies, however many sub-envs there are), and sub-env
``e``'s episode in progress is rows ``[start[e], t)`` of column ``e``. When episodes end,
:meth:`EpisodeBuffer.finish` records each as ``(column, first row, end row)`` in one array write
(no per-episode Python work, no copy) and :meth:`EpisodeBuffer.get` gathers all of them with one
fancy index per array. A row where a sub-env was not active (Gymnasium's NEXT_STEP autoreset:
that call only reset it) is written but lies before the sub-env's next ``start``, so it is never
part of an episode.

The episode statistics come from here too (no ``RecordEpisodeStatistics`` wrapper): each
column's undiscounted return is summed as its rewards are stored, in the same order and float64
precision as Gymnasium's wrapper, so the numbers are the same (``tests/test_vector.py``).

When the rows run out, the rows still needed (from the oldest episode in progress or awaiting
``get``) move to the front; if that frees less than half the rows, the capacity doubles. So
memory grows only with the longest episode (and the batch), never with the total number of
steps, and the compaction's copying costs O(1) per step on average.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass
class Finished:
    """Episodes that ended on one vector step."""

    env_ids: np.ndarray
    """Sub-envs (columns) whose episode ended, ``[n]``."""
    returns: np.ndarray
    """Their undiscounted returns ``sum_t R_{t+1}``, ``[n]`` float64."""
    lengths: np.ndarray
    """Their lengths in steps, ``[n]`` int64."""


def learnable(obs: np.ndarray, rewards: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Whether each column's ``rows`` (bool ``[T, n]``) of ``obs`` ``[T, n, ...]`` and ``rewards``
    ``[T, n]`` are finite observations with a finite float64 return, ``[n]``."""
    with np.errstate(over="ignore", invalid="ignore"):  # 1e308 + 1e308
        returns = np.where(rows, rewards, 0.0).sum(0)
    finite_obs = np.isfinite(obs).all(axis=tuple(range(2, obs.ndim))) | ~rows
    return np.isfinite(returns) & finite_obs.all(0)


def held_weakly(callback: Callable[[], None] | None) -> Callable[[], Callable[[], None] | None]:
    """``callback`` as a reference that gives it back, or None: a bound method weakly (its object
    may own whoever holds this), anything else as it is."""
    if inspect.ismethod(callback):
        return weakref.WeakMethod(callback)
    return lambda: callback


class EpisodeBuffer:
    """Per-sub-env episodes in progress plus the finished episodes awaiting an update.

    :param num_envs: number of sub-environments (columns).
    :param obs_shape: shape of one observation (``()`` for Discrete spaces).
    :param obs_dtype: numpy dtype of the observations.
    :param capacity: initial rows; grows (doubling) with the longest episode.
    :param on_grow: called after each doubling (rare: the trainer says when one episode holds a lot);
        a bound method is held weakly (a trainer's own method made the trainer and its buffer a
        cycle, which kept each finished trainer's arrays until the garbage collector ran: +33 MB of
        peak memory over three benchmark runs).
    """

    def __init__(
        self, num_envs: int, obs_shape: tuple[int, ...], obs_dtype: np.dtype, capacity: int = 512,
        on_grow: Callable[[], None] | None = None,
    ) -> None:  # fmt: skip
        self.num_envs = num_envs
        self._on_grow = held_weakly(on_grow)
        self.obs = np.zeros((capacity, num_envs, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, num_envs), dtype=np.int64)
        self.rewards = np.zeros((capacity, num_envs), dtype=np.float64)
        self.t = 0
        """Rows written; the next ``store`` writes row ``t``."""
        self.start = np.zeros(num_envs, dtype=np.int64)
        """First row of each sub-env's episode in progress."""
        self.episode_return = np.zeros(num_envs)
        """Undiscounted return of each sub-env's episode in progress so far."""
        self.done = np.zeros((16, 3), dtype=np.int64)
        """Rows ``[:num_finished]``: ``(column, first row, end row)`` of each finished episode."""
        self.num_finished = 0
        """Finished episodes awaiting :meth:`get`."""

    @property
    def nbytes(self) -> int:
        """Bytes the buffer's arrays hold."""
        return self.obs.nbytes + self.actions.nbytes + self.rewards.nbytes

    @property
    def length(self) -> np.ndarray:
        """Steps of each sub-env's episode in progress."""
        return self.t - self.start

    def store(self, obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, active: np.ndarray) -> int:
        """Append ``(S_t, A_t, R_{t+1})`` for every sub-env; where not ``active`` (an autoreset
        step, which follows the end of that sub-env's episode) the row is not a transition.
        Returns the number of transitions stored (the env steps this vector step took)."""
        row = self.t
        if row == self.obs.shape[0]:
            self._make_room()
            row = self.t
        if self.num_envs == 1:  # the common case, with plain indexing (3x cheaper than slicing)
            if not active[0]:
                return 0
            self.obs[row, 0], self.actions[row, 0], self.rewards[row, 0] = obs[0], actions[0], rewards[0]
            self.episode_return[0] += rewards[0]
            self.t = row + 1
            return 1
        self.obs[row], self.actions[row], self.rewards[row] = obs, actions, rewards
        stored = int(np.count_nonzero(active))
        if stored == self.num_envs:
            self.episode_return += self.rewards[row]
        else:
            self.start[~active] = row + 1
            np.add(self.episode_return, self.rewards[row], out=self.episode_return, where=active)
        self.t = row + 1
        return stored

    def in_progress(self, env: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Views of sub-env ``env``'s episode in progress: ``obs, actions, rewards``."""
        rows = slice(int(self.start[env]), self.t)
        return self.obs[rows, env], self.actions[rows, env], self.rewards[rows, env]

    def finish(self, env_ids: np.ndarray) -> Finished:
        """Mark the episodes in progress of ``env_ids`` (which just ended) finished; returns their
        undiscounted returns and lengths."""
        count = len(env_ids)
        if self.num_finished + count > len(self.done):
            self.done = np.concatenate([self.done, np.zeros((len(self.done) + count, 3), dtype=np.int64)])
        records = self.done[self.num_finished : self.num_finished + count]
        records[:, 0], records[:, 1], records[:, 2] = env_ids, self.start[env_ids], self.t
        self.num_finished += count
        finished = Finished(np.asarray(env_ids), self.episode_return[env_ids], records[:, 2] - records[:, 1])
        self.start[env_ids] = self.t
        self.episode_return[env_ids] = 0.0
        return finished

    def add_to_last_rewards(self, env_ids: np.ndarray, amounts: np.ndarray) -> None:
        """Add ``amounts`` to the last reward of the episodes of ``env_ids`` that :meth:`finish`
        just finished (a time-limit bootstrap, :mod:`agents.core.reinforce`); their episode
        statistics stay the env's own rewards."""
        self.rewards[self.t - 1, env_ids] += amounts

    def drop_in_progress(self) -> None:
        """Forget the episodes in progress (the envs were reset)."""
        self.start[:] = self.t
        self.episode_return[:] = 0.0

    def get(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Finished episodes end to end, in the order they ended: ``obs, actions, rewards, dones``;
        clears them."""
        batch = self._gather(self.done[: self.num_finished])
        self.num_finished = 0
        return batch

    def get_columns(self, columns: np.ndarray) -> tuple[np.ndarray, ...]:
        """The finished episodes of the columns where ``columns`` (bool ``[num_envs]``) is True,
        ordered by column (then by when they ended): ``obs, actions, rewards, dones`` and each
        step's column; the other columns' finished episodes stay."""
        taken = self._take(columns)
        return self._gather(taken[np.argsort(taken[:, 0], kind="stable")], with_columns=True)

    def discard_columns(self, columns: np.ndarray) -> None:
        """Forget the finished episodes of the columns where ``columns`` is True."""
        self._take(columns)

    def _take(self, columns: np.ndarray) -> np.ndarray:
        """Remove and return the records of the finished episodes of ``columns``."""
        records = self.done[: self.num_finished]
        chosen = columns[records[:, 0]]
        taken, kept = records[chosen], records[~chosen]
        self.done[: len(kept)] = kept
        self.num_finished = len(kept)
        return taken

    def _gather(self, records: np.ndarray, with_columns: bool = False) -> tuple[np.ndarray, ...]:
        """The episodes ``records`` (``(column, first row, end row)`` each) end to end, with one
        gather per array: the ``t``-th step of the batch, the ``k``-th of episode ``i`` (which
        starts at ``s_i``), is element ``(b_i + k, c_i)``, flat index ``(b_i - s_i) N + c_i + t N``.
        Returns ``obs, actions, rewards, dones`` and, if ``with_columns``, each step's column."""
        env, begin, end = records.T
        lengths = end - begin
        ends = np.cumsum(lengths)  # position after each episode in the flat batch
        total = int(ends[-1])
        flat = np.repeat((begin - (ends - lengths)) * self.num_envs + env, lengths)
        flat += np.arange(0, total * self.num_envs, self.num_envs)
        dones = np.zeros(total, dtype=bool)
        dones[ends - 1] = True
        obs = np.take(self.obs.reshape(-1, *self.obs.shape[2:]), flat, axis=0)  # as [flat], 10x faster
        gathered = (obs, np.take(self.actions, flat), np.take(self.rewards, flat), dones)
        return (*gathered, np.repeat(env, lengths)) if with_columns else gathered

    def finished_episodes(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Views ``(obs, actions, rewards)`` of each finished episode awaiting :meth:`get`."""
        return [
            (self.obs[begin:end, env], self.actions[begin:end, env], self.rewards[begin:end, env])
            for env, begin, end in self.done[: self.num_finished].tolist()
        ]

    def _make_room(self) -> None:
        """Move the rows still needed to the front; double the capacity if that frees too little."""
        oldest = int(min(self.start.min(), self.done[: self.num_finished, 1].min(initial=self.t)))
        capacity = self.obs.shape[0]
        grows = self.t - oldest > capacity // 2
        self._move_to_front(oldest, 2 * capacity if grows else capacity)
        callback = self._on_grow() if grows else None
        if callback is not None:
            callback()

    def _move_to_front(self, oldest: int, capacity: int) -> None:
        """Rows ``[oldest, t)`` become rows ``[0, t - oldest)`` of arrays with ``capacity`` rows."""
        kept = self.t - oldest
        for name in ("obs", "actions", "rewards"):
            old = getattr(self, name)
            new = old if capacity == old.shape[0] else np.zeros((capacity, *old.shape[1:]), old.dtype)
            new[:kept] = old[oldest : self.t]
            setattr(self, name, new)
        self.start -= oldest
        self.done[: self.num_finished, 1:] -= oldest
        self.t = kept

    def state_dict(self) -> dict[str, object]:
        """Episodes in progress and finished, for exact resume. An episode with a nan/inf
        observation or return is left out: the env's fault, which the next update refuses and a
        resumed run could only repeat (its sub-env starts that episode again from its reset)."""
        start = self.start.copy()
        rows = np.arange(int(start.min()), self.t)
        start[~learnable(self.obs[rows], self.rewards[rows], rows[:, None] >= start)] = self.t
        oldest = int(start.min())
        finished = [
            episode for episode in self.finished_episodes()
            if learnable(episode[0][:, None], episode[2][:, None], np.ones((len(episode[1]), 1), bool))[0]
        ]  # fmt: skip
        saved = {name: getattr(self, name)[oldest : self.t].copy() for name in ("obs", "actions", "rewards")}
        before_start = np.arange(oldest, self.t)[:, None] < start  # a column's rows before its episode:
        for array in saved.values():  # another's ended episode (the nan one an update refused), unread
            array[before_start] = 0
        return {
            **saved,
            "start": start - oldest,
            "finished": [[part.copy() for part in episode] for episode in finished],
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore :meth:`state_dict`: the finished episodes go end to end down column 0, the rows
        in progress after them; the returns in progress are summed again in their order."""
        finished = [[np.asarray(part) for part in episode] for episode in state["finished"]]  # type: ignore[union-attr]
        ends = np.cumsum([0, *(len(actions) for _, actions, _ in finished)])
        front, rows = int(ends[-1]), len(state["actions"])  # type: ignore[arg-type]
        capacity = self.obs.shape[0]
        while capacity <= front + rows:
            capacity *= 2
        self.t, self.start, self.num_finished = 0, np.zeros(self.num_envs, dtype=np.int64), 0
        self._move_to_front(0, capacity)
        for part, name in enumerate(("obs", "actions", "rewards")):
            array = getattr(self, name)
            for episode, begin in zip(finished, ends, strict=False):
                array[begin : begin + len(episode[part]), 0] = episode[part]
            array[front : front + rows] = np.asarray(state[name])
        self.t = front + rows
        self.start = np.asarray(state["start"]).astype(np.int64) + front
        self.done = np.zeros((max(16, len(finished)), 3), dtype=np.int64)
        self.done[: len(finished), 1], self.done[: len(finished), 2] = ends[:-1], ends[1:]
        self.num_finished = len(finished)
        in_progress = np.arange(self.t)[:, None] >= self.start  # [t, num_envs]
        summed = np.cumsum(np.where(in_progress, self.rewards[: self.t], 0.0), axis=0)  # in step order
        self.episode_return = summed[-1] if self.t else np.zeros(self.num_envs)
