"""From a checkpoint to a trained agent: the one path used by resume, evaluation and the gradient
comparison.

The file is loaded with :func:`~agents.runtime.checkpoint.load_checkpoint` (no code in it runs),
its config is merged over the schema (:func:`checkpoint_config`) and the agent is rebuilt exactly
as the trainer built it (:func:`~agents.runtime.build.build_agent`), then the policy parameters
and the feature map's statistics are loaded.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from itertools import chain
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.core.baselines import RunningMeanBaseline
from agents.core.policies import POLICIES
from agents.errors import UserError, describe
from agents.features.inputs import PolicyInputs
from agents.runtime.acting import Actor, SeedActor
from agents.runtime.build import AgentParts, build_agent
from agents.runtime.checkpoint import (
    CHECKPOINT_FORMAT,
    checkpoint_file,
    interpolated_setting,
    load_checkpoint,
)
from agents.runtime.config import TrainConfig, check_seed, validate
from agents.runtime.sizes import check_agent_size
from envs.make import EnvInfo, Wrappers, check_env_id, code_to_trust
from envs.observations import ObservationCheck, first_outside, value_range

REQUIRED_KEYS = ("policy", "features", "config")
"""What every checkpoint written by the trainer holds (enough to act)."""
RESUME_KEYS = ("learner", "buffer", "envs", "counters", "recent_returns", "rng")
"""What a resume needs besides :data:`REQUIRED_KEYS`."""
RESTORE_ERRORS = (KeyError, IndexError, RuntimeError, ValueError, TypeError, OverflowError, gym.error.Error)
"""What restoring a file's state that passed :func:`check_run_state` still raises where it does not fit:
a generator's state out of range (``rng``, ``envs.episode_start``: OverflowError, gymnasium's Error)."""


def check_schema(state: object, path: str | Path, keys: tuple[str, ...] = REQUIRED_KEYS) -> None:
    """A one-line :class:`UserError` unless ``state`` looks like one of our checkpoints: a dict
    with a ``format_version`` we can read and ``keys``, holding dicts where dicts belong."""
    if not isinstance(state, dict):
        raise UserError(f"{path} holds a {type(state).__name__}, not a scripts/train.py checkpoint")
    version = state.get("format_version", 1)  # files from before the field are version 1
    if not isinstance(version, int) or not 1 <= version <= CHECKPOINT_FORMAT:
        raise UserError(
            f"checkpoint {path} has format_version {version!r}; this code reads 1..{CHECKPOINT_FORMAT}"
        )
    missing = [key for key in keys if key not in state]
    if missing:
        raise UserError(f"checkpoint {path} lacks {', '.join(missing)}: is it a scripts/train.py checkpoint?")
    wrong = [key for key in ("policy", "features", "config", "counters", "rng") if key in state
             and not isinstance(state[key], dict)]  # fmt: skip
    if wrong:
        raise UserError(f"checkpoint {path}: {', '.join(wrong)} should be a dict (the file was altered)")


def checkpoint_config(state: dict, path: str | Path, keys: tuple[str, ...] = REQUIRED_KEYS) -> DictConfig:
    """The run's config from a loaded checkpoint, merged over :class:`TrainConfig` and validated
    (an altered file is a one-line :class:`UserError`)."""
    check_schema(state, path, keys)
    interpolated = interpolated_setting(state["config"])
    if interpolated is not None:  # a run saves its config resolved
        raise UserError(
            f"checkpoint {path} has a config this code cannot read: {interpolated[0]} holds an interpolation "
            "(${...}), which a run never saves (the file was altered)"
        )
    try:
        config = OmegaConf.merge(OmegaConf.structured(TrainConfig), state["config"])
        OmegaConf.resolve(config)  # (the schema's own, e.g. experiment_name: ${env})
    except OmegaConfBaseException as error:
        raise UserError(f"checkpoint {path} has a config this code cannot read: {describe(error)}") from None
    if config.agent.policy not in POLICIES:  # a form of the user's own, whose module is not imported here
        raise UserError(unregistered_policy(path, config.agent.policy))
    try:
        validate(config, new_run=False)  # (a limit added since it was saved does not refuse it)
    except UserError as error:
        raise UserError(f"checkpoint {path} holds an invalid config: {error}") from None
    return config


def unregistered_policy(path: str | Path, policy: str) -> str:
    """The line for a checkpoint whose ``agent.policy`` no import in this process registered: a
    form of the user's own (``@register_policy("hot")`` in ``my_policies.py``) trains after its
    module is imported, and a new process knows it only once that module is imported there too."""
    return (
        f"checkpoint {path} was trained with agent.policy={policy!r}, a policy form not registered in "
        f"this process (registered: {', '.join(POLICIES)}): import the module whose "
        f'@register_policy("{policy}") defines it before agents.load (on the command line, evaluate.py '
        "and resume= cannot import it: have agents/core/policies.py import it, as it does the project's "
        "own forms)"
    )


def _not_like(value: object, built: torch.Tensor) -> str | None:
    """What ``value`` holds where ``built`` is expected, unless it is a dense tensor and, where
    ``built`` holds real floating-point numbers, one of those too (torch copies a complex tensor's
    real part, an int tensor, or fails mid-run on a sparse one); None when it fits."""
    if not isinstance(value, torch.Tensor):
        return f"a {type(value).__name__}"
    if value.layout != torch.strided:
        return f"a tensor of layout {str(value.layout).removeprefix('torch.')}"
    if value.is_meta:  # a shape without values (loading it was a RuntimeError traceback)
        return "a tensor on the meta device, which holds no values"
    if built.is_floating_point() and not value.is_floating_point():
        return f"a tensor of {str(value.dtype).removeprefix('torch.')}"
    return None


def load_matching(module: Any, saved: dict, what: str, path: str | Path, config: Any) -> None:
    """``module.load_state_dict(saved)`` after checking that every array has the shape the
    checkpoint's own config builds; a mismatch (an edited config, another env) is one line."""
    fresh = module.state_dict()
    for key, value in fresh.items():
        expected, found = getattr(value, "shape", None), getattr(saved.get(key), "shape", None)
        if key not in saved or (expected is not None and tuple(expected) != tuple(found or ())):
            arrived = "nothing" if key not in saved else f"shape {list(found or ())}"
            raise UserError(
                f"checkpoint {path} does not match its config: {what}.{key} holds {arrived}, but env="
                f"{config.env} features={config.features.name} agent.policy={config.agent.policy} "
                f"builds shape {list(expected or ())} from the env's spaces as they are now (the env "
                "changed since the run saved it, or the file was edited)"
            )
        kind = _not_like(saved[key], value) if isinstance(value, torch.Tensor) else None
        if kind:
            raise UserError(
                f"checkpoint {path} holds {kind} in {what}.{key}, where its config builds a "
                f"tensor of {str(value.dtype).removeprefix('torch.')} (the file was altered)"
            )
        if (
            isinstance(saved[key], torch.Tensor)
            and saved[key].is_floating_point()
            and not saved[key].isfinite().all()
        ):
            raise UserError(  # a run saves its last good state; nan/inf here was put there
                f"checkpoint {path} holds nan/inf in {what}.{key}: nothing can act on it "
                "(use another checkpoint)"
            )
    try:
        module.load_state_dict(saved)
    except (RuntimeError, KeyError, ValueError, TypeError) as error:
        raise UserError(f"checkpoint {path}: cannot load {what}: {describe(error, last_line=True)}") from None


def _altered(path: str | Path, entry: str, problem: str) -> UserError:
    return UserError(f"checkpoint {path} cannot be resumed: {entry} {problem} (the file was altered)")


def _is_count(value: object) -> bool:
    """A counter as a run saves it: a Python int >= 0 (not a bool, a float or a tensor)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _number(value: object) -> float | None:
    """A plain number or a real 0-d tensor as a float; None for anything else (an int too large
    for a float: 10**400)."""
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex():
        return float(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _at_least_zero(value: object) -> bool:
    number = _number(value)
    return number is not None and math.isfinite(number) and number >= 0


def _non_finite_entry(tree: object, prefix: str) -> tuple[str, str] | None:
    """The first tensor below ``tree`` (nested dicts and lists) that a run never saves, as its path
    and what it holds: a float tensor holding nan/inf, or one on the meta device (no values: its
    ``isfinite`` was a RuntimeError traceback); None if there is none."""
    if isinstance(tree, torch.Tensor):
        if tree.is_meta:
            return prefix, "holds a tensor on the meta device, which holds no values"
        return (prefix, "holds nan/inf") if tree.is_floating_point() and not tree.isfinite().all() else None
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else ()
    return next(filter(None, (_non_finite_entry(item, f"{prefix}.{key}") for key, item in items)), None)


def _comparable(value: object) -> object:
    """A param group's setting for ``==``: sequences as lists (a file holds Adam's betas as one)."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    return list(value) if isinstance(value, list | tuple) else value


def _param_ids(group: object) -> list[int] | None:
    """A saved param group's parameter ids; None unless it is a dict holding a list of ints."""
    ids = group.get("params") if isinstance(group, dict) else None
    return ids if isinstance(ids, list) and all(_is_count(index) for index in ids) else None


def _stepped_states(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """Each parameter's state (in ``state_dict``'s order) as ``optimizer`` holds it after a step:
    a twin over clones of its parameters, with its settings, stepped once on zero gradients."""
    groups = [
        {**group, "params": [param.detach().clone().requires_grad_() for param in group["params"]]}
        for group in optimizer.param_groups
    ]
    twin = type(optimizer)(groups)
    for param in chain(*(group["params"] for group in groups)):
        param.grad = torch.zeros_like(param)
    twin.step()
    states = twin.state_dict()["state"]  # SGD without momentum keeps none
    return [states.get(index, {}) for index in range(sum(len(group["params"]) for group in groups))]


def check_optimizer_state(
    optimizer: torch.optim.Optimizer, saved: object, entry: str, path: str | Path
) -> None:
    """``saved``, a checkpoint's ``optimizer.state_dict()``, fits ``optimizer`` (built from the same
    config): as many groups and parameters; each group's settings as built (every one: torch reads
    them at the update; of the flags torch fills in for older files none), ``lr`` any finite value
    >= 0 (a schedule moves it); each parameter's state none, or the entries a step of ``optimizer``
    makes (:func:`_stepped_states`; Adam's ``step``, ``exp_avg``, ``exp_avg_sq``, SGD's
    ``momentum_buffer``): real floating-point tensors of that parameter's shape, ``exp_avg_sq`` (a
    mean of squares) >= 0, ``step`` a count. torch loads a state of another shape, or for no
    parameter, without a word: the first update failed, or started afresh.

    :raises UserError: naming ``entry`` (e.g. ``learner.optimizer.state.0.exp_avg``) and the problem.
    """
    built = optimizer.state_dict()["param_groups"]
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    per_param = saved.get("state") if isinstance(saved, dict) else None
    ids = [_param_ids(group) for group in groups] if isinstance(groups, list) else []
    sizes = [len(group["params"]) for group in built]
    if not isinstance(per_param, dict) or [None if i is None else len(i) for i in ids] != sizes:
        raise _altered(path, entry, f"does not hold param_groups of {sizes} parameters and their state")
    params = dict(
        zip(chain(*ids), chain(*(group["params"] for group in optimizer.param_groups)), strict=True)
    )
    for index, (group, fresh) in enumerate(zip(groups, built, strict=True)):
        where = f"{entry}.param_groups.{index}"
        if not _at_least_zero(group.get("lr")):
            raise _altered(
                path, f"{where}.lr", f"holds {reprlib.repr(group.get('lr'))}, not a learning rate >= 0"
            )
        for key, value in fresh.items():
            if key not in group and not isinstance(value, bool | None):  # a flag: torch fills it in
                raise _altered(path, f"{where}.{key}", f"is missing; its config builds {reprlib.repr(value)}")
        for key, value in group.items():
            if key not in ("params", "lr") and key in fresh and _comparable(value) != _comparable(fresh[key]):
                raise _altered(
                    path,
                    f"{where}.{key}",
                    f"holds {reprlib.repr(value)}; its config builds {reprlib.repr(fresh[key])}",
                )
    stepped = dict(zip(params, _stepped_states(optimizer), strict=True)) if per_param else {}
    for key, state in per_param.items():
        where = f"{entry}.state.{key}"
        if key not in params or not isinstance(state, dict):
            raise _altered(path, where, "is the state of none of the agent's parameters")
        expected = stepped[key] if state else {}
        if set(state) != set(expected):
            raise _altered(path, where, f"holds {sorted(state, key=str)}; a step makes {sorted(expected)}")
        shape = list(params[key].shape)
        for name, value in state.items():
            number = _number(value)
            if name == "step":
                if not (_at_least_zero(value) and number == int(number)):
                    raise _altered(
                        path, f"{where}.step", f"holds {reprlib.repr(value)}, not a count of steps >= 0"
                    )
                continue
            if expected[name] is None:
                if value is not None:
                    raise _altered(path, f"{where}.{name}", f"holds {reprlib.repr(value)}; a step makes None")
                continue
            kind = _not_like(value, expected[name])
            if kind:
                raise _altered(path, f"{where}.{name}", f"holds {kind}, not a real floating-point tensor")
            if list(value.shape) != shape:
                raise _altered(
                    path, f"{where}.{name}", f"holds shape {list(value.shape)}, its parameter {shape}"
                )
            if name.endswith("exp_avg_sq") and bool((value < 0).any()):
                raise _altered(path, f"{where}.{name}", "holds negative values, not a mean of squares")


def check_tensors_like(built: dict, saved: object, entry: str, path: str | Path) -> None:
    """Every tensor of ``built`` (a fresh ``state_dict()``, nested dicts; an optimizer's state is
    :func:`check_optimizer_state`'s) is in ``saved``, a tensor of its shape and kind (:func:`_not_like`).

    :raises UserError: naming the entry, e.g. ``learner.baseline.mean``.
    """
    if not isinstance(saved, dict):
        raise _altered(path, entry, f"holds a {type(saved).__name__}, not a dict")
    for key, value in built.items():
        where = f"{entry}.{key}"
        if isinstance(value, dict) and key != "optimizer":
            check_tensors_like(value, saved.get(key), where, path)
        elif isinstance(value, torch.Tensor):
            found = saved.get(key)
            kind = "nothing" if key not in saved else _not_like(found, value)
            if not kind and found.shape != value.shape:
                kind = f"shape {list(found.shape)}"
            if kind:
                raise _altered(path, where, f"holds {kind}; its config builds shape {list(value.shape)}")


def check_run_state(state: dict, path: str | Path, parts: AgentParts, num_envs: int) -> None:
    """What a resume reads besides the policy and the features (:func:`load_matching`), checked
    before any of it loads and before the run folder is written to: the optimizers' states
    (:func:`check_optimizer_state`) and no nan/inf in the learner, the episodes in progress
    starting within their rows, the counters counts, the window's returns finite numbers. A run
    saves no other values; these failed mid-run (after ``config.yaml`` and an event file were
    written) or trained on from wrong numbers.

    :raises UserError: naming the checkpoint and the entry.
    """
    learner = state["learner"] if isinstance(state["learner"], dict) else {}
    optimizers = [("learner.optimizer", parts.learner.optimizer, learner.get("optimizer"))]
    value_optimizer = getattr(parts.learner.baseline, "optimizer", None)  # agent.baseline=value's
    if isinstance(value_optimizer, torch.optim.Optimizer):
        baseline = learner.get("baseline")
        saved = baseline.get("optimizer") if isinstance(baseline, dict) else None
        optimizers.append(("learner.baseline.optimizer", value_optimizer, saved))
    for entry, optimizer, saved in optimizers:
        check_optimizer_state(optimizer, saved, entry, path)
    check_tensors_like(parts.learner.baseline.state_dict(), learner.get("baseline"), "learner.baseline", path)
    if isinstance(parts.learner.baseline, RunningMeanBaseline):  # count: returns averaged so far
        count = learner["baseline"]["count"]
        if not (count >= 0 and count == count.floor()):
            raise _altered(
                path, "learner.baseline.count", f"holds {reprlib.repr(count)}, not a count of returns >= 0"
            )
    non_finite = _non_finite_entry(learner, "learner")
    if non_finite:
        raise _altered(path, *non_finite)
    buffer = state["buffer"] if isinstance(state["buffer"], dict) else {}
    actions, start = buffer.get("actions"), buffer.get("start")
    rows = len(actions) if isinstance(actions, torch.Tensor) and actions.ndim else 0
    if (
        not isinstance(start, torch.Tensor)
        or start.is_floating_point()
        or list(start.shape) != [num_envs]
        or not bool(((start >= 0) & (start <= rows)).all())
    ):
        raise _altered(
            path, "buffer.start", f"holds {reprlib.repr(start)}, not {num_envs} row(s) in 0..{rows}"
        )
    # a run stores only what its checks let through (nan/inf observations and rewards end it): such
    # values here were blamed on the env, and the save after that failure replaced this file
    non_finite = _non_finite_entry({key: buffer.get(key) for key in ("obs", "rewards", "finished")}, "buffer")
    non_finite = non_finite or _non_finite_entry(state.get("rng"), "rng")  # the actor's unused noise too
    if non_finite:
        raise _altered(path, *non_finite)
    counters = state["counters"]
    for key in ("env_steps", "episodes", "updates", "next_log_step", "next_checkpoint"):
        value = counters.get(key)  # next_log_step: older files lack it; next_checkpoint: None without
        if not _is_count(value) and not (value is None and key in ("next_log_step", "next_checkpoint")):
            raise _altered(path, f"counters.{key}", f"holds {reprlib.repr(value)}, not a count >= 0")
    elapsed, best = counters.get("elapsed_seconds"), counters.get("best_mean_return")
    if not _at_least_zero(elapsed):
        raise _altered(path, "counters.elapsed_seconds", f"holds {reprlib.repr(elapsed)}, not seconds >= 0")
    best_return = _number(best)
    if best_return is None or math.isnan(best_return) or best_return == math.inf:  # -inf: none yet
        raise _altered(path, "counters.best_mean_return", f"holds {reprlib.repr(best)}, not a mean return")
    reached = counters.get("reached_target")  # the target the run reached, or None
    reached_value = _number(reached)
    if reached is not None and (reached_value is None or not math.isfinite(reached_value)):
        raise _altered(path, "counters.reached_target", f"holds {reprlib.repr(reached)}, not a target")
    evaluation = state.get("evaluation")
    for key in ("count", "next_step") if isinstance(evaluation, dict) and evaluation else ():
        if not _is_count(evaluation.get(key)):
            raise _altered(
                path, f"evaluation.{key}", f"holds {reprlib.repr(evaluation.get(key))}, not a count >= 0"
            )
    returns = state["recent_returns"]
    if not isinstance(returns, list):
        raise _altered(path, "recent_returns", f"holds a {type(returns).__name__}, not a list of returns")
    for index, value in enumerate(returns):
        number = _number(value)
        if number is None or not math.isfinite(number):
            raise _altered(
                path, f"recent_returns.{index}", f"holds {reprlib.repr(value)}, not a finite return"
            )


def refuse_untrusted_code(
    env_id: str, wrappers: Wrappers, path: str | Path, caller_env: str | None = None,
    trust: str = "trust_code=true (agents.load(..., trust_code=True))",
) -> None:  # fmt: skip
    """A checkpoint is data, but its config names the env's module and the wrappers' targets,
    which making the env would import and call: refuse any outside Gymnasium, this project and the
    modules already imported (:func:`~envs.make.code_to_trust`) unless the caller trusts the file.

    :param caller_env: the env the caller named (``env=my_envs:Slow-v0 resume=<run>``): where it is
        the checkpoint's, its module is the caller's choice, which a new run would import as well;
        None where nothing is resumed (the line then offers no ``env=``).
    :param trust: what to add to trust the file (a resumed training run's ``trust_code=true``).
    :raises UserError: naming each and how to trust it.
    """
    named = [item for item in code_to_trust(env_id, wrappers) if item != f"env={caller_env}"]
    if named:
        how = f"add {trust} or import that module first"
        if caller_env is not None and named == [f"env={env_id}"]:  # a resume: the command line's own way
            how = (
                f"name its env yourself, as a new run does (env={env_id} resume={path}), add {trust}, "
                "or in Python import that module first"
            )
        raise UserError(
            f"checkpoint {path} names code from outside Gymnasium and this project ({'; '.join(named)}), "
            f"which rebuilding its env would run; if you trust the file, {how}"
        )


def refuse_unregistered_env(env_id: str, path: str | Path) -> None:
    """A checkpoint's env id without its module (``module:EnvId-v0``) that nothing here has
    registered: a user's module did, imported where the run trained (:func:`with_env_module
    <agents.runtime.run.with_env_module>` names it in runs trained since). One line on how to
    register it, where the generic one offered close Gymnasium ids."""
    if ":" in env_id or env_id in gym.registry:
        return
    raise UserError(
        f"checkpoint {path} names env={env_id}, which is not registered here: if a module imported where it "
        "was trained registered it, import that module first (in Python, before agents.load, or agents.train "
        f"with resume=); from the command line, train with env=<module>:{env_id}, which evaluate.py and "
        "resume= then import themselves (with trust_code=true)"
    )


def agent_from_checkpoint(
    state: dict, path: str | Path, device: torch.device | str = "cpu", trust_code: bool = False
) -> tuple[TrainConfig, EnvInfo, AgentParts]:
    """Rebuild the trained agent of a loaded checkpoint on ``device``; returns its config (plain
    dataclasses), its env's info and the agent. The code its config names runs only if it is
    Gymnasium's, this project's, already imported, or ``trust_code`` (:func:`refuse_untrusted_code`)."""
    config: TrainConfig = OmegaConf.to_object(checkpoint_config(state, path))
    if not trust_code:
        refuse_untrusted_code(config.env, config.env_wrappers, path)
    refuse_unregistered_env(config.env, path)
    info = check_env_id(config.env, config.env_kwargs, config.env_wrappers, new_run=False)
    check_agent_size(config.features, config.agent, info, f"the agent of checkpoint {path}")
    parts = build_agent(config, info, device)
    load_matching(parts.policy, state["policy"], "policy", path, config)
    load_matching(parts.inputs.feature_map, state["features"], "features", path, config)
    return config, info, parts


class TrainedAgent:
    """A trained policy that acts (``agents.load(run_dir).predict(obs)``, as SB3's ``model.predict``).

    :param config: the config the run was trained with (plain dataclasses).
    :param observation_space: the env's observation space (tells one observation from a batch).
    :param inputs: observations -> what the policy reads (the trained feature map).
    :param actor: samples ``A ~ pi(.|s)`` (numpy; its own seeded generator) or acts greedily.
    :param checkpoint: the file the agent was loaded from (None: a training run's live policy).
    :param action_start: the env's first action (``Discrete(n, start)``), added by :meth:`predict`.
    """

    def __init__(
        self, config: TrainConfig, observation_space: gym.Space, inputs: PolicyInputs, actor: SeedActor,
        checkpoint: Path | None = None, action_start: int = 0,
    ) -> None:  # fmt: skip
        self.config, self.observation_space = config, observation_space
        self.inputs, self.actor, self.checkpoint = inputs, actor, checkpoint
        self.action_start = action_start
        self.observation_check = ObservationCheck(observation_space)

    def predict(self, obs: np.ndarray | int, deterministic: bool = True) -> int | np.ndarray:
        """The env's action for ``obs`` (what ``env.step`` takes): ``argmax_a pi(a|s)`` when
        ``deterministic``, else a sample.

        :param obs: one observation (shape of the observation space; an int for Discrete) or a
            batch ``[B, *shape]``.
        :return: an ``int`` for one observation, an int64 array ``[B]`` for a batch.
        """
        return self.action_start + self.action_index(obs, deterministic)

    def action_index(self, obs: np.ndarray | int, deterministic: bool = True) -> int | np.ndarray:
        """:meth:`predict` as the policy's index ``0 .. n-1`` (for an env wrapped in
        :class:`~envs.make.ZeroBasedActions`, as evaluation's is)."""
        if not isinstance(deterministic, bool | np.bool_):  # "no" would act greedily
            raise UserError(f"deterministic={deterministic!r} must be True or False (a bool)")
        if isinstance(obs, torch.Tensor):
            obs = tensor_as_numpy(obs, f"env={self.config.env}")
        shape = self.observation_space.shape or ()
        wanted = f"observations of shape {shape} for {self.config.env}"
        if isinstance(obs, tuple | list) and len(obs) == 2 and isinstance(obs[1], Mapping):  # list(reset())
            raise UserError(
                f"predict got a {type(obs).__name__} (obs, info), as env.reset() returns them: pass its obs "
                f"({wanted})"
            )
        if isinstance(obs, Mapping):  # numpy made it an object scalar: "got shape ()"
            raise UserError(
                f"predict got a {type(obs).__name__} of keys {reprlib.repr(list(obs))}, not {wanted}"
                f"{self._wrappers_hint()}"
            )
        try:
            obs = np.asarray(obs)
        except ValueError as error:  # a ragged list: [[1, 2, 3, 4], [1, 2]]
            raise UserError(
                f"predict got observations numpy cannot stack ({error}) (env={self.config.env})"
            ) from None
        if obs.dtype.kind in "OSUV":  # None, text: no number at all
            raise UserError(f"predict got {reprlib.repr(obs.tolist())}, not {wanted}")
        single = obs.shape == shape
        batch = obs[None] if single else obs
        if batch.shape[1:] != shape or batch.ndim != len(shape) + 1:
            batch_shape = ", ".join(["B", *map(str, shape)])  # [B] for a Discrete space, [B, 4]
            raise UserError(
                f"predict expects one observation of shape {shape} or a batch [{batch_shape}] "
                f"for {self.config.env}, got shape {obs.shape}{self._wrappers_hint()}"
            )
        batch = whole_floats_as(self.observation_space.dtype, batch, f"env={self.config.env}")
        if not self.observation_check.fits(batch):
            raise UserError(f"{self.observation_check.problem('predict got', batch)} (env={self.config.env})")
        if batch.dtype.kind == "f" and not np.isfinite(batch).all():
            raise UserError(
                f"predict got nan/inf observations (env={self.config.env}); no action is defined for them"
            )
        features = self.inputs(batch)
        with np.errstate(over="ignore", invalid="ignore"):  # numpy's RuntimeWarning, then an action
            logits = self.actor.logits(features)  # from nan preferences: 1e308 in a float32 Box,
        if not np.isfinite(logits).all():  # which training refuses (it overflows the update)
            biggest = float(np.abs(batch).max()) if batch.dtype.kind in "biuf" else math.nan
            raise UserError(
                f"predict got observations whose action preferences overflow (largest |obs| {biggest:.3g}): "
                f"no action is defined for them (env={self.config.env})"
            )
        actions = np.argmax(logits, axis=-1) if deterministic else self.actor(features)  # (greedy's argmax)
        return int(actions[0]) if single else actions

    def _wrappers_hint(self) -> str:
        """For an observation of another shape: the run's ``env_wrappers``, which made its shape."""
        if not self.config.env_wrappers:
            return ""
        targets = ", ".join(str(wrapper.get("_target_", "?")) for wrapper in self.config.env_wrappers)
        return f" (the run's env_wrappers, {targets}, made its observations: give them as those return them)"


def whole_floats_as(dtype: np.dtype | None, batch: np.ndarray, where: str) -> np.ndarray:
    """``batch`` in an integer or bool ``dtype`` (an integer or bool Box's, a Discrete's) where it
    holds floats of whole values (``[1.0, 2.0]`` from a float computation, or a float tensor, was
    refused as no integers); otherwise as it is. Whole values outside ``dtype``'s range, floats or
    integers (256 for a uint8 Box, 2 for a bool one, which no env of that space returns), are a
    :class:`UserError` (``where``: the env, for it), not "float64 observations"."""
    if dtype is None or np.dtype(dtype).kind not in "biu" or batch.dtype.kind not in "fiu":
        return batch
    low, high = value_range(dtype)
    if batch.dtype.kind in "iu":
        outside = first_outside(batch, low, high)
        if outside is not None:
            raise UserError(_outside_range(str(int(outside)), dtype, (low, high), where))
        return batch
    values = batch.astype(np.float64)  # (float16 against int64's range overflowed)
    if not values.size:
        return batch.astype(dtype)
    if not (np.isfinite(values).all() and (values == np.round(values)).all()):
        return batch  # fractions, nan, inf: the observation check's line
    # high + 1 is a power of two, exact in float64 (int64's max rounds up)
    outside = values[(values < float(low)) | (values >= float(high) + 1)]
    if outside.size:
        raise UserError(_outside_range(f"{outside[0]:.6g}", dtype, (low, high), where))
    return batch.astype(dtype)


def _outside_range(value: str, dtype: np.dtype, span: tuple[float, float], where: str) -> str:
    """The line for an observation ``value`` that ``dtype`` (values ``span``) cannot hold."""
    return (
        f"predict got {value}, outside the {dtype} range [{span[0]}, {span[1]}] of the observations ({where})"
    )


def tensor_as_numpy(tensor: torch.Tensor, where: str) -> np.ndarray:
    """A tensor's values in numpy: dense and on the CPU first, numpy's nearest dtype for those it
    lacks (bfloat16 -> float32); one that holds no values here (meta, nested) is a UserError."""
    try:
        tensor = tensor.detach()
        tensor = tensor.to_dense() if tensor.layout != torch.strided else tensor
        tensor = tensor.float() if tensor.dtype == torch.bfloat16 else tensor
        return tensor.cpu().numpy()
    except (RuntimeError, NotImplementedError, TypeError) as error:
        raise UserError(
            f"predict cannot read this tensor ({tensor.layout}, {tensor.dtype}, on {tensor.device}): "
            f"{describe(error)}; give a dense tensor on the CPU, or a numpy array ({where})"
        ) from None


def load_agent(
    checkpoint: str | Path, which: str = "latest", seed: int = 0, trust_code: bool = False
) -> TrainedAgent:
    """Resolve ``checkpoint`` (run folder or file), load it safely and rebuild the trained agent on
    the CPU, whatever device it was trained on (acting runs in numpy).

    :param which: for a run folder, ``latest`` (checkpoint.pt) or ``best`` (checkpoint_best.pt).
    :param seed: seeds the generator that ``predict(obs, deterministic=False)`` samples with.
    :param trust_code: import and call whatever the checkpoint's config names (its env's module,
        its wrappers), not only Gymnasium's, this project's and the modules already imported.
    """
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool):  # np.arange's too, as train's
        raise UserError(f"seed={seed!r} must be an int (it seeds predict's sampling)")
    seed = int(seed)
    check_seed(seed)
    if not isinstance(trust_code, bool | np.bool_):  # "false" is a true value: never trust by it
        raise UserError(f"trust_code={trust_code!r} must be True or False (a bool)")
    path = checkpoint_file(checkpoint, which)
    config, info, parts = agent_from_checkpoint(load_checkpoint(path), path, trust_code=trust_code)
    actor = Actor.for_policy(parts.policy, np.random.default_rng(seed))
    return TrainedAgent(config, info.observation_space, parts.inputs, actor, path, info.action_start)
