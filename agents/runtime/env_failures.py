"""An env that fails, said in one line with nothing lost: at its start (before training, the envs
closed: :func:`start_envs`), mid-run (the last good state saved, the env's traceback kept in
``train.log``: :func:`raise_env_fault`), or with data that breaks an update (the env blamed, not
the learning rate: :func:`nonfinite_env_data`, with numpy's warnings off: :func:`env_number_warnings_off`).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch
from omegaconf import DictConfig

from agents.errors import UserError
from agents.runtime.buffer import EpisodeBuffer
from agents.runtime.run_log import TRAIN_LOG_NAME
from agents.runtime.runners import make_runner
from agents.runtime.sweep_stop import env_faults
from envs.make import EnvInfo, close_quietly
from envs.observations import (
    ObservationCheck,
    checker_finding,
    describe_env_error,
    show_warnings,
    warnings_held,
)


def env_number_warnings_off() -> np.errstate:
    """numpy's overflow warnings off, for a training loop: an env's huge rewards overflow the
    episode sums; the update's checks then name the env in one line (:func:`nonfinite_env_data`),
    not numpy's warning. (Invalid-value warnings stay on: an env's own ``sqrt`` of a negative number
    must still say so. A warnings filter for our own modules' would reset Python's once-per-place
    registries, so that an env's warning already shown at its first reset is shown again.)"""
    return np.errstate(over="ignore")


TIME_LIMIT = "{_target_:gymnasium.wrappers.TimeLimit,max_episode_steps:N} in env_wrappers"
"""The override that gives an env without one a time limit (said where one needs it)."""

LONG_EPISODE_STEPS = 2**20
"""Steps of one episode in progress past which a run says that its episodes may never end."""

log = logging.getLogger(__name__)


def warn_if_an_episode_is_long(buffer: EpisodeBuffer, env_id: str, prefix: str = "") -> bool:
    """Called as ``buffer`` grows: a warning, and True, where one episode in progress has run
    :data:`LONG_EPISODE_STEPS` steps. An env that never ended one grew the buffer (which keeps each
    episode whole until it ends) to gigabytes without a word (the end-of-run note came after);
    the buffer's size alone said it of 4,096 sub-envs' 400-step episodes."""
    longest = int(buffer.length.max())
    if longest < LONG_EPISODE_STEPS:
        return False
    log.warning(
        "%san episode has run %s steps without ending (env=%s): REINFORCE learns from whole episodes, "
        "so the episode buffer keeps each until it ends (%s MiB now) and grows with the longest; an env "
        "whose episodes never end needs a time limit (%s)",
        prefix, f"{longest:,}", env_id, f"{buffer.nbytes / 2**20:,.0f}", TIME_LIMIT,
    )  # fmt: skip
    return True


def env_named(env_id: str, wrappers: Sequence[Any] | None = ()) -> str:
    """``env=CartPole-v1`` for a fault's line; `` (with its env_wrappers)`` where the run wraps the
    env, whose wrappers may be at fault (a ``TransformReward`` given a string for ``func``)."""
    return f"env={env_id}{' (with its env_wrappers)' if wrappers else ''}"


def raise_env_fault(
    run_dir: Path, failed: str, problem: str, error: BaseException | None, finish: Callable[[], object],
    saved: str,
) -> NoReturn:  # fmt: skip
    """The env failed mid-run (``failed`` says where, ``problem`` what): write both and the env's
    traceback to ``<run_dir>/train.log``, ``finish()`` (save the last good state: the failed step
    stored nothing; flush the logs) and raise one line saying what was ``saved`` where.

    :raises UserError: always.
    """
    log = run_dir / TRAIN_LOG_NAME
    with suppress(OSError), log.open("a") as handle:
        handle.write(f"{failed}: {problem}\n")
        if error is not None:
            handle.write("".join(traceback.format_exception(error)))
    with suppress(Exception):  # a broken env may not close cleanly; the state is saved first
        finish()
    raise UserError(f"{failed}: {problem}; {saved}, the traceback in {log}") from None


def nonfinite_env_data(
    obs: np.ndarray, rewards: np.ndarray, dtype: torch.dtype = torch.float64, none_as_nan: bool = False
) -> str | None:
    """``"nan/inf observations"`` (or rewards, or both) when the env put any into this batch, or
    rewards whose sum overflows the training ``dtype``; else None: read only after a numerical
    failure, to blame the env rather than the learning rate. ``none_as_nan``: the envs are a sync
    vector env, which stores a reward of None as nan (the line then says that it may be one)."""
    bad = [name for name, values in (("observations", obs), ("rewards", rewards))
           if values.dtype.kind == "f" and not np.isfinite(values).all()]  # fmt: skip
    if bad:  # a reward of None: the other modes name it at its step (envs.observations)
        maybe_none = none_as_nan and np.isnan(rewards).any()
        none = " (vector.mode=sync stores a reward of None as nan)" if maybe_none else ""
        if obs.dtype.kind == "f" and obs.dtype.itemsize < 8 and np.isinf(obs).any():  # the env's 1e300
            kind = obs.dtype
            none += f" (or values past {kind}'s range, which a vector env's {kind} array holds as inf)"
        return f"nan/inf {' and '.join(bad)}{none}"
    name, largest = str(dtype).removeprefix("torch."), torch.finfo(dtype).max
    biggest = float(np.abs(obs).max()) if obs.dtype.kind == "f" and obs.size else 0.0
    if not biggest <= largest:  # inf once converted
        return (
            f"observations too large for {name} (largest |obs| {biggest:.3g}; agent.dtype=float64 holds them)"
        )
    with np.errstate(over="ignore"):
        total = float(np.abs(rewards).sum())
    if not total <= largest:  # (float64 holds what float32 cannot: say so, as for the observations)
        wider = (
            "; agent.dtype=float64 holds this batch's sum" if total <= torch.finfo(torch.float64).max else ""
        )
        return f"rewards too large to add up in {name} (largest |r| {np.abs(rewards).max():.3g}{wider})"
    return None


def start_envs(
    env_id: str,
    make_and_reset: Callable[[], tuple[Any, Any]],
    cfg: DictConfig | None = None,
    num_envs: int = 1,
    first: EnvInfo | None = None,
) -> tuple[Any, np.ndarray, ObservationCheck]:
    """``make_and_reset()`` -> ``(envs, first observations, the check every step's observations
    get)``; the first must be a numeric array ``[num_envs, *obs_shape]`` the space allows: whatever
    fails (the env raising, or what its reset returned) is one line, and the envs are closed. A
    vector env's reset that fails (Gymnasium's "Output array is the wrong shape" when it stacks
    its sub-envs' observations) is retold as what one of its ``num_envs`` sub-envs returns, where
    that does not fit its space (:func:`misfit_observation`).

    The warnings of the start (Gymnasium's passive env checker: "the obs returned by reset() is
    not within the observation space") are shown once the observations pass; when they do not,
    the one line says what the warning did (those of an async vector env's workers are theirs).

    ``first``: the spaces the policy was built for (the first env's), which the envs' must equal
    (:func:`spaces_problem`).

    :raises UserError: before training, so nothing is lost.
    """
    named = env_named(env_id, None if cfg is None else cfg.env_wrappers)
    with warnings_held() as start_warnings:
        try:
            envs, obs = make_and_reset()
        except UserError:
            raise
        except env_faults() as error:
            problem = None if cfg is None else misfit_observation(cfg, num_envs)
            problem = (problem or describe_env_error(error)) + checker_finding(start_warnings)
            raise UserError(f"{named} failed to start: {problem}") from None
    problem = spaces_problem(named, envs.single_observation_space, envs.single_action_space, first)
    if problem is not None:
        close_quietly(envs)
        raise UserError(problem)
    check = ObservationCheck(envs.single_observation_space)
    if check.fits(obs):
        show_warnings(start_warnings)
        return envs, obs, check
    close_quietly(envs)
    problem = check.problem("reset returned", obs) + checker_finding(start_warnings)
    raise UserError(f"{named} failed to start: {problem}")


def spaces_problem(
    named: str, observation_space: Any, action_space: Any, first: EnvInfo | None
) -> str | None:
    """The line for an env whose spaces differ from the ``first`` env's, which the policy was made
    for (an env that draws its size as it is made gave the policy observations it could not read,
    an ``IndexError`` traceback in acting; a policy of 2 actions stepped an env of 4, never taking
    the others, and was evaluated on one); None where they are the same (or ``first`` is None).
    Actions are compared by their number: the runs' envs count them from 0
    (:class:`~envs.make.ZeroBasedActions`)."""
    if first is None:
        return None
    if observation_space != first.observation_space:
        return _differs(named, "observation_space", observation_space, first.observation_space)
    if first.action_space is not None and getattr(action_space, "n", None) != first.action_space.n:
        return _differs(named, "action_space", action_space, first.action_space)
    return None


def _differs(named: str, kind: str, space: Any, wanted: Any) -> str:
    return (
        f"{named} made an env whose {kind} {space} differs from the first one's, {wanted}, which the policy "
        "was made for: each env it makes needs the same spaces"
    )


MISFITS_LOOKED_FOR = 16
"""Sub-envs :func:`misfit_observation` makes and resets at most (a slow env is made once each)."""


def misfit_observation(cfg: DictConfig, num_envs: int = 1) -> str | None:
    """What the first observation of the first of the ``num_envs`` sub-envs of ``cfg`` whose
    space does not hold it is (sub-env ``i``, a fresh env reset with seed ``cfg.seed + i``, as a
    vector env seeds it; at most :data:`MISFITS_LOOKED_FOR`); None when they all fit, or when an
    env fails otherwise."""
    for index in range(min(num_envs, MISFITS_LOOKED_FOR)):
        try:
            env = make_runner(cfg.env, 1, "native", cfg.env_kwargs, cfg.env_wrappers)
        except env_faults():
            return None
        try:
            obs = env.reset(seed=cfg.seed + index)
            check = ObservationCheck(env.single_observation_space)
            if not check.fits(obs):
                sub_env = f"sub-env {index} (reset with seed {cfg.seed + index}) returned"
                return check.problem(sub_env if index else "reset returned", obs)
        except env_faults():
            return None
        finally:
            close_quietly(env)
    return None
