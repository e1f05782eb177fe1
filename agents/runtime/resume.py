"""What a resumed run may change: the budget and the learning hyperparameters, not the experiment.

``python scripts/train.py resume=<run dir> budget.total_env_steps=400000 agent.lr=0.05`` continues
the run from its checkpoint with those two values changed (each change is printed and logged to
TensorBoard). Keys that fix what the checkpoint's arrays *are* (the env, the feature map, the
policy form, the dtype, the optimizers whose state is stored, the number of sub-envs and seeds
and how seeds run) cannot change: a one-line :class:`~agents.errors.UserError` names every one
that was asked to.
An override that repeats the run's own value is no change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from omegaconf import DictConfig, ListConfig, OmegaConf

from agents.errors import UserError
from agents.runtime.config import TrainConfig, check_known_keys
from envs.make import entry_point_module

IMMUTABLE_ON_RESUME = (
    "env", "env_kwargs", "env_wrappers", "seed", "num_seeds", "seed_mode", "batched_update_every",
    "features", "vector", "agent.policy", "agent.hidden_sizes", "agent.activation", "agent.dtype",
    "agent.optimizer", "agent.baseline", "agent.value_hidden_sizes", "agent.value_optimizer",
)  # fmt: skip
"""Config keys (and groups) fixed when a run starts: its checkpoint's arrays and optimizer states,
its envs, seeds and generators were built with them."""
NOT_RUN_SETTINGS = ("resume", "run_dir", "hydra", "trust_code")
"""Override keys that say where to read and write (and what to trust), not how to train."""
_ABSENT = object()


def override_keys(overrides: Sequence[str]) -> list[str]:
    """``["+env_kwargs.x=1", "agent.lr=0.5", "~foo"]`` -> ``["env_kwargs.x", "agent.lr", "foo"]``."""
    keys = [override.lstrip("+~").partition("=")[0].strip() for override in overrides]
    return [key for key in keys if key and key.split(".")[0].split("/")[0] not in NOT_RUN_SETTINGS]


def _fixed(key: str) -> bool:
    return any(key == fixed or key.startswith(f"{fixed}.") or fixed.startswith(f"{key}.")
               for fixed in IMMUTABLE_ON_RESUME)  # fmt: skip


def _plain(value: object) -> object:
    """A config node as plain containers (compared by value), anything else as it is."""
    if isinstance(value, DictConfig | ListConfig):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _differing_keys(key: str, new: dict[str, Any], old: dict[str, Any]) -> list[str]:
    """The dotted keys below ``key`` whose values differ between two nodes (``agent=mine``, whose
    node differs from the run's in ``agent.lr`` alone: that key, which may change)."""
    found = []
    for name in dict.fromkeys([*old, *new]):
        a, b = new.get(name, _ABSENT), old.get(name, _ABSENT)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differing_keys(f"{key}.{name}", a, b)
        elif a != b:
            found.append(f"{key}.{name}")
    return found


def _same_env_by_its_id(key: str, new: object, old: object) -> bool:
    """``env=MyEnv-v0`` for a run of ``env=my_module:MyEnv-v0``: its id, which the module registered
    (``agents.train("MyEnv-v0", "resume=<run>")`` after ``import my_module`` was refused as a
    change of env, which ``agents.train`` cannot leave out)."""
    return key == "env" and isinstance(new, str) and isinstance(old, str) and old.rpartition(":")[2] == new


def _names_the_envs_module(key: str, new: object, old: object) -> bool:
    """``env=envs:ShortCorridor-v0`` for a run of ``env=ShortCorridor-v0`` (or of
    ``env=envs.short_corridor:ShortCorridor-v0``): the same id, with a module whose code the
    registered id makes (its entry point's module or a package above it; the resumed run keeps the
    module, which it imports first). Another module (``json:ShortCorridor-v0``) may register
    another env under the id: a change of env, refused."""
    if key != "env" or not isinstance(new, str) or not isinstance(old, str):
        return False
    (new_module, _, env_id), (old_module, _, old_id) = new.rpartition(":"), old.rpartition(":")
    if old_id != env_id or env_id not in gym.registry:
        return False
    where = entry_point_module(gym.registry[env_id])

    def makes_it(module: str) -> bool:
        return where == module or where.startswith(f"{module}.")

    return bool(new_module) and makes_it(new_module) and (not old_module or makes_it(old_module))


def apply_resume_overrides(saved: DictConfig, cfg: DictConfig, overrides: Sequence[str]) -> list[str]:
    """Copy the values of ``overrides``' keys from ``cfg`` (the composed command line) into the
    checkpoint's config ``saved``; return one ``key: old -> new`` line per change.

    :raises UserError: for a key no schema field holds (``+agent.foo=1``: as on a fresh run), or
        naming every key that cannot change on resume (a preset such as ``experiment=`` counts:
        it is no single key).
    """
    check_known_keys(cfg, TrainConfig)
    changes, refused = [], []
    keys = []
    for key in dict.fromkeys(override_keys(overrides)):  # a group choice (agent=mine): its keys that differ
        new, old = (_plain(OmegaConf.select(config, key, default=_ABSENT)) for config in (cfg, saved))
        keys += _differing_keys(key, new, old) if isinstance(new, dict) and isinstance(old, dict) else [key]
    for key in dict.fromkeys(keys):
        new, old = (_plain(OmegaConf.select(config, key, default=_ABSENT)) for config in (cfg, saved))
        if new is not _ABSENT and (new == old or _same_env_by_its_id(key, new, old)):
            continue
        if new is not _ABSENT and _names_the_envs_module(key, new, old):
            OmegaConf.update(saved, key, new, merge=False)
            continue
        if new is _ABSENT or _fixed(key):  # _ABSENT: a preset, which is no single key
            scalars = all(isinstance(value, str | int | float | bool) for value in (old, new))
            refused.append(f"{key} from {old} to {new}" if scalars else key)
            continue
        OmegaConf.update(saved, key, new, merge=False)
        changes.append(f"{key}: {old} -> {new}")
    if refused:
        raise UserError(
            f"resume cannot change {', '.join(refused)} (fixed when the run started: what it saved was "
            "built with it); drop it or start a new run (budget.*, logging.*, checkpoint.*, eval.* and "
            "the agent's learning settings, e.g. agent.lr, agent.baseline_lr, agent.gamma, "
            "agent.entropy_coef, may change)"
        )
    return changes
