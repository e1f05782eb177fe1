"""Envs for tests/test_faults.py: every observation/action space Gymnasium's Discrete and Box
allow, and envs that break mid-run. Importing the module registers them (``fault/<name>-v0``), so
``env=fault_envs:fault/Raises-v0`` works from a subprocess too (the tests folder on the path)."""

from __future__ import annotations

import math
import multiprocessing
import os
import sys
import warnings
from typing import Any

import gymnasium as gym
import numpy as np

EPISODE_STEPS = 20


class SpaceEnv(gym.Env):
    """Observations drawn from ``observation_space``; the episode ends after 20 steps; an action
    outside ``action_space`` (e.g. 0 for ``Discrete(3, start=1)``) raises."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space | None = None) -> None:
        self.observation_space = observation_space
        self.action_space = action_space or gym.spaces.Discrete(2)
        self.t = 0

    def _obs(self) -> Any:
        self.observation_space.seed(int(self.np_random.integers(2**31)))
        return self.observation_space.sample()

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        self.t += 1
        return self._obs(), float(action == self.action_space.start), self.t >= EPISODE_STEPS, False, {}


class GrowingEnv(SpaceEnv):
    """Each instance one state larger (``Discrete(4)``, ``Discrete(5)``, ...), as a maze whose size
    is drawn when it is made; ``made`` counts the instances in this process."""

    made = 0

    def __init__(self) -> None:
        GrowingEnv.made += 1
        super().__init__(gym.spaces.Discrete(3 + GrowingEnv.made))


class FaultyEnv(SpaceEnv):
    """A 4-dim Box env that misbehaves at its ``at``-th step call (counted per process);
    ``endless`` never ends an episode (and has no time limit)."""

    calls = 0
    instances = 0
    """Envs made in this process (``twoinstances``: the third raises, as a licence limit would)."""

    def __init__(self, fault: str, at: int = 150) -> None:
        FaultyEnv.instances += 1
        if fault == "twoinstances" and FaultyEnv.instances > 2:
            raise OSError(f"the licence allows 2 instances; this is instance {FaultyEnv.instances}")
        discrete = fault in (
            "outside",
            "negative",
            "fraction",
            "boolstate",
        )  # a Discrete(4) state out of range: 9, -1, 1.7; boolstate: True, which Gymnasium takes as 1
        integers = fault == "intfloats"  # an int64 Box given floats
        super().__init__(
            gym.spaces.Discrete(4) if discrete
            else gym.spaces.Box(-5, 5, (4,), np.int64) if integers
            else gym.spaces.Box(0, 255, (4,), np.uint8) if fault == "wrapint"  # given int64 256
            else gym.spaces.Box(-1e300, 1e300, (4,), np.float64) if fault == "hugeobs"  # inf in float32
            else gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        )  # fmt: skip
        self.fault, self.at = fault, at
        self.first_seed: int | None = None
        if fault.startswith("worker") and multiprocessing.current_process().name != "MainProcess":
            if fault == "workerexit":
                sys.exit(4)
            if fault == "workercrash":
                os._exit(5)
            raise OSError("the simulator cannot start in a forked process")  # an async worker's env

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        if self.fault == "reset":
            raise RuntimeError("the simulator did not start")
        if self.fault == "keyboardreset":
            raise KeyboardInterrupt  # no signal came
        if self.first_seed is None:
            self.first_seed = seed
        obs, info = super().reset(seed=seed, options=options)
        if self.fault == "warnreset":  # a warning at every reset, shown once where Python shows it once
            warnings.warn("the simulator runs slow", UserWarning, stacklevel=1)
        if self.fault == "outofbox":  # the right shape, outside the Box: trains, with Gymnasium's warning
            obs = np.full_like(obs, 2.0)
        self.resets = getattr(self, "resets", 0) + 1
        misfit = (
            self.fault == "resetshape"
            or (self.fault == "resetshapeseed1" and seed == 1)  # sub-env 1
            or (self.fault == "laterresetshape" and self.resets > 1)  # after the first episode
        )
        self.returned: list[np.ndarray] = [np.array(obs)]  # (copies) what it returned, in order
        if self.fault == "obsonlyreset" or (self.fault == "laterobsonlyreset" and self.resets > 1):
            return obs  # as gym < 0.26's reset: the observation alone
        return (obs[:3] if misfit else self._one_array(obs)), info

    def _one_array(self, obs: Any) -> Any:
        """``inplace``: every observation written into one array, returned each time (as some
        simulators do, and Gymnasium allows)."""
        if self.fault != "inplace":
            return obs
        if not hasattr(self, "array"):
            self.array = np.zeros_like(obs)
        self.array[:] = obs
        return self.array

    def close(self) -> None:
        if self.fault == "close":
            raise RuntimeError("the simulator did not shut down")
        super().close()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        FaultyEnv.calls += 1
        obs, reward, terminated, truncated, info = super().step(action)
        if self.fault == "fourtuple":  # gym < 0.26's step: one done flag
            return obs, reward, terminated or truncated, info  # type: ignore[return-value]
        if self.fault == "endless":
            terminated = False
        if FaultyEnv.calls >= self.at:
            if self.fault == "raise":
                raise RuntimeError("physics exploded")
            if self.fault == "exit":
                sys.exit(3)  # a simulator that quits the process
            if self.fault == "keyboard":
                raise KeyboardInterrupt  # no signal came: the simulator's own (a bug, or a C extension's)
            if self.fault == "crash":
                os._exit(3)  # a simulator that dies (run it in an async vector env's worker only)
            if self.fault == "nanobs":
                obs = np.full_like(obs, np.nan)
            if self.fault == "hugereward":
                reward = 1e308  # finite, but no float sum of two of them is
            if self.fault == "nanreward":
                reward = math.inf
            if self.fault == "notanumber":
                reward = math.nan
            if self.fault == "bigreward":
                reward = 1e300  # finite, and so is a return of 20 of them: too many digits to print
            if self.fault == "hugereturn":  # episodes of 500 steps (its time limit) of 1e306: their
                terminated, reward = False, 1e306  # discounted returns fit float64, their sums do not
            if self.fault == "shape":
                obs = obs[:3]
            if self.fault == "longer":
                obs = np.concatenate([obs, obs[:1]])  # 5 values in a Box of shape (4,)
            if self.fault == "nonereward":
                reward = None
            if self.fault == "evalnonereward" and self.first_seed:  # only where the first reset's seed
                reward = None  # is not 0 (or None): training's single env passes, the evaluation env not
            if self.fault == "evalnanreward" and self.first_seed:  # as evalnonereward
                reward = math.nan
            if self.fault == "arrayreward":
                reward = np.array([reward])
            if self.fault == "fraction":
                obs = 1.7
            if self.fault == "boolstate":
                obs = True
            if self.fault == "intfloats":
                obs = np.array([1.5, 2.5, 3.5, 0.5])
            if self.fault == "wrapint":  # stored as the uint8 0, acted on as 256
                obs = np.array([3, 256, 0, 1])
            if self.fault == "beyondfloat":  # finite, but inf in the float32 Box's dtype
                obs = np.array([0.5, 1e300, 0.0, 0.0])
            if self.fault == "dtype":
                obs = np.array(["a", "b", "c", "d"], dtype=object)
            if self.fault in ("outside", "negative"):
                obs = 9 if self.fault == "outside" else -1
            if self.fault == "noneterminated":
                terminated = None  # was read as False: no episode ever ended
            if self.fault == "strtruncated":
                truncated = "no"  # was read as True: every step ended an episode
        self.returned.append(np.array(obs))
        return self._one_array(obs), reward, terminated, truncated, info


BOX = gym.spaces.Box
SPACES: dict[str, tuple[gym.Space, gym.Space | None]] = {
    "DiscreteStart-v0": (gym.spaces.Discrete(5, start=-2), None),
    "DiscreteStart3-v0": (gym.spaces.Discrete(4, start=3), gym.spaces.Discrete(3, start=1)),
    "BoxInf-v0": (BOX(-np.inf, np.inf, (3,), np.float32), None),
    "BoxHalfInf-v0": (BOX(np.array([0.0, -np.inf]), np.array([np.inf, 1.0]), dtype=np.float64), None),
    "BoxInt-v0": (BOX(-5, 5, (3,), np.int64), None),
    "BoxUint8-v0": (BOX(0, 255, (4,), np.uint8), None),
    "BoxBool-v0": (BOX(0, 1, (3,), bool), None),
    "BoxFloat16-v0": (BOX(-1, 1, (2,), np.float16), None),
    "BoxScalar-v0": (BOX(-1.0, 1.0, (), np.float32), None),
    "BoxEmpty-v0": (BOX(-1.0, 1.0, (0,), np.float32), None),
    "BoxOne-v0": (BOX(-1.0, 1.0, (1,), np.float64), gym.spaces.Discrete(4, start=-1)),
    "BoxConstant-v0": (BOX(np.array([-1.0, 2.0]), np.array([1.0, 2.0]), dtype=np.float64), None),  # lo == hi
    "BoxLongdouble-v0": (BOX(-1.0, 1.0, (3,), np.longdouble), None),
    "Huge-v0": (gym.spaces.Discrete(10**12), None),
    "HugeActions-v0": (BOX(-1.0, 1.0, (4,), np.float32), gym.spaces.Discrete(10**9)),
}
for _name, (_obs, _act) in SPACES.items():
    if f"fault/{_name}" not in gym.registry:
        gym.register(
            f"fault/{_name}", entry_point=SpaceEnv, kwargs={"observation_space": _obs, "action_space": _act}
        )
_STEP_FAULTS = ("raise", "exit", "keyboard", "shape", "longer", "dtype", "outside", "negative", "fraction",
                "intfloats", "wrapint", "beyondfloat")  # fmt: skip
_RUN_FAULTS = ("reset", "keyboardreset", "resetshape", "resetshapeseed1", "outofbox", "warnreset", "nanobs",
               "nanreward", "hugeobs",
               "hugereward", "endless", "close", "crash", "nonereward", "evalnonereward", "evalnanreward",
               "arrayreward", "notanumber", "bigreward", "noneterminated", "strtruncated",
               "inplace", "workerinit", "workerexit", "workercrash", "twoinstances",
               "laterresetshape", "obsonlyreset", "laterobsonlyreset", "boolstate", "fourtuple")  # fmt: skip
for _fault in (*_STEP_FAULTS, *_RUN_FAULTS):
    _id = f"fault/{_fault.capitalize()}-v0"
    if _id not in gym.registry:
        gym.register(_id, entry_point=FaultyEnv, kwargs={"fault": _fault})


if "fault/FirstNonereward-v0" not in gym.registry:  # at the first step, which Gymnasium's checker checks
    gym.register("fault/FirstNonereward-v0", entry_point=FaultyEnv, kwargs={"fault": "nonereward", "at": 1})
if "fault/FirstShape-v0" not in gym.registry:  # an observation of the wrong shape at the first step too
    gym.register("fault/FirstShape-v0", entry_point=FaultyEnv, kwargs={"fault": "shape", "at": 1})


if "fault/Hugereturn-v0" not in gym.registry:
    gym.register(
        "fault/Hugereturn-v0",
        entry_point=FaultyEnv,
        kwargs={"fault": "hugereturn", "at": 0},
        max_episode_steps=500,
    )


if "fault/EndlessLimited-v0" not in gym.registry:  # never terminates; its time limit ends episodes
    gym.register(
        "fault/EndlessLimited-v0", entry_point=FaultyEnv, kwargs={"fault": "endless"}, max_episode_steps=100
    )


if "fault/Growing-v0" not in gym.registry:
    gym.register("fault/Growing-v0", entry_point=GrowingEnv)


class MoreActionsEnv(SpaceEnv):
    """Two actions in the first ``same`` instances, then one more in each (``made`` counts them)."""

    made = 0

    def __init__(self, same: int) -> None:
        MoreActionsEnv.made += 1
        super().__init__(
            BOX(-1.0, 1.0, (2,), np.float32), gym.spaces.Discrete(2 + max(0, MoreActionsEnv.made - same))
        )


for _same in (1, 2):  # MoreActions-v0: the first env made for training differs; MoreActions2-v0: the next
    _id = f"fault/MoreActions{_same if _same > 1 else ''}-v0"
    if _id not in gym.registry:
        gym.register(_id, entry_point=MoreActionsEnv, kwargs={"same": _same})


def _not_an_env(**kwargs: Any) -> int:
    return 42  # an entry point that returns something else than a gymnasium.Env


if "fault/ReturnsInt-v0" not in gym.registry:
    gym.register("fault/ReturnsInt-v0", entry_point=_not_an_env)
