"""What an env returned, checked on every step: a numeric batch ``[n, *shape]`` of its observation
space's shape, integers where the space holds integers (an int Box, or a ``Discrete(n, start)``
space, whose states are ``start .. start + n - 1``: the one-hot features of ``-1`` would silently
be the last state's, and ``n`` an ``IndexError``; ``True`` and ``False`` are the states 1 and 0, as
Gymnasium's ``Discrete.contains`` takes them and its sync vector env stores them), and a reward
that is one number.

Where Gymnasium converts a step's output before this process sees it (an async vector env writes
each sub-env's observation into shared memory with a cast, so ``1.7`` in a ``Discrete`` space
arrived as ``1``, and its ``float64`` reward array made ``None`` nan), :class:`CheckedSteps`
checks it in the sub-env's worker process, where it costs the main process nothing. A sync
vector env stores a reward of None as nan before anything here sees it (a wrapper per sub-env
measured ~9% slower steps): training names nan rewards where they break the update, saying that
None arrives so; the observations it could not stack are named on the failure path
(:func:`envs.make.unstackable_observation`).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import passive_env_checker

from agents.errors import describe


class EnvOutputError(ValueError):
    """What an env's ``reset`` or ``step`` returned does not fit (the message says what, from
    where: ``step returned reward None (NoneType), not a number``)."""


def describe_env_error(error: BaseException) -> str:
    """One line for an exception out of an env: an :class:`EnvOutputError`'s message as it is,
    anything else as :func:`~agents.errors.describe` words it."""
    return str(error) if isinstance(error, EnvOutputError) else describe(error)


PLAIN_NUMBERS = frozenset(
    {float, int, bool, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
     np.uint64, np.uint32, np.uint16, np.uint8, np.bool_}
)  # fmt: skip
"""The reward types a step returns in practice: one set lookup lets them through."""


def returned_value(value: Any) -> str:
    """``value`` as a line shows what an env returned: its repr on one line (cut at 60
    characters), its type and an array's shape: ``'1.0' (str)``."""
    shape = f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""
    shown = " ".join(repr(value).split())
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return f"{shown} ({type(value).__name__}{shape})"


def reward_number(reward: Any, source: str = "step returned") -> float:
    """``float(reward)`` for a real number (a Python or numpy scalar, or a 0-d numeric array);
    anything else (None, an array of shape ``(1,)``, a string) raises :class:`EnvOutputError`
    saying what ``source`` returned."""
    if (
        type(reward) in PLAIN_NUMBERS
        or isinstance(reward, numbers.Real)
        or (
            isinstance(reward, np.ndarray | np.generic) and reward.shape == () and reward.dtype.kind in "biuf"
        )
    ):
        try:
            return float(reward)
        except OverflowError:  # an int past float64 (10**400): "int too large to convert to float"
            raise EnvOutputError(f"{source} reward {returned_value(reward)}, past a float's range") from None
    raise EnvOutputError(f"{source} reward {returned_value(reward)}, not a number")


FLAG_TYPES = frozenset({bool, np.bool_})
"""The types of the ``terminated`` and ``truncated`` a step returns in practice."""


def flag_value(flag: Any, name: str, source: str = "step returned") -> bool:
    """``bool(flag)`` for a bool (Python's or numpy's, also a 0-d bool array) or the integer 0 or
    1; anything else raises :class:`EnvOutputError` saying what ``source`` returned as ``name``
    (``terminated`` or ``truncated``): ``None`` read as False never ended an episode, and the
    string ``"no"`` read as True ended every one."""
    if (
        type(flag) in FLAG_TYPES
        or (isinstance(flag, np.ndarray | np.generic) and flag.shape == () and flag.dtype.kind == "b")
        or (isinstance(flag, numbers.Integral) and flag in (0, 1))
    ):
        return bool(flag)
    raise EnvOutputError(f"{source} {name}={returned_value(flag)}, not a bool")


def rewards_fit(rewards: Any, num_envs: int) -> bool:
    """Whether a vector step's ``rewards`` are ``num_envs`` numbers (a vector env's own step may
    return anything; Gymnasium's sync and async envs give float64)."""
    return isinstance(rewards, np.ndarray) and rewards.shape == (num_envs,) and rewards.dtype.kind in "biuf"


def rewards_problem(rewards: Any, num_envs: int) -> str:
    """What is wrong with ``rewards`` that :func:`rewards_fit` refused."""
    if not isinstance(rewards, np.ndarray):
        return f"step returned rewards as a {type(rewards).__name__}, not an array of {num_envs} numbers"
    return (
        f"step returned rewards of shape {rewards.shape} and dtype {rewards.dtype}; "
        f"one number per sub-env ({num_envs},) is needed"
    )


@contextmanager
def warnings_held() -> Iterator[list[warnings.WarningMessage]]:
    """Within the block, the warnings Python would show are held in the list it yields instead,
    for :func:`show_warnings` to show once what the env returned is found to fit: an env's start
    holds Gymnasium's passive env checker's ("the obs returned by reset() is not within the
    observation space"), which the one line says when it does not fit. Unlike
    ``warnings.catch_warnings``, the filters and their once-per-place registries stay as they are:
    a warning shown once is not shown again at every episode."""
    held: list[warnings.WarningMessage] = []
    show = warnings.showwarning

    def hold(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: Any = None, line: str | None = None) -> None:  # fmt: skip
        held.append(warnings.WarningMessage(message, category, filename, lineno, file, line))

    warnings.showwarning = hold
    try:
        yield held
    finally:
        warnings.showwarning = show


def show_warnings(held: Sequence[warnings.WarningMessage]) -> None:
    """Show the warnings :func:`warnings_held` held, as Python would have shown them."""
    for warning in held:
        warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno,
                             warning.file, warning.line)  # fmt: skip


def hold_first_step_warnings(env: Any) -> None:
    """``env.step``'s first call holds its warnings: Gymnasium's passive env checker checks an env's
    first step only ("The reward returned by `step()` must be a float ..., actual type: <class
    'NoneType'>", its colour codes and all), and where this project refuses what that step
    returned (an :class:`EnvOutputError`), the one line says it, alone; otherwise they are shown
    as Python would have, as the second step begins: the caller's own check of what the first
    returned (an observation of the wrong shape, which the checker warned of in two lines above the
    one line) comes first; where the step raised and the checker had found why (a step of gym's old
    API, 4 values, failed to unpack), the one line adds its finding. Later calls are ``env``'s own
    ``step``, at no cost."""
    step = env.step

    def first_step(*args: Any, **kwargs: Any) -> Any:
        del env.step  # from now on the class's own
        try:
            with warnings_held() as held:
                result = step(*args, **kwargs)
        except EnvOutputError:
            raise
        except Exception as error:  # a step of gym's old API failed to unpack: say what the checker found
            finding = checker_finding(held)
            if not finding:
                show_warnings(held)
                raise
            raise EnvOutputError(f"{describe(error)}{finding}") from error
        except BaseException:
            show_warnings(held)
            raise
        if held:  # shown as the next step begins: the caller has taken this one's result by then

            def second_step(*args: Any, **kwargs: Any) -> Any:
                del env.step  # from now on the class's own
                show_warnings(held)
                return env.step(*args, **kwargs)

            env.step = second_step
        return result

    env.step = first_step


def checker_finding(held: Sequence[warnings.WarningMessage]) -> str:
    """The first warning of Gymnasium's passive env checker about what ``reset`` or ``step`` returned
    or takes, among ``held``, as a phrase to add to an env's failure at its start (``reset``
    returning the observation alone fails on unpacking it, ``too many values to unpack``, or gives
    an observation of shape ``()``; the checker had said why), or ``""`` where it gave none. Its
    warnings about the spaces (equal Box bounds) say nothing of the failure and stay shown alone."""
    checker = passive_env_checker.__file__
    for warning in held:
        text = str(warning.message).replace("\x1b[33m", "").replace("\x1b[0m", "").removeprefix("WARN: ")
        if warning.filename == checker and ("reset" in text or "step" in text):
            return f" (Gymnasium's env checker: {' '.join(text.split())})"
    return ""


def value_range(dtype: np.dtype) -> tuple[float, float]:
    """The least and the largest value a bool (0 and 1), integer or float ``dtype`` holds, as Python
    numbers (an int compared with a float16 bound overflowed it)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return 0, 1
    if dtype.kind == "f":
        return float(np.finfo(dtype).min), float(np.finfo(dtype).max)
    return int(np.iinfo(dtype).min), int(np.iinfo(dtype).max)


def first_outside(values: np.ndarray, low: float, high: float) -> Any:
    """The first of the integers ``values`` outside ``[low, high]``, else None (compared as Python
    numbers, exact for uint64 and int64 alike): the check of an observation's range and of the
    integers ``predict`` takes."""
    if not values.size or (low <= int(values.min()) and int(values.max()) <= high):
        return None
    return next(value for value in values.flat if not low <= int(value) <= high)


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
        self.kinds = "biuf" if np.dtype(space.dtype).kind in "fc" else "biu"
        """The dtype kinds an observation may have: integers for a space of integers (a float
        observation there was silently truncated by a vector env's cast, or refused by it)."""
        self.dtype = np.dtype(space.dtype) if self.states is None else None
        """A Box space's dtype, whose range an observation of another dtype must fit: the buffer
        stores it in that dtype (256 for a uint8 Box was stored as 0, and learned from as 0, while
        acting read 256; a float64 1e300 for a float32 Box became inf)."""

    def fits(self, obs: Any) -> bool:
        """Whether ``obs`` is a batch the space allows (two comparisons for a Box space's)."""
        if not (isinstance(obs, np.ndarray) and obs.shape[1:] == self.shape and obs.dtype.kind in self.kinds):
            return False
        if not obs.size:
            return True
        if self.states is None:
            return obs.dtype == self.dtype or self._outside_dtype(obs) is None
        first, end = self.states
        return obs.dtype.kind in "biu" and first <= int(obs.min()) and int(obs.max()) < end

    def _outside_dtype(self, obs: np.ndarray) -> Any:
        """The first value of ``obs`` (of another dtype) that the space's dtype cannot hold, else None:
        an integer past an integer's or a float's range, or other than 0 and 1 for a bool Box, a
        float past a narrower float's (nan, inf, fractions and a float's rounding are left to the
        other checks)."""
        dtype = self.dtype
        if dtype is None or dtype.kind not in "biuf" or obs.dtype.kind not in "iuf":
            return None
        if obs.dtype.kind == "f":
            if dtype.kind != "f" or np.finfo(obs.dtype).max <= np.finfo(dtype).max:
                return None  # (floats for integers: the kinds check, or predict's whole floats)
            with np.errstate(invalid="ignore"):
                beyond = np.abs(obs) > np.finfo(dtype).max  # (nan compares False; inf is the nan/inf check's)
            beyond &= np.isfinite(obs)
            return obs[beyond].flat[0] if beyond.any() else None
        return first_outside(obs, *value_range(dtype))

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
        if obs.dtype.kind not in self.kinds or (self.states is not None and obs.dtype.kind not in "biu"):
            return f"{source} {obs.dtype} observations; the observation_space {space} holds integers"
        if self.states is None:
            value = self._outside_dtype(obs)
            shown = value.item() if isinstance(value, np.generic) else value
            return (
                f"{source} observation {shown!r}, outside the {self.dtype} range of the observation_space "
                f"{space}"
            )
        first, end = self.states or (0, 0)
        outside = obs[(obs < first) | (obs >= end)]
        return (
            f"{source} observation {int(outside.flat[0])}, outside the observation_space {space} "
            f"(states {first}..{end - 1})"
        )


class CheckedFlags(gym.Wrapper):
    """A sync vector env's sub-env of the user's own, whose reward and end flags are checked before
    Gymnasium writes them into its float64 and bool arrays (a reward ``"1.0"`` became 1.0,
    ``terminated=None`` False and ``"no"`` True, without a word): what does not fit raises
    :class:`EnvOutputError` (:func:`reward_number`, :func:`flag_value`). Gymnasium's and this
    project's envs go without it (a wrapper per sub-env: under 0.5 us a step, measured on CartPole)."""

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        if type(reward) not in PLAIN_NUMBERS:
            reward = reward_number(reward)
        if type(terminated) not in FLAG_TYPES or type(truncated) not in FLAG_TYPES:
            terminated, truncated = flag_value(terminated, "terminated"), flag_value(truncated, "truncated")
        return obs, reward, terminated, truncated, info


class CheckedSteps(CheckedFlags):
    """An async vector env's sub-env whose ``reset`` and ``step`` outputs are checked in its
    worker, before Gymnasium casts them into shared memory and a float64 reward array: what does
    not fit (:class:`ObservationCheck`, and :class:`CheckedFlags`'s checks) raises :class:`EnvOutputError`
    there, which reaches the main process as the env's own exceptions do."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.check = ObservationCheck(env.observation_space)
        hold_first_step_warnings(self)  # in the worker: the main process's hold cannot reach it

    def _checked(self, source: str, obs: Any) -> Any:
        batch = np.asarray(obs)[None]
        if not self.check.fits(batch):
            raise EnvOutputError(self.check.problem(source, batch))
        return obs

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._checked("reset returned", obs), info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)  # the reward and flags
        return self._checked("step returned", obs), reward, terminated, truncated, info
