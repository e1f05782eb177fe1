"""A program's config composed from ``configs/`` and the overrides, and one line for what Hydra,
OmegaConf or PyYAML raised while composing it (:func:`composition_message`)."""

from __future__ import annotations

import argparse
import dataclasses
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, get_origin, get_type_hints

import yaml
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    ConfigTypeError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from agents.errors import UserError, broken_yaml, first_line, warn_at_caller
from agents.runtime.config import (
    TrainConfig,
    dotted_keys,
    first_missing_key,
    register_configs,
    removed_key_message,
    unknown_key_message,
)
from agents.tools.hydra_compose import compose_files
from agents.tools.override_paths import config_folder, expand_home_in_paths, quote_paths
from agents.tools.override_words import check_override_keys
from agents.tools.presets import with_env_preset
from agents.tools.usage import CONFIG_DIR, config_groups, load_yaml


def refuse_sweeps(overrides: Sequence[str]) -> list[Any]:
    """``overrides`` parsed in the command line's grammar; a sweep (``seed=1,2``) is one line saying
    what to do instead (Hydra's own said "add --multirun to your command line").

    :raises UserError: for a sweep; Hydra's errors for an override that does not parse."""
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    for override in parsed:
        if override.is_sweep_override():
            raise UserError(
                f"{override.input_line} is a sweep: run it with -m on the command line, or call "
                "agents.train once per value"
            )
    return parsed


def compose_train_config(
    overrides: list[str], env_presets: bool = True, config_dirs: Sequence[str | Path] = (),
    warn_covered: bool = False,
) -> DictConfig:  # fmt: skip
    """``configs/train.yaml`` with ``overrides``, composed without running Hydra's app (for
    ``agents.train``, tests, benchmarks and scripts that train in-process).

    :param env_presets: apply the env's preset as ``scripts/train.py`` does (:mod:`agents.tools.presets`).
    :param config_dirs: the user's own config folders, searched after the project's (as the
        command line's ``--config-dir``): e.g. ``experiment=mine`` finds ``<dir>/experiment/mine.yaml``.
    :param warn_covered: a ``UserWarning`` at the caller's line where the env's preset sets the keys
        of a group option the overrides chose (``agent=mine``), as the command line's preset line
        says (``agents.train`` and ``agents.compose``, which print nothing of their own).
    """
    register_configs()
    missing = [str(folder) for folder in config_dirs if not Path(folder).is_dir()]
    if missing:  # Hydra only warns, and the configs asked for then are "not found"
        raise UserError(f"config_dirs: {', '.join(missing)} is not a folder (give your own config folders)")
    check_override_keys(overrides)
    overrides = check_group_choices(overrides, "train", CONFIG_DIR, [str(folder) for folder in config_dirs])
    overrides = quote_paths(expand_home_in_paths(overrides))
    refuse_sweeps(overrides)  # Hydra's "add --multirun to your command line" meant nothing here
    if env_presets:
        choice = with_env_preset(overrides, CONFIG_DIR, user_dirs=config_dirs)
        if choice.covered and warn_covered:
            warn_at_caller(str(choice.line()))
        overrides = choice.overrides
    if config_dirs:
        searchpath = ",".join(f"file://{Path(folder).resolve()}" for folder in config_dirs)
        overrides = [f"hydra.searchpath=[{searchpath}]", *overrides]
    return compose_config("train", overrides, config_dirs)


_COMPOSING = threading.RLock()
"""Hydra's state is one per process: threads compose one at a time."""


@contextmanager
def config_dir_initialized(config_dir: str) -> Iterator[None]:
    """Hydra initialised on ``config_dir`` for composing, wherever it is called: inside another Hydra
    app (the user's ``@hydra.main``: "GlobalHydra is already initialized" was a traceback), whose
    state is put back afterwards, and from several threads, one at a time."""
    with _COMPOSING:
        backup = get_gh_backup()
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(version_base="1.3", config_dir=config_dir):
                yield
        finally:
            restore_gh_from_backup(backup)


def compose_config(
    config_name: str, overrides: Sequence[str], config_dirs: Sequence[str | Path] = ()
) -> DictConfig:
    """``configs/<config_name>.yaml`` with ``overrides``, composed without running Hydra's app. A
    program that trains in its own process composes this way (:func:`config_dir_initialized`).

    :param config_dirs: the user's config folders the overrides' ``hydra.searchpath`` names (a file
        there that is not UTF-8 text is named in the error).
    :raises UserError: for a config file (the project's or one of the user's folders) that is not
        YAML or not UTF-8; Hydra's and OmegaConf's errors for the rest (:func:`composition_message`).
    """
    with config_dir_initialized(CONFIG_DIR):
        try:
            return compose_files(config_name, list(overrides))
        except yaml.YAMLError as error:  # PyYAML's, passed on by Hydra: four lines and a traceback
            raise UserError(broken_yaml(error)) from None
        except UnicodeDecodeError as error:
            message = not_utf8_message(error, [CONFIG_DIR, *config_dirs])
            if message is None:
                raise
            raise UserError(message) from None


CONFIG_ERRORS = (HydraException, OmegaConfBaseException, yaml.YAMLError)
"""What composing a config raises for a mistake in the command line or in a config file (PyYAML's
error for a file that does not parse: Hydra passes it on); :func:`composition_message` words it."""


def undecodable_config(folders: Sequence[str | Path]) -> Path | None:
    """The first ``*.yaml`` below ``folders`` that is not UTF-8 text (e.g. saved as UTF-16), which
    Hydra reads with a bare ``UnicodeDecodeError``."""
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.yaml")):
            try:
                path.read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                return path
            except OSError:
                continue
    return None


def not_utf8_message(error: UnicodeDecodeError, folders: Sequence[str | Path]) -> str | None:
    """One line for a config file Hydra could not read as text, or None where no config file of
    ``folders`` is the one (the ``error`` came from elsewhere)."""
    path = undecodable_config(folders)
    if path is None:
        return None
    return f"{path}: not UTF-8 text ({error.reason} at byte {error.start}): save it as UTF-8"


OTHER_PLUGIN_KEYS = {
    "hydra.launcher": "a key of another launcher: choose it first, e.g. hydra/launcher=joblib",
    "hydra.sweeper": "a key of another sweeper: choose it first, e.g. hparams_search=cartpole_tpe (Optuna's)",
}
"""The hint for a key the chosen launcher or sweeper (Hydra's basic ones, by default) does not have."""


def _unknown_key_message(cause: ConfigKeyError | ConfigAttributeError) -> str:
    """The closest keys; for a plain dict (``env_kwargs``), how to add a new key (a key of the
    env's own is never one of another node: ``env_kwargs.mode`` is not ``vector.mode``); for a key
    of Hydra's launcher or sweeper, how to choose one that has it."""
    full_key, parent = str(cause.full_key), cause.parent_node
    schema = OmegaConf.get_type(parent) if isinstance(parent, DictConfig) else None
    if dataclasses.is_dataclass(schema) and full_key.rpartition(".")[2] in get_type_hints(schema):
        return removed_key_message(full_key)  # ~budget budget.total_env_steps=1: "budget is not a config key"
    known = [str(name) for name in parent if name != "hydra"] if isinstance(parent, DictConfig) else []
    plain_dict = isinstance(parent, DictConfig) and OmegaConf.get_type(parent) is dict
    elsewhere = dotted_keys(parent._get_root()) if isinstance(parent, DictConfig) and not plain_dict else []
    plugin_hint = OTHER_PLUGIN_KEYS.get(full_key.rpartition(".")[0], "")  # hydra.launcher.n_jobs
    hint = f"add it with +{full_key}=<value>" if plain_dict else plugin_hint
    return unknown_key_message(full_key, known, hint, elsewhere)


PLACEHOLDER_EXAMPLES = {
    "<run>": " (a run's folder, e.g. outputs/CartPole-v1/2026-12-06_10-00-00-000000_seed0)",
    "<value>": " (--help says what the key holds)",
}
"""What the docs' placeholders stand for, said when one is pasted as it is."""


def composition_message(error: BaseException) -> str:
    """One line for an exception Hydra, OmegaConf or PyYAML raised while composing the config."""
    if isinstance(error, yaml.YAMLError):
        return broken_yaml(error)
    cause = error.__cause__
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and cause.full_key:
        return _unknown_key_message(cause)
    if isinstance(error, ConfigKeyError) and error.full_key and error.parent_node is not None:
        return _unknown_key_message(error)  # a merge's own (a TrainConfig's agent={"lrr": 0.1})
    if isinstance(error, MissingConfigException) and error.options is not None:
        options = ", ".join(name for name in error.options if not name.endswith("_schema"))
        return f"{first_line(error)} (options: {options})"
    if isinstance(error, OverrideParseException):
        lines = [line.strip() for line in str(error).splitlines()[1:] if line.strip().strip("^")]
        reason = next((line for line in lines if not line.startswith("See ")), first_line(error))  # ANTLR's
        placeholder = re.search(r"<[^<>=,]+>", error.override or "")  # resume=<run>, pasted from the docs
        key, _, value = (error.override or "").partition("=")
        if not value.isascii() and "LexerNoViableAlt" in reason:  # ü, an em dash: only quoted
            return (
                f"cannot parse override {error.override!r}: Hydra's grammar takes characters outside ASCII "
                f"only in quotes: write {key}='{value}'"
            )
        if placeholder:
            example = PLACEHOLDER_EXAMPLES.get(placeholder.group(), "")
            return (
                f"cannot parse override {error.override!r}: {placeholder.group()} is a placeholder from the "
                f"docs: put what it stands for in its place{example}"
            )
        return (
            f"cannot parse override {error.override!r}: {reason} "
            "(syntax: https://hydra.cc/docs/advanced/override_grammar/basic/)"
        )
    if isinstance(cause, ConfigTypeError) and "does not support deletion" in str(cause) and cause.full_key:
        return removed_key_message(cause.full_key)  # ~budget.total_env_steps: a structured node's key
    deleted = re.fullmatch(r"Could not delete from config\. '(.+)' does not exist\.", str(error))
    if deleted and schema_field(deleted.group(1)):  # ~budget.target_return: Hydra's word for a null value
        return f"{removed_key_message(deleted.group(1))}; it is null now"
    if isinstance(cause, OmegaConfBaseException):
        return f"{first_line(error)}: {first_line(cause)}"
    if isinstance(error, MissingMandatoryValue) and error.full_key:  # a ??? key: say how to give it
        key = error.full_key
        return f"{key}: Missing mandatory value: pass {key}=<value> (--help says what it holds)"
    if isinstance(error, OmegaConfBaseException) and getattr(error, "full_key", None):
        return (
            _interpolated_key_message(str(error.full_key), first_line(error))
            or f"{error.full_key}: {first_line(error)}"
        )
    return _all_lines(error)


def _interpolated_key_message(full_key: str, reason: str) -> str | None:
    """A key another key reads through an interpolation, most often the run folder's name (Hydra's
    ``hydra.run.dir`` reads ``${seed}``): ``~seed``, ``~env run_dir=a`` and ``seed=${nosuch}`` were
    "hydra.run.dir: Interpolation key 'seed' not found" or "experiment_name: ... 'env' ...", keys the
    user never typed; ``run_dir=${oc.env:NOPE}/a`` was "hydra.run.dir: KeyError ...". None for others."""
    missing = re.fullmatch(r"Interpolation key '(.+)' not found", reason)
    if missing is not None and missing.group(1) != full_key and schema_field(missing.group(1)):
        return removed_key_message(missing.group(1))  # removed with ~, where the schema has it
    if not full_key.startswith("hydra."):
        return None
    if missing is None:
        where = "run_dir, or experiment_name and seed"
        return f"{reason}, in a value the run folder's name ({full_key}) reads: {where}"
    return (
        f"{reason}: an interpolation names it in a value the run folder's name ({full_key}) reads; "
        "name an existing key there"
    )


def schema_field(key: str) -> bool:
    """Whether dotted ``key`` names a field of a program's config schema (train, evaluate, compare)."""
    from agents.runtime.evaluation_config import EvaluateConfig
    from agents.studies.gradient_check import CompareConfig

    for schema in (TrainConfig, EvaluateConfig, CompareConfig):
        node: Any = schema
        for part in key.split("."):
            fields = get_type_hints(node) if dataclasses.is_dataclass(node) else {}
            if part not in fields:
                break
            node = fields[part]
        else:
            return True
    return False


def _all_lines(error: BaseException) -> str:
    """The message's lines joined with spaces (up to Hydra's config search path listing)."""
    lines = str(error).split("Config search path:")[0].splitlines()
    return " ".join(line.strip() for line in lines if line.strip()) or type(error).__name__


def check_resolvable(cfg: DictConfig) -> None:
    """Resolve every interpolation and require every ``???`` value, as one-line UserErrors; in a
    structured config, an interpolation of a list or mapping key must resolve to one (OmegaConf
    checks it only as it is read: ``agent.hidden_sizes=${agent.lr}`` reached the run's checks as a
    float, a TypeError traceback)."""
    try:
        resolved = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as error:
        raise UserError(composition_message(error)) from None
    schema = OmegaConf.get_type(cfg)
    if not dataclasses.is_dataclass(schema):
        return
    missing = first_missing_key(cfg, schema)
    if missing is not None:  # ~num_seeds: a ConfigAttributeError traceback where the run read it
        raise UserError(removed_key_message(missing))
    for path, text in _interpolations(OmegaConf.to_container(cfg)):
        field_type: Any = schema
        value: Any = resolved
        for part in path:
            hints = get_type_hints(field_type) if dataclasses.is_dataclass(field_type) else {}
            field_type, value = hints.get(part), value[part]
        kind = get_origin(field_type) or field_type
        holds = "a list" if kind in (list, tuple) else "a mapping" if kind is dict else None
        if holds and not isinstance(value, list if kind in (list, tuple) else dict):
            key = ".".join(path)
            raise UserError(f"{key}={text} resolves to {value!r}: {key} holds {holds}")


def _interpolations(node: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """``(path, text)`` of each interpolation that is a mapping's value in the unresolved container
    ``node`` (a list's items are typed as they are read)."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _interpolations(value, (*path, str(key)))
    elif isinstance(node, str) and "${" in node and path:
        yield path, node


def app_config(
    args: argparse.Namespace, overrides: list[str], config_name: str, config_path: str
) -> DictConfig:
    """The config, Hydra's included, that the app with switches ``args`` composes from ``overrides``."""
    with app_config_composed(args, overrides, config_name, config_path) as cfg:
        return cfg


@contextmanager
def app_config_composed(
    args: argparse.Namespace, overrides: list[str], config_name: str, config_path: str
) -> Iterator[DictConfig]:
    """:func:`app_config`, with Hydra still initialised on the app's config folders while the block
    runs (its config loader then composes what the app's sweeper would: ``load_sweep_config``)."""
    name, home, other = primary_config(args, config_name, config_path)
    overrides = [*overrides, *searchpath_override(other)]
    with config_dir_initialized(home):
        try:
            cfg = compose_files(name, overrides, return_hydra_config=True)
        except (AssertionError, AttributeError):  # OmegaConf merging an override below a null node
            # of Hydra's own config (the basic sweeper's hydra.sweeper.params): its assert, not an error
            given = [item for item in overrides if item.lstrip("+~").startswith("hydra.")]
            if not given:
                raise
            culprits = [item for item in given if _composes(name, [o for o in overrides if o != item])]
            raise UserError(
                f"cannot apply {' '.join(culprits or given)}: it sets a key below a null value of Hydra's "
                "config (the basic sweeper's hydra.sweeper.params is set in a config file); give a sweep "
                "on the command line as key=a,b"
            ) from None
        yield cfg


def primary_config(
    args: argparse.Namespace, config_name: str, config_path: str
) -> tuple[str, str, list[str]]:
    """The primary config the app with switches ``args`` composes: its name (``--config-name``, else
    ``config_name``), the folder to compose in (``--config-path``'s, else ``config_path``; a
    ``pkg://`` module's is the program's own: see :func:`config_path_is_a_module`) and the other
    config folders to search (``--config-dir``'s; where only it holds the named config, the primary
    folder instead: compose finds a primary config only in its own folder)."""
    name, home = (args.config_name or config_name).removesuffix(".yaml"), config_path  # Hydra takes either
    if args.config_path and not config_path_is_a_module(args):
        home = config_folder(args.config_path)
    if not args.config_dir:
        return name, home, []
    user = str(Path(args.config_dir).resolve())
    if Path(user, f"{name}.yaml").is_file() and not Path(home, f"{name}.yaml").is_file():  # (where both
        return name, user, [home]  # hold it, Hydra composes the primary folder's)
    return name, home, [user]


def config_path_is_a_module(args: argparse.Namespace) -> bool:
    """Whether ``--config-path`` names a Python package (``pkg://my_configs``), which the checks
    before a sweep do not compose from (they compose folders)."""
    return bool(args.config_path) and args.config_path.startswith("pkg://")


def _composes(name: str, overrides: list[str]) -> bool:
    """Whether ``overrides`` compose (in the config folder initialised by the caller)."""
    try:
        compose_files(name, overrides, return_hydra_config=True)
    except Exception:
        return False
    return True


def searchpath_override(entries: Sequence[str]) -> list[str]:
    """The ``hydra.searchpath=[...]`` override (none for no entries) that composes with ``entries``:
    folders (made ``file://`` URLs) and Hydra's own ``file://``/``pkg://`` sources as given."""
    urls = [entry if "://" in entry else f"file://{Path(entry).resolve()}" for entry in entries]
    return [f"hydra.searchpath=[{','.join(urls)}]"] if urls else []


def check_group_choices(
    argv: Sequence[str], config_name: str, config_path: str, user_dirs: Sequence[str] = ()
) -> list[str]:
    """``group=null`` for a config group (Hydra's ValueError for it was a traceback): ``argv``
    without it where the group's default is none (``hparams_search=null`` means leaving it out).
    A number or a boolean for one (``agent=5``: "Config group override must be a string or a
    list", a traceback too) is refused, naming its options.

    :param user_dirs: the user's own config folders (``--config-dir``), whose groups count too.
    :raises UserError: for a group that needs one of its options (``agent=null``), naming them.
    """
    keys = {arg: arg.partition("=")[0].lstrip("+~") for arg in argv if not arg.startswith("-") and "=" in arg}
    nulls = {arg: key for arg, key in keys.items()
             if "." not in key and "null" in _listed(arg)}  # fmt: skip
    groups = config_groups(config_path, *user_dirs)
    scalars = {arg: key for arg, key in keys.items() if key in groups and _scalar_choice(arg)}
    if not nulls and not scalars:
        return list(argv)
    overrides = searchpath_override(user_dirs)
    with config_dir_initialized(config_path):
        loader = GlobalHydra.instance().config_loader()
        try:
            options = {arg: loader.get_group_options(key, config_name=config_name, overrides=overrides)
                       for arg, key in {**nulls, **scalars}.items()}  # fmt: skip
        except yaml.YAMLError as error:  # it reads the primary config's defaults list
            raise UserError(broken_yaml(error)) from None
    if scalars:  # the first
        arg, group = next(iter(scalars.items()))
        names = ", ".join(name for name in options[arg] if not name.endswith("_schema"))
        raise UserError(f"{arg}: {group} is a config group and takes one of its options ({names}) by name")
    entries = load_yaml(Path(config_path) / f"{config_name}.yaml").get("defaults", [])
    none_by_default = {str(key) for entry in entries if isinstance(entry, dict)
                       for key, value in entry.items() if value is None}  # fmt: skip
    dropped, renamed = set(), {}
    for arg, group in nulls.items():
        names = [name for name in options[arg] if not name.endswith("_schema")]
        choices = ", ".join(names)
        if choices and group not in none_by_default:
            raise UserError(
                f"{arg}: {group} is a config group and takes one of its options ({choices}); leave it out "
                "for its default"
            )
        if choices and len(_listed(arg)) > 1:  # -m experiment=null,cartpole: each job composes its own
            if "none" not in names:
                raise UserError(f"{arg}: a sweep over {group} lists its options ({choices}), not null")
            listed = ["none" if item == "null" else item for item in _listed(arg)]
            renamed[arg] = f"{arg.partition('=')[0]}={','.join(listed)}"  # none: the option that adds nothing
        elif choices:
            dropped.add(arg)
    return [renamed.get(arg, arg) for arg in argv if arg not in dropped]


def _scalar_choice(override: str) -> bool:
    """Whether ``key=value`` (or one item of ``key=a,b``, or of a list ``key=[a,b]``) is a number or
    a boolean as Hydra reads it."""
    try:
        (parsed,) = OverridesParser.create().parse_overrides([f"key={override.partition('=')[2]}"])
    except HydraException:  # Hydra's own line comes later
        return False
    values = list(parsed.sweep_iterator()) if parsed.is_sweep_override() else [parsed.value()]
    items = [item for value in values for item in (value if isinstance(value, list) else [value])]
    return any(isinstance(item, bool | int | float) for item in items)


def _listed(override: str) -> list[str]:
    """The items of ``key=a,b,c`` (one for ``key=a``), stripped, ``null`` in lower case."""
    items = [item.strip() for item in override.partition("=")[2].split(",")]
    return ["null" if item.lower() == "null" else item for item in items]
