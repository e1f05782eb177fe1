"""Environment construction: id checks with actionable errors, then ``gymnasium.make_vec``.

:func:`check_env_id` runs before anything is trained: an unknown id gets the closest registered
ids, a continuous action space or an unsupported observation space gets one line saying what
this project needs. :func:`make_env` builds one env, :func:`make_vector_env` the vector env (the
env's own vector entry point where it has one, e.g. CartPole; training takes the episode
statistics from its buffer, not from ``RecordEpisodeStatistics``).

A user's own env is named as ``gymnasium.make`` accepts it, ``module:EnvId-v0``: the module is
imported first (its ``register`` call runs), then the id is looked up. ``wrappers`` are the
config's ``env_wrappers``: ``{"_target_": "gymnasium.wrappers.TimeLimit", "max_episode_steps": 50}``
entries, applied in order to every env (and every sub-env of a vector env).
"""

from __future__ import annotations

import atexit
import contextlib
import difflib
import functools
import importlib
import importlib.util
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
import types
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec, parse_env_id
from gymnasium.vector.async_vector_env import AsyncState, _async_worker

import envs  # noqa: F401  (registers this project's envs)
from agents.errors import UserError, describe
from envs.kwargs import check_kwarg_types
from envs.observations import CheckedFlags, CheckedSteps, ObservationCheck, describe_env_error

ActionFeatureFn = Callable[[np.ndarray], np.ndarray]


@dataclass
class EnvInfo:
    """What the agent needs to know about an env before building anything."""

    env_id: str
    observation_space: gym.Space
    n_actions: int
    reward_threshold: float | None
    action_features: ActionFeatureFn | None
    """``obs [B] -> phi [B, A, d]`` when the env supplies its own phi(s, a)."""
    action_start: int = 0
    """The env's first action (``Discrete(n, start)``): the policy's index ``i`` is action ``start + i``."""
    action_space: gym.Space | None = None
    """The env's ``Discrete`` action space, which every env a run makes must have (None: not read)."""


def _close_ids(env_id: str) -> str:
    """`` (did you mean CartPole-v1?)``: the registered ids whose name (namespace and name, without
    the version, in any case) is ``env_id``'s, else close to it (difflib's ratio of 0.7 over the
    names: ids as a whole matched ``Nope-v0`` to Hopper-v5 on ``ope-v``, ``Foo-v9`` to Acrobot-v1),
    else that contain it; else how to list them. Spaces are dropped first (a quoted ``env=' CartPole-v1'``
    was told CartPole-v0 first, as an id with no version), and an id they alone hid is named alone."""
    env_id = "".join(env_id.split())
    if env_id in gym.registry:
        return f" (did you mean {env_id}, without the spaces?)"
    names: dict[str, list[str]] = {}  # 'cartpole' -> [CartPole-v0, CartPole-v1]
    for registered in gym.registry:
        if not _needs_missing_jax(registered):
            names.setdefault(_name_of(registered), []).append(registered)
    name = _name_of(env_id)
    close = (
        difflib.get_close_matches(name, list(names), n=3, cutoff=0.7)
        or [known for known in names if name and name in known][:3]
    )
    typed_first = functools.partial(_version_order, version=_version(env_id))
    matches = [i for known in close for i in sorted(names[known], key=typed_first)][:3]
    if matches:
        return f" (did you mean {', '.join(matches)}?)"
    return " (list the registered ids with: python -c 'import envs, gymnasium; gymnasium.pprint_registry()')"


def _needs_missing_jax(env_id: str) -> bool:
    """Whether ``env_id`` is one of Gymnasium's JAX envs (``tabular/CliffWalking-v0``, ``phys2d/...``)
    where JAX is not installed: suggested for ``CliffWalking-v0``, it then failed with "No module
    named 'jax'"."""
    entry_point = gym.registry[env_id].entry_point
    return isinstance(entry_point, str) and "Jax" in entry_point and importlib.util.find_spec("jax") is None


def _name_of(env_id: str) -> str:
    """``env_id``'s namespace and name in lower case, without its version (``ALE/Pong-v5``: ``ale/pong``)."""
    try:
        namespace, name, _ = parse_env_id(env_id)
    except gym.error.Error:  # not of Gymnasium's form (e.g. two slashes): as typed
        return env_id.lower()
    return f"{namespace}/{name}".lower() if namespace else name.lower()


def _version(env_id: str) -> int:
    """``env_id``'s version (-1 for none): of a name's ids, the one of the version typed is suggested
    first, then the newest."""
    try:
        return parse_env_id(env_id)[2] or -1
    except gym.error.Error:
        return -1


def _version_order(env_id: str, version: int) -> tuple[bool, int]:
    """A name's ids in the order they are suggested: the one of the ``version`` typed first, then
    the newest."""
    return _version(env_id) != version, -_version(env_id)


Wrappers = Sequence[Mapping[str, Any]]
"""``env_wrappers``: ``_target_`` (a dotted class or function path) and its keyword arguments."""
FLATTEN = "env_wrappers=[{_target_:gymnasium.wrappers.FlattenObservation}]"
"""The override that flattens an observation space (said where one needs it)."""


def import_user_module(module: str) -> Any:
    """``importlib.import_module`` with the working folder importable, as ``python -m`` does: a
    user's env or wrapper module there is found from any entry point."""
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.append(os.getcwd())
    return importlib.import_module(module)


def registered_id(env_id: str) -> str:
    """The registry id of ``env_id``; for ``module:EnvId-v0`` the module is imported first."""
    module, _, name = env_id.rpartition(":")
    before = set(gym.registry) if module else set()  # (what the module's import adds: _ids_of)
    if module:
        try:
            import_user_module(module)
        except (Exception, SystemExit) as error:  # ModuleNotFoundError, the user's module failing or exiting
            problem = f"cannot import {module} ({describe(error)}){_hidden(module)}"
            raise UserError(f"env={env_id}: {problem}") from None
    if name not in gym.registry:
        where = f" (importing {module} did not register it{_ids_of(module, before, name)})" if module else ""
        hidden = _hidden(module) if module else ""
        raise UserError(f"env={env_id} is not a registered Gymnasium id{where or _close_ids(name)}{hidden}")
    return name


def _ids_of(module: str, before: set[str], name: str) -> str:
    """``; it registered Ok-v0``: the ids that ``module``'s import registered (an import earlier in
    this process: the ids whose entry points are in its package, which another module may have
    registered, so the line does not say who did), the closest to ``name`` first; empty where there
    are none (``env=nsenv:Ok`` named no id it made)."""
    package = module.split(".")[0]
    ids, which = [i for i in gym.registry if i not in before], "it registered"
    if not ids:  # imported before (by another module, maybe, which registered ids of this one's envs)
        which = f"the registered ids whose envs are in {package}:"
        ids = [i for i, spec in gym.registry.items() if entry_point_module(spec).split(".")[0] == package]
    if not ids:
        return ""
    ranked = sorted(ids, key=lambda i: -difflib.SequenceMatcher(None, name, i).ratio())
    more = f" and {len(ranked) - 3} more" if len(ranked) > 3 else ""
    return f"; {which} {', '.join(ranked[:3])}{more}"


PROJECT_PACKAGES = ("agents", "envs")
"""This project's top-level packages, whose names a user's own packages cannot have beside them."""


def _hidden(module: str) -> str:
    """Where ``module`` is a file of the working folder's that another module of its name hides
    (this project's ``envs`` or ``agents`` package, or one of Python's own, ``random.py``: Python
    imported its own, which registered nothing): what to do about it; else empty."""
    top = module.split(".")[0]
    path = Path(os.getcwd(), *module.split("."))
    path = path.with_suffix(".py") if path.with_suffix(".py").is_file() else path
    if not path.exists():
        return ""
    if top in PROJECT_PACKAGES:
        return (
            f": {path.relative_to(os.getcwd())} is in a package of yours named {top}, which this project's "
            f"own {top} package hides; rename yours (e.g. my_{top}) and give env=my_{module}:..."
        )
    imported = sys.modules.get(top)
    origin = getattr(imported, "__file__", None) or "built in"  # (sys, time: no file)
    yours = Path(os.getcwd(), top).resolve()
    if imported is None or Path(origin).resolve() in (yours / "__init__.py", yours.with_suffix(".py")):
        return ""
    return (
        f": {path.relative_to(os.getcwd())} is hidden by the module {top} that Python imports instead "
        f"({origin}); rename yours (e.g. my_{top}.py) and give env=my_{module}:..."
    )


def registered_time_limit(env_id: str) -> int | None:
    """The ``max_episode_steps`` that ``env_id`` (``module:EnvId-v0`` after its import) was
    registered with; None when it has none or is not registered."""
    try:
        return gym.spec(env_id.rpartition(":")[2]).max_episode_steps
    except gym.error.Error:
        return None


TRUSTED_PACKAGES = ("gymnasium", "envs")
"""Packages whose code a stored config (a checkpoint's) may name without ``trust_code``:
Gymnasium's and this project's."""


def _trusted_module(module: str, imported: bool = True) -> bool:
    """Gymnasium's, this project's, or (``imported``) already imported: its code has run anyway."""
    return module.split(".")[0] in TRUSTED_PACKAGES or (imported and module in sys.modules)


def entry_point_module(spec: EnvSpec) -> str:
    """The module of ``spec``'s entry point (``"module:Class"``, or a callable's own)."""
    entry_point = spec.entry_point
    if isinstance(entry_point, str):
        return entry_point.partition(":")[0]
    return getattr(entry_point, "__module__", None) or "__main__"


def registering_module(env_id: str) -> str | None:
    """The module to name in ``module:EnvId-v0`` for an id that an import in this process
    registered (a user's module calling ``gymnasium.register``) and that ``env_id`` names without
    it: its entry point's module, whose import registers the id where the env and its ``register``
    call share a module or package (as ``module:EnvId-v0`` assumes). None for an id named with its
    module, not registered, Gymnasium's or this project's, or with its entry point in ``__main__``
    (a script or notebook: no other process can import it)."""
    if ":" in env_id or env_id not in gym.registry:
        return None
    module = entry_point_module(gym.spec(env_id))
    if module == "__main__" or module.split(".")[0] in TRUSTED_PACKAGES:
        return None
    return module if _names_the_id(module, gym.spec(env_id).id) else None


def _names_the_id(module: str, env_id: str) -> bool:
    """Whether importing ``module`` registers ``env_id``: its source holds the id (its ``register``
    call), or, where it does not (an id built by the code, ``register(f"Maze{n}-v0", ...)`` in a
    loop), a new Python process that imports it finds the id registered (:data:`REGISTERS_SCRIPT`,
    the import path of this one; about a second). An id registered elsewhere for that module's
    class (``register("Mine-v0", entry_point="their_pkg:Env")``) would be saved as
    ``their_pkg:Mine-v0``, whose import does not register it."""
    try:
        spec = importlib.util.find_spec(module)
        source = Path(spec.origin).read_text(errors="ignore") if spec and spec.origin else ""
    except (ImportError, ValueError, OSError):
        return False
    if env_id in source:
        return True
    if not source or os.environ.get(ID_CHECK_VARIABLE):  # (in a check's process: no check of its own)
        return False
    environment = {
        **os.environ, ID_CHECK_VARIABLE: "1",
        "PYTHONPATH": os.pathsep.join(path or os.getcwd() for path in sys.path),
    }  # fmt: skip
    try:  # its output goes nowhere; what the module starts dies with the check's process group
        quiet = subprocess.DEVNULL
        check = subprocess.Popen(
            [sys.executable, "-c", REGISTERS_SCRIPT, module, env_id], env=environment,
            stdin=quiet, stdout=quiet, stderr=quiet, start_new_session=True,
        )  # fmt: skip
    except OSError:
        return False
    try:
        return check.wait(timeout=REGISTERS_TIMEOUT) == 0
    except subprocess.TimeoutExpired:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.killpg(check.pid, signal.SIGKILL)
        check.wait()


REGISTERS_SCRIPT = (
    "import importlib, sys, gymnasium; importlib.import_module(sys.argv[1]); "
    "sys.exit(0 if sys.argv[2] in gymnasium.registry else 1)"
)
"""Run as ``python -c REGISTERS_SCRIPT <module> <id>``: exit 0 when importing the module registers the id."""
ID_CHECK_VARIABLE = "SOFTMAX_REINFORCE_ID_CHECK"
"""Set in that process: it checks no id itself, and trains nothing (a module that trains as it is
imported would train there: :func:`agents.runtime.run.train` refuses)."""
REGISTERS_TIMEOUT = 60.0
"""Seconds :func:`_names_the_id` waits for that process (a module that imports torch takes a few)."""


def code_to_trust(env_id: str, wrappers: Wrappers, imported: bool = True) -> list[str]:
    """What a stored config names that would run code from outside Gymnasium, this project and
    (``imported``; False: as a fresh process sees it) the modules already imported, as
    ``key=value`` items: the module of ``env=module:EnvId-v0`` (importing it runs it) and each
    ``env_wrappers`` target that is not a ``gymnasium.Wrapper`` class of such a module (a
    ``_target_`` may name any callable, e.g. one that starts a shell). Nothing outside those
    modules is imported to find out."""
    named = []
    module = env_id.rpartition(":")[0]
    if module and not _trusted_module(module, imported):
        named.append(f"env={env_id}")
    for index, entry in enumerate(wrappers):
        target = entry.get("_target_") if isinstance(entry, Mapping) else None
        if not isinstance(target, str) or "." not in target:
            continue  # not code: wrapper_functions says what is wrong with it
        where, _, name = target.rpartition(".")
        wrapper = None
        if _trusted_module(where, imported):
            with contextlib.suppress(ImportError):
                wrapper = getattr(importlib.import_module(where), name, None)
        if not is_wrapper_class(wrapper):
            named.append(f"env_wrappers[{index}]._target_={target}")
    return named


def wrapper_functions(wrappers: Wrappers) -> list[Callable[[gym.Env], gym.Env]]:
    """``env_wrappers`` entries -> ``env -> wrapped env`` callables (in order)."""
    functions = []
    for index, entry in enumerate(wrappers):
        kwargs = dict(entry) if isinstance(entry, Mapping) else {}
        target = kwargs.pop("_target_", None)
        if not isinstance(target, str) or "." not in target:
            raise UserError(
                f"env_wrappers[{index}] needs _target_: <module>.<Wrapper> "
                f"(e.g. gymnasium.wrappers.FlattenObservation), got {entry}"
            )
        module, _, attribute = target.rpartition(".")
        try:
            wrapper = getattr(import_user_module(module), attribute)
        except (ImportError, AttributeError) as error:
            raise UserError(f"env_wrappers[{index}]._target_={target} cannot be imported: {error}") from None
        except (Exception, SystemExit) as error:  # the user's module raised (or called sys.exit) on import
            raise UserError(
                f"env_wrappers[{index}]._target_={target} cannot be imported: {describe(error)}"
            ) from None
        if not is_wrapper_class(wrapper):  # never call anything else
            raise UserError(
                f"env_wrappers[{index}]._target_={target} is not a gymnasium.Wrapper class (got "
                f"{type(wrapper).__name__}); name one, e.g. gymnasium.wrappers.TimeLimit"
            )
        for stateful, instead in UNSAVED_STATE.items():
            if issubclass(wrapper, stateful):
                raise UserError(
                    f"env_wrappers[{index}]._target_={target} keeps running statistics that a "
                    "checkpoint does not save, so evaluate, resume= and agents.load cannot rebuild its env: "
                    f"train with {instead}"
                )
        functions.append(functools.partial(wrapper, **kwargs))
    return functions


UNSAVED_STATE: dict[type, str] = {
    gym.wrappers.NormalizeObservation: "features=normalized, whose statistics are saved",
    gym.wrappers.NormalizeReward: "agent.normalize_returns=true (each batch's own statistics)",
}
"""Gymnasium's wrappers whose state lasts across episodes (their running mean and variance), and
what does their work here; a policy trained behind one would meet other observations or rewards
when rebuilt from its checkpoint (per-episode state, e.g. ``FrameStackObservation``, is rebuilt by
the episode itself)."""


class ZeroBasedActions(gym.ActionWrapper):
    """``Discrete(n, start=s)`` actions as the policy's indices ``0 .. n-1``: ``a -> a + s``."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.start = int(env.action_space.start)
        self.action_space = gym.spaces.Discrete(int(env.action_space.n))

    def action(self, action: Any) -> Any:
        return action + self.start


class QuietClose(gym.Wrapper):
    """An async vector env's sub-env whose ``close()`` drops what the user's raises (or its
    ``sys.exit``), as :func:`close_quietly` does in this process: Gymnasium closes these itself,
    the one ``AsyncVectorEnv.__init__`` makes to read the spaces (an env whose close raised could
    not train with ``vector.mode=async``) and each worker's as it exits."""

    def close(self) -> None:
        close_quietly(self.env)


def zero_based_actions(env: gym.Env) -> gym.Env:
    """``env`` itself, or wrapped in :class:`ZeroBasedActions` when its actions start at s != 0."""
    space = env.action_space
    return ZeroBasedActions(env) if isinstance(space, gym.spaces.Discrete) and int(space.start) else env


def make_env(
    env_id: str, env_kwargs: Mapping[str, Any] | None = None, wrappers: Wrappers = (), **make_kwargs: Any
) -> gym.Env:
    """``gymnasium.make(env_id, **env_kwargs, **make_kwargs)``, then ``wrappers`` in order (and
    :func:`zero_based_actions`)."""
    env = gym.make(env_id, **{**(env_kwargs or {}), **make_kwargs})
    for wrap in wrapper_functions(wrappers):
        env = wrap(env)
    return zero_based_actions(env)


BOX2D_INSTALL = "pip install -e '.[box2d]'"
"""The README's command for Box2D (a manylinux wheel): Gymnasium's message says to build it with SWIG."""


def dependency_message(error: gym.error.DependencyNotInstalled) -> str:
    """Gymnasium's words for a missing optional dependency, with the README's install command for
    Box2D (LunarLander) in place of Gymnasium's ``pip install swig`` one."""
    text = str(error)
    if "Box2D is not installed" in text:
        return f"Box2D is not installed (install it with {BOX2D_INSTALL})"
    return text


def check_env_id(
    env_id: str, env_kwargs: Mapping[str, Any] | None = None, wrappers: Wrappers = (), new_run: bool = True
) -> EnvInfo:
    """Make one env (wrapped) to read its spaces; raise :class:`UserError` for anything we cannot train.

    :param new_run: check ``env_kwargs`` against the constructor's types (:mod:`envs.kwargs`); a
        saved run's (a resume, an evaluation) are what it trained with, and are not refused now.
    """
    name = registered_id(env_id)
    functions = wrapper_functions(wrappers)
    if new_run:
        check_kwarg_types(env_id, gym.spec(name), env_kwargs)
    try:
        probe = gym.make(env_id, **(env_kwargs or {}))
    except gym.error.DependencyNotInstalled as error:
        raise UserError(f"env={env_id} needs an optional dependency: {dependency_message(error)}") from None
    except TypeError as error:  # "got an unexpected keyword argument", "missing 1 required ... argument"
        if env_kwargs and "argument" in str(error):
            raise UserError(f"env_kwargs do not fit env={env_id}: {error}") from None
        # e.g. an entry point that returns no gymnasium.Env, an env with no observation_space
        with_kwargs = f" with env_kwargs {env_kwargs}" if env_kwargs else ""
        raise UserError(f"env={env_id} could not be made{with_kwargs}: {describe(error)}") from None
    except (Exception, SystemExit) as error:  # the env's own constructor refused its kwargs, or exited
        with_kwargs = f" with env_kwargs {env_kwargs}" if env_kwargs else ""
        raise UserError(f"env={env_id} could not be made{with_kwargs}: {describe(error)}") from None
    for index, wrap in enumerate(functions):
        try:
            probe = wrap(probe)
        except (Exception, SystemExit) as error:  # a wrapper that does not fit this env (or exits)
            problem = " ".join(str(error).split())  # one line (numpy writes a Box's bounds over several)
            problem = problem if isinstance(error, Exception) else describe(error)  # "SystemExit: 6"
            raise UserError(f"env_wrappers[{index}] does not fit env={env_id}: {problem}") from None
    action_space, observation_space = probe.action_space, probe.observation_space
    action_features = getattr(probe.unwrapped, "action_features", None)
    close_quietly(probe)
    if not isinstance(action_space, gym.spaces.Discrete):
        kind = "a continuous" if isinstance(action_space, gym.spaces.Box) else "an"
        raise UserError(
            f"env={env_id} has {kind} action space {action_space}; a softmax policy needs a "
            "Discrete action space (try env=CartPole-v1, env=Acrobot-v1 or env=MountainCar-v0)"
        )
    if isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) > 1:
        raise UserError(
            f"env={env_id} observes images/arrays (a Box of shape {observation_space.shape}, "
            f"{observation_space.dtype}); linear features need a flat "
            f"vector (add {FLATTEN} or pick a 1-D Box env)"
        )
    if isinstance(observation_space, gym.spaces.Box) and (
        observation_space.dtype.kind not in "biuf" or observation_space.dtype.itemsize > 8
    ):  # np.longdouble trained, then its checkpoint could not be saved (torch has no such dtype)
        raise UserError(
            f"env={env_id} observes a Box of dtype {observation_space.dtype}, which torch cannot hold: "
            "give its observation_space a dtype of at most 64 bits (float64, float32, an integer type)"
        )
    if (
        isinstance(observation_space, gym.spaces.Box)
        and observation_space.shape
        and not observation_space.shape[0]
    ):
        raise UserError(
            f"env={env_id} observes an empty Box {observation_space}: there is nothing to act on "
            "(its observation_space needs at least one number)"
        )
    if not isinstance(observation_space, gym.spaces.Box | gym.spaces.Discrete):
        flattenable = gym.spaces.Dict | gym.spaces.Tuple | gym.spaces.MultiDiscrete | gym.spaces.MultiBinary
        how = (  # Sequence, Graph and Text vary in size: no fixed vector to flatten to
            f"flatten it first ({FLATTEN})" if isinstance(observation_space, flattenable)
            else "it has no fixed size to flatten: wrap the env to observe a Box of fixed shape"
        )  # fmt: skip
        raise UserError(
            f"env={env_id} has observation space {type(observation_space).__name__}; supported are "
            f"Box (features=raw|normalized|polynomial|fourier|rbf|tile) and Discrete (features=onehot); {how}"
        )
    spec = gym.spec(name)
    n_actions, start = int(action_space.n), int(action_space.start)
    return EnvInfo(
        env_id, observation_space, n_actions, spec.reward_threshold, action_features, start, action_space
    )


PENDING_STEP_SECONDS = 5.0
"""How long closing an async vector env waits for a step its workers are still computing."""


def close_quietly(env: Any) -> None:
    """Close an env or vector env, dropping what a user's ``close()`` raises (``sys.exit`` too): it
    runs after the work is saved, or while a fault is reported, and must neither hide that, end
    the program nor leave a run folder locked (Gymnasium's own envs never raise there). An async
    vector env whose worker died or hangs is stopped with SIGKILL (:func:`_stop_async_workers`)."""
    base = getattr(env, "unwrapped", env)
    if isinstance(base, gym.vector.AsyncVectorEnv) and not base.closed:
        _stop_async_workers(base)
    with contextlib.suppress(Exception, SystemExit):
        env.close()


def _stop_async_workers(vector_env: gym.vector.AsyncVectorEnv) -> None:
    """Gymnasium's ``close`` waits for a pending step without end (a worker that died leaves a pipe
    its siblings hold open; one that hangs never answers) and its ``terminate`` sends SIGTERM, which
    our workers ignore (:func:`signal_safe_worker`): so wait :data:`PENDING_STEP_SECONDS` for the
    pending call, and kill the workers if one is gone or it does not come."""
    healthy = all(process.is_alive() for process in vector_env.processes)
    if healthy and vector_env._state.value != "default":  # a step (or reset) was sent and not received
        try:
            getattr(vector_env, f"{vector_env._state.value}_wait")(PENDING_STEP_SECONDS)
        except Exception:  # a timeout, a worker's error, a closed pipe
            healthy = False
    if healthy:
        return  # Gymnasium's close asks each worker to close
    for process in vector_env.processes:
        if process.is_alive():
            process.kill()
    for pipe in vector_env.parent_pipes:
        if pipe is not None:
            pipe.close()
    for process in vector_env.processes:
        process.join()
    vector_env.closed = True


def is_wrapper_class(target: Any) -> bool:
    """Whether an ``env_wrappers`` ``_target_`` is a ``gymnasium.Wrapper`` class (nothing else is called)."""
    return isinstance(target, type) and issubclass(target, gym.Wrapper)


def describe_vector_failure(vector_env: Any, error: BaseException) -> str:
    """One line for an exception out of a vector env's step: an async worker's closed pipe
    (``EOFError``) names the workers that exited (:func:`gone_workers`), a sync vector env that
    could not stack its sub-envs' observations names the one that does not fit
    (:func:`unstackable_observation`)."""
    gone = gone_workers(vector_env) if isinstance(error, EOFError | ConnectionError) else None
    return (
        gone or unstackable_observation(vector_env, error) or unpaired_reset(vector_env, error)
        or unstorable_step(vector_env, error) or describe_env_error(error)
    )  # fmt: skip


def stores_none_as_nan(vector_env: Any) -> bool:
    """Whether ``vector_env`` is Gymnasium's sync vector env, whose float64 reward array stores a
    reward of None as nan (and a numeric string as its number) before training sees it, with
    sub-envs not checked first (:class:`~envs.observations.CheckedFlags`: Gymnasium's own)."""
    unwrapped = getattr(vector_env, "unwrapped", vector_env)
    return isinstance(unwrapped, gym.vector.SyncVectorEnv) and not any(
        isinstance(env, CheckedFlags) for env in unwrapped.envs
    )


def unstorable_step(vector_env: Any, error: BaseException) -> str | None:
    """Where a sync vector env's step could not store what sub-env ``i`` returned in its arrays
    (a reward of shape ``(1,)``: ``setting an array element with a sequence``): which sub-env,
    read from Gymnasium's step frame on the failure path. None for any other failure."""
    frame = _sub_env_frame(vector_env, error, (gym.vector.SyncVectorEnv.step.__code__,), where_raised=True)
    if frame is None:
        return None
    return (
        f"sub-env {frame.f_locals['i']}'s step returned a reward, terminated or truncated that is not "
        f"one value ({describe(error)})"
    )


def _sub_env_frame(
    vector_env: Any, error: BaseException, codes: tuple[Any, ...], where_raised: bool = False
) -> Any:
    """The frame of Gymnasium's sync vector env (one of ``codes``) on ``error``'s path, holding the
    sub-env index ``i`` of its loop: the innermost such frame, or only the one ``error`` was
    raised in (``where_raised``); None for another vector env or another path."""
    if not isinstance(getattr(vector_env, "unwrapped", vector_env), gym.vector.SyncVectorEnv):
        return None
    frames = list(reversed(_frames(error)))  # innermost first
    frame = next((frame for frame in (frames[:1] if where_raised else frames) if frame.f_code in codes), None)
    return frame if frame is not None and isinstance(frame.f_locals.get("i"), int) else None


def unpaired_reset(vector_env: Any, error: BaseException) -> str | None:
    """A sync vector env's sub-env whose reset (at an autoreset) returned the observation alone, not
    Gymnasium's ``(obs, info)`` (an old gym env): unpacking it into two raised ``too many values to
    unpack (expected 2)``, said to be the step's, or split a 2-value observation, and Gymnasium's
    merging of the "info" raised ``'numpy.float32' object has no attribute 'items'``. None for any
    other failure."""
    unpacked = isinstance(error, ValueError) and "values to unpack (expected 2" in str(error)
    codes = (gym.vector.SyncVectorEnv.step.__code__, gym.vector.SyncVectorEnv.reset.__code__)
    if not (unpacked or isinstance(error, AttributeError)):
        return None
    frame = _sub_env_frame(vector_env, error, codes)
    if frame is None:
        return None
    if not unpacked and ("env_info" not in frame.f_locals or isinstance(frame.f_locals["env_info"], dict)):
        return None
    return (
        f"sub-env {frame.f_locals['i']}'s reset returned no (obs, info) pair: a Gymnasium env's reset "
        "returns both (return obs, {})"
    )


def unstackable_observation(vector_env: Any, error: BaseException) -> str | None:
    """Where a sync vector env's ``concatenate`` of the step's observations raised (numpy's
    ``Output array is the wrong shape``, ``Cannot cast array data from dtype('float64')``): which
    sub-env returned what, against the observation space. None for any other failure. Read on
    the failure path only (the observations Gymnasium kept for that step)."""
    base = getattr(vector_env, "unwrapped", vector_env)
    if not isinstance(base, gym.vector.SyncVectorEnv) or not _raised_in(error, concatenate_module()):
        return None
    check = ObservationCheck(base.single_observation_space)
    for index, obs in enumerate(getattr(base, "_env_obs", ())):
        try:
            batch = np.asarray(obs)[None]
        except ValueError:  # a ragged list
            return f"sub-env {index} returned an observation numpy cannot make an array of: {describe(error)}"
        if not check.fits(batch):
            return check.problem(f"sub-env {index} returned", batch)
    return None


def concatenate_module() -> str:
    """The module of Gymnasium's ``concatenate`` (which stacks a vector step's observations)."""
    return gym.vector.utils.concatenate.__module__


def _frames(error: BaseException) -> list[Any]:
    """The frames of ``error``'s traceback, outermost first (the last is where it raised)."""
    frames, trace = [], error.__traceback__
    while trace is not None:
        frames.append(trace.tb_frame)
        trace = trace.tb_next
    return frames


def _raised_in(error: BaseException, module: str) -> bool:
    """Whether ``error``'s traceback passes through code of ``module``."""
    return any(frame.f_globals.get("__name__") == module for frame in _frames(error))


def gone_workers(vector_env: Any) -> str | None:
    """Which of an async vector env's worker processes exited (the env called ``sys.exit`` or
    ``os._exit``, or the process crashed), with their exit codes, as one phrase; None when none
    did (or the env has no worker processes). What its closed pipe (``EOFError``) means."""
    processes = getattr(getattr(vector_env, "unwrapped", vector_env), "processes", [])
    for process in processes:
        process.join(timeout=1.0)  # the pipe closes as the process exits: let it finish
    gone = [f"{index} (exit code {process.exitcode})" for index, process in enumerate(processes)
            if process.exitcode is not None]  # fmt: skip
    if not gone:
        return None
    exited = f"async worker {', '.join(gone)} exited"
    return f"{exited}: its env called sys.exit or os._exit, or the process crashed"


def _raise_worker_error(vector_env: gym.vector.AsyncVectorEnv, successes: Iterable[bool]) -> None:
    """Gymnasium's ``AsyncVectorEnv._raise_if_errors`` without its coloured warnings: a worker
    whose env raised is shut down and its exception raised here, as there, with the worker's
    traceback attached as a note (the trainer writes it to ``train.log`` and prints one line)."""
    successes = list(successes)
    if all(successes):
        return
    errors = [vector_env.error_queue.get() for _ in range(len(successes) - sum(successes))]
    for index, *_ in errors:
        vector_env.parent_pipes[index].close()
        vector_env.parent_pipes[index] = None
    vector_env._state = AsyncState.DEFAULT
    index, error_type, value, trace = errors[-1]
    error = error_type(value)
    error.add_note(f"raised in async worker {index}:\n{trace.rstrip()}")
    raise error


def signal_safe_worker(index: int, env_fn: Callable[[], gym.Env], pipe: Any, parent_pipe: Any,
                       shared_memory: Any, error_queue: Any, *rest: Any) -> None:  # fmt: skip
    """Gymnasium's async worker, deaf to SIGINT and SIGTERM: Ctrl-C reaches the whole process
    group, and a worker that died of it mid-step would take the run down with a traceback. The
    main process decides (it saves, then closes the workers through their pipes); a worker whose
    main process is gone exits when its pipe closes, quietly (Gymnasium's worker tries to report
    the closed pipe through that same pipe, and each of hundreds printed a BrokenPipeError).

    Its env is made first: a constructor that raises (or exits) in the worker is reported as an
    error of the env's first call (:func:`_report_failed_start`); Gymnasium's worker made it
    outside its error handling, so the process printed the traceback and died, and the main
    process read a closed pipe (``ConnectionResetError``) instead of the env's error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError, EOFError):
        try:
            env = env_fn()
        except BaseException as error:  # sys.exit too; signals are ignored here
            _report_failed_start(index, error, pipe, parent_pipe, error_queue)
            return
        _async_worker(index, lambda: env, pipe, parent_pipe, shared_memory, error_queue, *rest)


def _report_failed_start(
    index: int, error: BaseException, pipe: Any, parent_pipe: Any, error_queue: Any
) -> None:
    """Answer the main process's first call (``AsyncVectorEnv`` checks the workers' spaces) with
    the error the env's constructor raised, as Gymnasium's worker reports an error of a call: the
    main process raises ``type(error)(message)``, or a ``RuntimeError`` naming the type where
    that type cannot be rebuilt from its message in another process."""
    parent_pipe.close()
    error_type, message = type(error), str(error)
    try:
        pickle.loads(pickle.dumps(error_type(message)))
    except Exception:
        error_type, message = RuntimeError, f"{type(error).__name__}: {message}"
    error_queue.put((index, error_type, message, traceback.format_exc()))
    pipe.recv()
    pipe.send((None, False))


def make_vector_env(
    env_id: str,
    num_envs: int,
    mode: str,
    env_kwargs: Mapping[str, Any] | None = None,
    wrappers: Wrappers = (),
) -> gym.vector.VectorEnv:
    """``gymnasium.make_vec`` with ``mode`` in native|sync|async.

    ``native`` uses the env's own vector implementation (``vector_entry_point``) where the
    registration has one and there are no ``wrappers`` (they wrap single envs), and falls back
    to ``sync``. Autoreset is Gymnasium's default (NEXT_STEP): the step after a ``done`` is a
    reset, which the trainer skips.
    """
    spec = gym.spec(registered_id(env_id))
    native = mode == "native" and spec.vector_entry_point is not None and not wrappers
    if mode == "native":
        mode = "vector_entry_point" if native else "sync"

    in_worker = [QuietClose, CheckedSteps] if mode == "async" else []  # (see envs.observations)
    if mode == "sync" and not _trusted_module(entry_point_module(spec), imported=False):
        in_worker = [CheckedFlags]
    single_wrappers = None if native else [*wrapper_functions(wrappers), zero_based_actions, *in_worker]

    def make() -> gym.vector.VectorEnv:
        asynchronous = mode == "async"
        in_async = {"worker": signal_safe_worker, "context": worker_start_method()} if asynchronous else None
        return gym.make_vec(
            env_id, num_envs=num_envs, vectorization_mode=mode, vector_kwargs=in_async,
            wrappers=single_wrappers, **(env_kwargs or {}),
        )  # fmt: skip

    if mode != "async":
        return make()
    return _async_vector_env(make)


def worker_start_method() -> str | None:
    """How an async vector env starts its workers: as this process's ``multiprocessing`` does
    (None), except in a joblib launcher's job, a loky worker whose own method, ``loky``, pickles the
    process object with the env's shared memory ("cannot pickle 'mmap.mmap' object": every job of
    ``hydra/launcher=joblib vector.mode=async`` failed); there the platform's default (fork on Linux)."""
    methods = multiprocessing.get_all_start_methods()  # the platform's default first
    return None if multiprocessing.get_start_method(allow_none=True) in (None, *methods) else methods[0]


def _async_vector_env(make: Callable[[], gym.vector.VectorEnv]) -> gym.vector.VectorEnv:
    """``make()`` with SIGINT/SIGTERM held until its workers have started (a signal's exception
    raised in the fork hooks was lost, or left a half-built env whose workers nobody stopped),
    and the workers stopped at exit by :func:`close_quietly`: Gymnasium's own exit-time close
    sends SIGTERM, which they ignore, and waited for them for good."""
    signals = {signal.SIGINT, signal.SIGTERM}
    held = threading.current_thread() is threading.main_thread()
    if held:
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        try:
            vector_env = make()
        except (BrokenPipeError, ConnectionResetError, EOFError):  # a worker's pipe closed as it started
            raise ChildProcessError(
                "an async worker exited while it made its env: the env's constructor called os._exit, "
                "or the process crashed"
            ) from None
        vector_env._raise_if_errors = types.MethodType(_raise_worker_error, vector_env)  # type: ignore[method-assign]
        reference = weakref.ref(vector_env)
        atexit.register(lambda: None if reference() is None else close_quietly(reference()))
    finally:
        if held:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)  # a held signal is handled now
    return vector_env
