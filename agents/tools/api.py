"""The Python API: ``agents.train`` and ``agents.load``, as a Stable-Baselines3 user expects them.

::

    import agents
    result = agents.train("CartPole-v1", "seed=1", "agent.lr=0.05")  # overrides as on the command line
    result = agents.train("CartPole-v1", seed=1, agent={"lr": 0.05})  # the same, as keywords
    agent = agents.load(result.run_dir)                 # a run folder or a checkpoint file
    action = agent.predict(obs, deterministic=True)     # one observation -> int; a batch -> [B]

:func:`train` composes ``configs/train.yaml`` exactly as ``scripts/train.py`` does (the same
groups, presets and checks), runs it and returns the result; it prints nothing of its own (the
progress bar follows ``logging.progress_bar``). A mistake raises :class:`~agents.errors.UserError`
with the one line the command line would print.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from gymnasium.envs.registration import EnvSpec
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.errors import RunInterrupted, UserError, path_too_long, warn_at_caller
from agents.runtime.checkpoint import without_numpy
from agents.runtime.config import TrainConfig, check_known_keys, first_missing_key
from agents.runtime.interrupts import imports_finish_first
from agents.runtime.restore import TrainedAgent, load_agent
from agents.runtime.run import train as run_training
from agents.runtime.run_folder import new_run_dir
from agents.runtime.trainer import RunResult
from agents.tools.composing import check_resolvable, compose_train_config, composition_message, refuse_sweeps
from agents.tools.exits import FILE_SYSTEM_ERRORS, os_error_line
from agents.tools.override_paths import expand_home, expand_home_in_paths
from agents.tools.override_values import is_name, value_text
from agents.tools.override_words import check_bare_words
from agents.tools.presets import override_key, preset_for
from agents.tools.usage import CONFIG_DIR, config_groups


def compose(
    config: str | DictConfig | TrainConfig = "CartPole-v1",
    *overrides: str,
    config_dirs: Sequence[str | Path] | str | Path = (),
    **settings: Any,
) -> DictConfig:
    """The config :func:`train` runs: an env id composed with ``overrides`` (``"seed=1"``,
    ``"experiment=acrobot"``, ``"+env_kwargs.is_slippery=false"``), or a given config
    (a composed ``DictConfig`` or a :class:`TrainConfig`) with ``key=value`` overrides merged in.

    :param config_dirs: your own config folders, searched after the project's, as ``--config-dir``:
        their new options and presets are found, and a file named like one of the project's is the
        project's (Hydra's order).
    :param overrides: ``key=value`` strings, as on the command line, or lists of them (also as
        ``overrides=[...]``, Hydra's ``compose`` keyword).
    :param settings: overrides as keywords, after ``overrides`` (:func:`keyword_overrides`).
    """
    with imports_finish_first():  # the env's module may be imported
        return _compose(config, all_overrides(overrides, settings), config_dirs, "agents.compose")


def all_overrides(overrides: Sequence[Any], settings: dict[str, Any]) -> list[Any]:
    """The overrides of :func:`compose` and :func:`train`: ``overrides``, a list among them (or a
    tuple, a ``ListConfig``, a generator) taken as its items, then an ``overrides=`` keyword's (a list,
    or None, as Hydra's ``compose`` takes it), then ``settings`` as keywords
    (``compose("CartPole-v1", ["seed=1"])`` was refused as no strings)."""
    keyword = settings.pop("overrides", None)  # None: none, as Hydra's compose takes it
    given = [*overrides, *([] if keyword is None else [keyword])]
    return [*(item for entry in given for item in _items(entry)), *keyword_overrides(settings)]


def _items(entry: Any) -> list[Any]:
    """The overrides ``entry`` holds: a list, tuple, ``ListConfig`` or generator its items; a
    string or anything else itself (a mapping is refused as no string, naming it); a set, whose
    order is not the one given, is refused."""
    if isinstance(entry, set | frozenset):
        raise UserError(f"overrides in a set have no order: give them in a list or tuple ({entry!r})")
    if isinstance(entry, str | bytes | Mapping) or not isinstance(entry, Iterable):
        return [entry]
    return list(entry)


def keyword_overrides(settings: dict[str, Any]) -> list[str]:
    """Keywords as the command line's overrides: ``seed=1, agent={"lr": 0.05}, run_dir=Path("x y")``
    -> ``seed=1 agent.lr=0.05 run_dir='x y'``, as Stable-Baselines3 takes ``seed=`` (``agents.train(
    seed=1)`` was Python's "unexpected keyword argument"). A dict gives its keys under the name
    (``++`` where the schema has none, as ``env_kwargs``'s: a new key), each value written so that
    Hydra reads it back as given (strings quoted where it would read another type or a character of
    its grammar; ``${...}`` is an interpolation, as on the command line), numpy scalars as Python's,
    and a whole float as an integer key's integer. Other types (a set, an object) are refused."""
    schema = OmegaConf.structured(TrainConfig)
    overrides = []
    for name, given in _flattened(without_numpy(settings)):
        value = whole_float_as_integer(name, given, schema)  # budget={"total_env_steps": 1e5}
        add = "++" if OmegaConf.select(schema, name, default=_ABSENT) is _ABSENT and "." in name else ""
        try:
            overrides.append(f"{add}{name}={value_text(value)}")
        except UserError as error:
            raise UserError(f"{name}: {error}") from None
    return overrides


_ABSENT = object()


def whole_float_as_integer(name: str, value: Any, schema: DictConfig) -> Any:
    """``value`` as an ``int`` where it is a whole float (``1e5``) and ``name`` an integer key of
    ``schema`` (as ``int(1e5)`` in Stable-Baselines3's ``learn(total_timesteps=1e5)``); else as it is."""
    whole = isinstance(value, float) and value.is_integer()
    return int(value) if whole and type(OmegaConf.select(schema, name, default=_ABSENT)) is int else value


def _flattened(settings: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``{"agent": {"lr": 0.05}}`` -> ``[("agent.lr", 0.05)]`` (an empty dict stays a value); a key
    that is no name (``"a b"``, ``"a.b"``, ``1``) is one line: Hydra's grammar error, or a silently
    nested ``{"a": {"b": ...}}``, named no key the user wrote."""
    items = []
    for key, value in settings.items():
        if not is_name(key):
            raise UserError(f"{prefix.rstrip('.') or 'keywords'}: a dict takes names as keys, not {key!r}")
        if isinstance(value, dict) and value:
            items.extend(_flattened(value, f"{prefix}{key}."))
        else:
            items.append((f"{prefix}{key}", value))
    return items


def _compose(
    config: str | DictConfig | TrainConfig,
    overrides: Sequence[str],
    config_dirs: Sequence[str | Path] | str | Path,
    caller: str,
) -> DictConfig:
    """:func:`compose` for ``caller`` (``agents.train``), which a mistake's line names."""
    if not isinstance(config, str | DictConfig | TrainConfig):
        what, hint = ("None" if config is None else f"a {type(config).__name__}"), ""
        if isinstance(config, gym.Env | EnvSpec | type):
            hint = ': give its registered id, e.g. "CartPole-v1" or "my_envs:MyEnv-v0"'
        raise UserError(f"config must be an env id, a composed config or a TrainConfig, got {what}{hint}")
    not_strings = [override for override in overrides if not isinstance(override, str)]
    if not_strings:
        raise UserError(f'overrides are "key=value" strings, as on the command line; got {not_strings[0]!r}')
    check_no_hydra_settings(overrides)
    # a bare word: the command line's line, not Hydra's "cannot parse override 'seed'" and grammar
    check_bare_words("train", overrides, command_line=False)
    if isinstance(config, str) and "=" in config:  # "env=Acrobot-v1", as on the command line: the env id
        key, _, value = config.partition("=")
        if key.strip() != "env":
            raise UserError(
                f"the first argument is the env id, not an override: "
                f'{caller}("CartPole-v1", "{config}") (overrides follow the env id)'
            )
        config = value.strip()
    if isinstance(config, str) and not config.strip():  # composed as env='' (compose) or refused as "env="
        raise UserError(f'the env id is empty: give one, e.g. {caller}("CartPole-v1")')
    if isinstance(config_dirs, str | Path):  # one folder, not a sequence of its characters
        config_dirs = (config_dirs,)
    if not isinstance(config_dirs, Sequence) or not all(isinstance(d, str | Path) for d in config_dirs):
        raise UserError(f"config_dirs takes a folder or a list of folders (paths), not {config_dirs!r}")
    config_dirs = [expand_home(str(folder)) for folder in config_dirs]  # "~/mine", as -cd '~/mine'
    try:
        if isinstance(config, str):
            overrides = [f"env={config}", *overrides]
            cfg = compose_train_config(overrides, config_dirs=config_dirs, warn_covered=True)
        else:
            if config_dirs:  # nothing here reads them: they were ignored without a word
                env = config.get("env") if isinstance(config, DictConfig) else getattr(config, "env", None)
                example = env if isinstance(env, str) and env else "CartPole-v1"  # the config's own env
                raise UserError(
                    f"config_dirs are read while an env id's config is composed, and the given config is "
                    f"composed already: drop config_dirs, or compose with them: "
                    f"{caller}({example!r}, ..., config_dirs=...)"
                )
            if isinstance(config, DictConfig):
                cfg = config.copy()
                check_complete(cfg)
            else:  # a dict field's other keys take the schema's defaults below, as its dataclass's would
                cfg = OmegaConf.create(python_values(config))  # (TrainConfig(agent={"lr": 0.1}) was refused)
            # typed by the schema: a config.yaml read with OmegaConf.load is plain dicts and strings, whose
            # values would reach the run unchecked (a wrong type was a TypeError, seed=null one too)
            cfg = OmegaConf.merge(OmegaConf.structured(TrainConfig), cfg)
            apply_overrides(cfg, expand_home_in_paths(overrides))
            if isinstance(config, DictConfig) and cfg.env != config.env:  # it trained Acrobot with the
                warn_at_caller(  # settings CartPole's preset had given, without a word
                    f"env={cfg.env} replaces the env of a config composed for {config.env}, whose "
                    f'settings (its preset\'s among them) it keeps: {caller}("{cfg.env}", ...) composes '
                    f"{cfg.env}'s own"
                )
            if not isinstance(config, DictConfig) and not cfg.resume:  # (a resume keeps its run's settings)
                warn_of_the_preset_left_out(cfg.env, caller)
    except (HydraException, OmegaConfBaseException) as error:
        raise UserError(composition_message(error)) from None
    check_resolvable(cfg)
    check_known_keys(cfg, TrainConfig)  # +foo=1 composes (Hydra adds the key), and nothing would read it
    return cfg


def warn_of_the_preset_left_out(env: str, caller: str) -> None:
    """A ``UserWarning`` where ``env`` has a preset that a :class:`TrainConfig` (the generic
    defaults) leaves out: it trained Acrobot's generic linear defaults without a word, where the
    env id gets the tuned MLP of its preset."""
    preset = preset_for(env, None, CONFIG_DIR)
    if preset is None:
        return
    composed = "" if caller == "agents.compose" else f' (agents.compose("{env}") gives that config)'
    warn_at_caller(
        f"a TrainConfig holds the generic defaults, without env={env}'s preset {preset}, "
        f'which {caller}("{env}", ...) applies{composed}'
    )


def python_values(config: TrainConfig) -> dict[str, Any]:
    """``config``'s fields as nested dicts, numpy scalars as Python's (``seed=np.int64(3)`` from
    ``np.arange``, which OmegaConf refuses: "could not be converted to Integer"), and a whole float
    as an integer key's integer, as the keywords take them (``budget={"total_env_steps": 1e5}``)."""
    schema = OmegaConf.structured(TrainConfig)

    def integers(values: dict[str, Any], prefix: str) -> dict[str, Any]:
        return {
            key: integers(value, f"{prefix}{key}.") if isinstance(value, dict)
            else whole_float_as_integer(f"{prefix}{key}", value, schema)
            for key, value in values.items()
        }  # fmt: skip

    return integers(without_numpy(dataclasses.asdict(config)), "")


def check_complete(cfg: DictConfig) -> None:
    """A given config holds every key the run reads (a partial one would fail later, naming
    a ``~`` override nobody wrote)."""
    missing = first_missing_key(cfg, TrainConfig)
    if missing:
        raise UserError(
            f"the given config has no {missing}: compose a full one with agents.compose(env_id, ...) "
            "or pass a TrainConfig"
        )


HYDRA_SETTING_HINTS = {"hydra.run.dir": "run_dir=<folder>", "hydra.searchpath": "config_dirs=[<folder>]"}
"""Hydra's own settings with this API's equivalent."""


def check_no_hydra_settings(overrides: Sequence[str]) -> None:
    """Refuse ``hydra.*`` overrides: they configure Hydra's app (``scripts/train.py``), which
    :func:`train` does not run, so they would be dropped without a word."""
    for override in overrides:
        key = override_key(override)
        if key == "hydra" or key.startswith(("hydra.", "hydra/")):
            hint = HYDRA_SETTING_HINTS.get(key)
            instead = f"give {hint} instead" if hint else "run scripts/train.py for Hydra's own settings"
            raise UserError(
                f"{override} is a setting of Hydra's app, which agents.train does not run: {instead}"
            )


def apply_overrides(cfg: DictConfig, overrides: Sequence[str]) -> None:
    """``key=value``, ``+key=value`` and ``~key`` overrides in the command line's grammar, applied to
    ``cfg`` in place as Hydra applies them. A config group's choice (``features=rbf``,
    ``experiment=cartpole``) picks files while a config is composed: refused here, saying so.

    :raises UserError: for a group choice; Hydra's and OmegaConf's errors for the rest.
    """
    parsed = refuse_sweeps(overrides)
    groups = config_groups(CONFIG_DIR)
    for override in parsed:
        if override.key_or_group in groups:  # (agent=5 too: "not a subclass of AgentConfig" said less)
            raise UserError(
                f"{override.input_line} chooses a config group, which applies while a config is composed: "
                f'pass it with an env id, agents.train("{cfg.env}", "{override.input_line}", ...)'
            )
    ConfigLoaderImpl._apply_overrides_to_config(parsed, cfg)  # what Hydra does with a command line


def train(
    config: str | DictConfig | TrainConfig = "CartPole-v1",
    *overrides: str,
    config_dirs: Sequence[str | Path] | str | Path = (),
    **settings: Any,
) -> RunResult:
    """Train as ``python scripts/train.py env=<config> <overrides>`` would, in this process.
    ``"resume=<run>"`` continues that run, whose env ``config`` names (``resume cannot change env``
    otherwise; the id of an env of one's own module names it too).

    :param config: a Gymnasium env id (``"CartPole-v1"``, or ``"my_pkg.envs:MyEnv-v0"``; also as
        ``"env=CartPole-v1"``), or a
        composed config (:func:`compose`, ``agents.tools.composing.compose_train_config``) or a
        :class:`TrainConfig`.
    :param overrides: ``key=value`` strings, as on the command line, or lists of them (also as
        ``overrides=[...]``).
    :param config_dirs: your own config folders, searched after the project's (:func:`compose`).
    :param settings: overrides as keywords, after ``overrides``: ``seed=1``, ``num_seeds=10``,
        ``agent={"lr": 0.05}`` (:func:`keyword_overrides`).
    :return: a :class:`~agents.runtime.trainer.RunResult`: ``run_dir`` (absolute), ``seconds``,
        ``final_mean_return`` (mean of the last ``budget.window`` returns; over seeds, their mean)
        and ``seed_results``, each seed's :class:`~agents.runtime.trainer.TrainResult`
        (``env_steps``, ``episodes``, ``updates``, ``reached_target``, ``ends_at_target``,
        ``recent_returns``). With
        ``num_seeds > 1`` it is a :class:`~agents.runtime.multi_seed.MultiSeedResult` (also
        ``final_mean_returns`` and ``table()``).
    """
    with imports_finish_first():  # the first call imports most of torch and gymnasium
        return _train(config, all_overrides(overrides, settings), config_dirs)


def _train(
    config: str | DictConfig | TrainConfig,
    overrides: Sequence[str],
    config_dirs: Sequence[str | Path] | str | Path,
) -> RunResult:
    cfg = _compose(config, overrides, config_dirs, "agents.train")
    if not cfg.run_dir and not cfg.resume:  # a folder of its own, also when called inside a Hydra app
        cfg.run_dir = str(new_run_dir(cfg))  # (whose output folder a second call would find taken)
    threads = torch.get_num_threads()
    try:  # env= among them: a resume checks the env this call names, as env=<id> on a command line
        return run_training(cfg, overrides=[f"env={cfg.env}", *overrides], summary=False)
    except RunInterrupted as error:  # "resume with: agents.train(...)", not the command line
        raise error.in_python() from None
    except OSError as error:  # run_dir=<a name of 300 characters>, a full disk under the event file
        raise_if_too_long(error)
        if error.errno in FILE_SYSTEM_ERRORS:  # the command line's one line (the checkpoints are saved)
            raise UserError(os_error_line(error)) from None
        raise
    finally:
        torch.set_num_threads(threads)  # the run sets torch_threads for itself, not for the caller


def raise_if_too_long(error: OSError) -> None:
    """The one line of a path too long (:func:`~agents.errors.path_too_long`) as a :class:`UserError`."""
    too_long = path_too_long(error)
    if too_long is not None:
        raise too_long from None


def load(
    checkpoint: str | Path, which: str = "latest", seed: int = 0, trust_code: bool = False
) -> TrainedAgent:
    """A trained agent from a run folder or a checkpoint file, on the CPU whatever device it was
    trained on; act with ``agent.predict(obs, deterministic=True)``.

    :param which: for a run folder, ``latest`` (``checkpoint.pt``) or ``best`` (``checkpoint_best.pt``).
    :param seed: seeds the sampling of ``predict(obs, deterministic=False)``.
    :param trust_code: let the checkpoint's config import its env's module and call its wrappers
        when they are neither Gymnasium's, this project's nor already imported (a crafted file
        could name any code there; without it such a file is refused).
    """
    if not isinstance(checkpoint, str | Path):
        raise UserError(f"agents.load takes a run folder or a checkpoint file (a path), not {checkpoint!r}")
    try:  # "~/x" as a shell reads it
        with imports_finish_first():  # the env's module may be imported
            return load_agent(os.path.expanduser(checkpoint), which, seed, trust_code)
    except OSError as error:
        raise_if_too_long(error)
        raise
