"""Entry-point glue: a user's mistake prints one line and exits 2; a bug keeps its traceback.

Every script is a thin :func:`hydra_main` app::

    @hydra_main(config_name="train")
    def main(cfg: DictConfig) -> float:
        return train(cfg).final_mean_return

Hydra reports its own composition errors (unknown key ``agent.lrr=1``, wrong type
``agent.lr=abc``, unknown option ``features=nosuch``, bad override syntax) itself, over several
lines, and exits 1 (``hydra/_internal/utils.py: run_and_report``). Its documented switch
``HYDRA_FULL_ERROR=1`` makes it re-raise instead, so :func:`hydra_main` sets it while the app
runs, catches what comes out and turns it into ``error: <one line>`` with exit code 2, but only
when it was raised *before* the task function started (a Hydra or OmegaConf error raised inside
the task is a bug and keeps its traceback). :class:`~agents.errors.UserError` raised by the task
becomes one line too (:func:`run_or_exit`). A user who sets ``HYDRA_FULL_ERROR=1`` themselves
gets every traceback.
"""

from __future__ import annotations

import argparse
import errno
import functools
import itertools
import json
import logging
import math
import os
import re
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import hydra
import yaml
from hydra import compose, initialize_config_dir
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.initialize import get_gh_backup, restore_gh_from_backup
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from agents.errors import (
    STORAGE_ERRNOS,
    USER_ERROR_EXIT_CODE,
    RunInterrupted,
    UserError,
    broken_yaml,
    first_line,
    folder_problem,
    name_too_long,
)
from agents.runtime import interrupts
from agents.runtime.config import register_configs, unknown_key_message
from agents.runtime.run_lock import LOCK_NAME
from agents.runtime.sweep_stop import (
    SWEEP_STOP_VARIABLE,
    quit_at_the_next_signal,
    quit_hint,
    request_sweep_stop,
    sweep_stop_signal,
)
from agents.tools.closed_pipe import (
    exit_for_the_closed_pipe,
    quiet_log_lines_to_a_closed_stdout,
    reader_left,
    stdout_quiet_once_the_reader_leaves,
    stdout_reader_gone,
)
from agents.tools.job_configs import SweepJobConfigs
from agents.tools.launchers import (
    JOBLIB_LAUNCHER,
    SUBMITIT_LOCAL_LAUNCHER,
    basic_launcher_stops_with_the_sweep,
    joblib_workers_deaf_between_jobs,
    submitit_jobs_hear_ctrl_c_once,
)
from agents.tools.logging_settings import logging_settings_said_in_one_line
from agents.tools.presets import is_sweep, override_value, parsed_override_value, with_env_preset
from agents.tools.sweep_settings import (
    check_joblib_launcher,
    check_launcher_installed,
    check_optuna_sweeper,
    check_slurm_launcher,
)
from agents.tools.usage import CONFIG_DIR, as_started, load_yaml, program_name

T = TypeVar("T")


PATH_KEYS = ("resume", "checkpoint", "run_dir", "hydra.run.dir", "hydra.sweep.dir", "csv", "video_dir")
"""Overrides whose value is a path (a run folder the program printed, e.g. a sweep job's)."""
PATH_OPTIONS = ("runs", "out")
"""Keys of the ``key=value`` programs (:func:`parse_options`) whose values are paths."""
_PARSED_BY_HYDRA = set("=,[]{}()'\" ")


def expand_home(value: str) -> str:
    """A path's leading ``~`` or ``~user`` as the user's home folder (``os.path.expanduser``). bash
    expands ``run_dir=~/x`` itself; zsh, sh and Python callers pass the ``~`` on, which made a
    folder named ``~`` in the working folder."""
    return os.path.expanduser(value) if value.startswith("~") else value


def expand_home_in_paths(overrides: Sequence[str]) -> list[str]:
    """The :data:`PATH_KEYS` overrides with :func:`expand_home` applied to their values (a quoted
    value too: the shell left the quotes, and no run folder is named ``~``)."""
    expanded = []
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and key in PATH_KEYS:
            quote = value[0] if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0] else ""
            inner = value[1:-1] if quote else value
            paths = [inner] if quote else inner.split(",")  # a sweep's: -m 'csv=~/a.csv,~/b.csv'
            override = f"{key}={quote}{','.join(map(expand_home, paths))}{quote}"
        expanded.append(override)
    return expanded


def quote_paths(overrides: Sequence[str]) -> list[str]:
    """``resume=<path>`` (and the other :data:`PATH_KEYS`) quoted for Hydra's override grammar when
    the path holds characters it would parse: a sweep job's folder ``0_lr=0.01,..._seed0`` can then
    be pasted back as printed. A value with ``=`` cannot be meant any other way; one with only
    ``,`` (a sweep) or brackets is quoted only when it names an existing path."""
    quoted = []
    for override in overrides:
        key, sep, value = override.partition("=")
        special = _PARSED_BY_HYDRA.intersection(value)
        unquoted = sep and key in PATH_KEYS and special and value[0] not in "'\""
        if unquoted and ("=" in special or Path(value).exists()):
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            override = f"{key}='{escaped}'"
        quoted.append(override)
    return quoted


def path_list_items(items: str) -> list[str]:
    """A list's unquoted items ``a,b,c`` split at the commas that no existing path holds: the
    longest run of comma-joined pieces naming an existing path is one item (a sweep job's folder
    ``0_lr=0.1,gamma=0.9_seed0``, pasted as printed)."""
    pieces, paths, start = items.split(","), [], 0
    while start < len(pieces):
        ends = range(len(pieces), start + 1, -1)
        end = next((end for end in ends if Path(",".join(pieces[start:end])).exists()), start + 1)
        paths.append(",".join(pieces[start:end]))
        start = end
    return paths


def compose_train_config(
    overrides: list[str], env_presets: bool = True, config_dirs: Sequence[str | Path] = ()
) -> DictConfig:
    """``configs/train.yaml`` with ``overrides``, composed without running Hydra's app (for
    ``agents.train``, tests, benchmarks and scripts that train in-process).

    :param env_presets: apply the env's preset as ``scripts/train.py`` does (:mod:`agents.tools.presets`).
    :param config_dirs: the user's own config folders, searched before the project's (as the
        command line's ``--config-dir``): e.g. ``experiment=mine`` finds ``<dir>/experiment/mine.yaml``.
    """
    register_configs()
    missing = [str(folder) for folder in config_dirs if not Path(folder).is_dir()]
    if missing:  # Hydra only warns, and the configs asked for then are "not found"
        raise UserError(f"config_dirs: {', '.join(missing)} is not a folder (give your own config folders)")
    check_override_keys(overrides)
    overrides = check_group_choices(overrides, "train", CONFIG_DIR, [str(folder) for folder in config_dirs])
    overrides = quote_paths(expand_home_in_paths(overrides))
    if env_presets:
        overrides = with_env_preset(overrides, CONFIG_DIR, user_dirs=config_dirs).overrides
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
            return compose(config_name, overrides=list(overrides))
        except yaml.YAMLError as error:  # PyYAML's, passed on by Hydra: four lines and a traceback
            raise UserError(broken_yaml(error)) from None
        except UnicodeDecodeError as error:
            message = not_utf8_message(error, [CONFIG_DIR, *config_dirs])
            if message is None:
                raise
            raise UserError(message) from None


FULL_ERROR_VARIABLE = "HYDRA_FULL_ERROR"
CONFIG_ERRORS = (HydraException, OmegaConfBaseException, yaml.YAMLError)
"""What composing a config raises for a mistake in the command line or in a config file (PyYAML's
error for a file that does not parse: Hydra passes it on); :func:`composition_message` words it."""


def exit_with_user_error(message: object, exit_code: int = USER_ERROR_EXIT_CODE) -> NoReturn:
    """Print ``error: <message>`` to stderr and exit with ``exit_code`` (2: a user's mistake); after
    a signal, what failed is its aftermath: the signal's line instead (:mod:`~agents.runtime.interrupts`)."""
    interrupts.exit_if_interrupted()
    print(f"error: {message}", file=sys.stderr)
    sys.exit(exit_code)


FILE_SYSTEM_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.EFBIG,
                      errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST,
                      errno.ENAMETOOLONG}  # fmt: skip
"""An ``OSError`` with one of these is the machine's answer to a path the user gave, not a bug."""


def exit_with(error: UserError | KeyboardInterrupt | OSError) -> NoReturn:
    """One line for ``error`` and its exit status: a run stopped by a signal says where it was
    saved (130/143), a mistake or an unusable location is ``error: ...`` (2)."""
    if isinstance(error, RunInterrupted):  # not a mistake: say what happened, no "error:"
        print(error, file=sys.stderr)
        sys.exit(error.exit_code)
    if isinstance(error, KeyboardInterrupt):
        interrupts.exit_for_signal(signal.SIGINT)
    if isinstance(error, OSError):
        where = f" {error.filename}" if error.filename else ""
        problem = error.strerror
        if error.filename and error.errno in (errno.ENOTDIR, errno.EEXIST):  # which file is in the way
            problem = folder_problem(Path(os.fsdecode(error.filename)), error)
        if error.errno in STORAGE_ERRNOS:  # a full disk, a quota: Hydra's own files or train.log
            exit_with_user_error(f"cannot write{where}: {problem} (free space, or choose another location)")
        exit_with_user_error(f"cannot use{where}: {problem} (choose another location)")
    exit_with_user_error(error, error.exit_code)


def check_output_folder(folder: Path, key: str) -> None:
    """Create ``folder``, where ``key`` writes its output, and check it takes files, before the
    work (which may take hours) rather than after it: one line and exit 2 otherwise."""
    too_long = name_too_long(folder)
    if too_long is not None:  # (mkdir made the parents before it failed)
        exit_with_user_error(f"{key}: cannot use {folder}: {too_long} (choose a shorter path)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        exit_with_user_error(
            f"{key}: cannot create {folder}: {folder_problem(folder, error)} (choose another location)"
        )
    try:  # a file, not os.access: root passes that where the file system still refuses one (/sys/kernel)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as error:
        exit_with_user_error(
            f"{key}: cannot write into {folder}: {error.strerror or error} (choose another location)"
        )


@contextmanager
def output_folder(folder: Path, key: str) -> Iterator[None]:
    """:func:`check_output_folder` before the work that writes into ``folder``; the folders it
    created are removed again if the work leaves them empty (a refusal, a Ctrl-C before the
    first file), so a command that wrote nothing leaves nothing behind."""
    created = [path for path in (folder, *folder.parents) if not path.exists()]  # innermost first
    try:
        check_output_folder(folder, key)
        yield
    finally:
        for path in created:
            try:
                path.rmdir()
            except OSError:  # not empty: the work wrote into it
                break


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


def run_or_exit(task: Callable[[], T]) -> T:
    """Run ``task``; on :class:`UserError` print ``error: <message>`` to stderr and exit with the
    error's ``exit_code`` (2 for a mistake, 130/143 for an interrupted run); an unwritable or
    full location (:data:`FILE_SYSTEM_ERRORS`) and a Ctrl-C that quit at once are one line too; output
    to a reader that left (``... | head``) ends it quietly, exit 141 (:mod:`~agents.tools.closed_pipe`:
    inside a Hydra app, before Hydra would log the error)."""
    try:
        return task()
    except (UserError, KeyboardInterrupt) as error:
        exit_with(error)
    except UnicodeDecodeError as error:  # a config file saved as UTF-16 (Windows' Notepad)
        message = not_utf8_message(error, [CONFIG_DIR, *config_dirs_given(sys.argv[1:])])
        if message is None:
            interrupts.exit_if_interrupted()
            raise
        exit_with_user_error(message)
    except OSError as error:
        if isinstance(error, BrokenPipeError) and stdout_reader_gone():
            exit_for_the_closed_pipe()
        if error.errno not in FILE_SYSTEM_ERRORS:
            interrupts.exit_if_interrupted()
            raise
        exit_with(error)
    except Exception:  # inside a Hydra app: before Hydra prints "Error executing job"
        interrupts.exit_if_interrupted()
        raise


def in_multirun() -> bool:
    """Whether this process runs a job of a Hydra multirun (``-m``)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _unknown_key_message(cause: ConfigKeyError | ConfigAttributeError) -> str:
    """The closest keys; for a plain dict (``env_kwargs``), how to add a new key."""
    full_key, parent = str(cause.full_key), cause.parent_node
    known = [str(name) for name in parent if name != "hydra"] if isinstance(parent, DictConfig) else []
    plain_dict = isinstance(parent, DictConfig) and OmegaConf.get_type(parent) is dict
    return unknown_key_message(full_key, known, f"add it with +{full_key}=<value>" if plain_dict else "")


def composition_message(error: BaseException) -> str:
    """One line for an exception Hydra, OmegaConf or PyYAML raised while composing the config."""
    if isinstance(error, yaml.YAMLError):
        return broken_yaml(error)
    cause = error.__cause__
    if isinstance(cause, ConfigKeyError | ConfigAttributeError) and cause.full_key:
        return _unknown_key_message(cause)
    if isinstance(error, MissingConfigException) and error.options is not None:
        options = ", ".join(name for name in error.options if not name.endswith("_schema"))
        return f"{first_line(error)} (options: {options})"
    if isinstance(error, OverrideParseException):
        return (
            f"cannot parse override {error.override!r}: {first_line(error)} "
            "(syntax: https://hydra.cc/docs/advanced/override_grammar/basic/)"
        )
    if isinstance(cause, OmegaConfBaseException):
        return f"{first_line(error)}: {first_line(cause)}"
    if isinstance(error, MissingMandatoryValue) and error.full_key:  # a ??? key: say how to give it
        key = error.full_key
        return f"{key}: Missing mandatory value: pass {key}=<value> (--help says what it holds)"
    if isinstance(error, OmegaConfBaseException) and getattr(error, "full_key", None):
        return f"{error.full_key}: {first_line(error)}"
    return _all_lines(error)


def _all_lines(error: BaseException) -> str:
    """The message's lines joined with spaces (up to Hydra's config search path listing)."""
    lines = str(error).split("Config search path:")[0].splitlines()
    return " ".join(line.strip() for line in lines if line.strip()) or type(error).__name__


def config_dirs_given(argv: Sequence[str]) -> list[str]:
    """The folders of Hydra's ``--config-dir DIR`` / ``--config-dir=DIR`` / ``-cd DIR`` arguments."""
    folders = []
    for flag, value in itertools.pairwise(["", *argv]):
        if flag in ("--config-dir", "-cd"):
            folders.append(value)
        elif value.startswith("--config-dir="):
            folders.append(value.partition("=")[2])
    return folders


def check_resolvable(cfg: DictConfig) -> None:
    """Resolve every interpolation and require every ``???`` value, as one-line UserErrors."""
    try:
        OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
    except OmegaConfBaseException as error:
        raise UserError(composition_message(error)) from None


MULTIRUN_FLAGS = ("-m", "--multirun")


def is_multirun(argv: Sequence[str]) -> bool:
    """Hydra's ``-m`` / ``--multirun`` is among ``argv``."""
    return any(arg in MULTIRUN_FLAGS for arg in argv)


def shows_info(argv: Sequence[str]) -> bool:
    """Hydra's ``--info [all|config|...]`` (``-i``) is among ``argv``: Hydra prints it through a log
    handler on stdout that it makes itself, before any of our code runs."""
    return hydra_args(argv)[0].info is not None


OTHER_SWEEPERS = ("hparams_search", "hydra/sweeper")
"""Override keys that pick a sweeper choosing its jobs as it goes (their jobs are unknown ahead)."""


def check_sweeper_has_multirun(argv: Sequence[str]) -> None:
    """A sweeper chosen without ``-m`` (``hparams_search=cartpole_tpe``, ``hydra/sweeper=optuna``,
    ``hydra.sweeper.n_trials=60``): Hydra runs the app once and ignores the sweeper, as it does
    without ``--multirun``. One line saying to add ``-m`` (``--cfg`` and ``--info``, which only
    show the config, take them as they are). ``hydra.mode=MULTIRUN`` without ``-m`` sweeps, but
    without the handling this module gives a sweep on ``-m``: one line saying to give ``-m``.

    :raises UserError: naming the override and the ``-m`` to add."""
    args, _ = hydra_args(argv)
    if args.multirun or args.cfg or args.info or args.shell_completion:
        return
    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if key == "hydra.mode" and value.strip().upper() == "MULTIRUN" and not arg.startswith("~"):
            raise UserError(  # Hydra sweeps, and the handling of Ctrl-C, failed jobs and | head keys on -m
                f"{arg} starts a sweep without what -m sets up (Ctrl-C stopping it, the summary of failed "
                "jobs): give -m instead"
            )
        chosen = key in OTHER_SWEEPERS and value.strip().lower() != "null"  # null: none (the default)
        if sep and not arg.startswith(("-", "~")) and (chosen or key.startswith("hydra.sweeper.")):
            raise UserError(
                f"{arg} sets up a sweep, which runs only as a multirun: add -m (without it Hydra runs "
                "the app once and ignores the sweeper)"
            )


def sweep_jobs(argv: Sequence[str]) -> list[list[str]]:
    """The override list of every job ``scripts/x.py -m <argv>`` launches with Hydra's basic
    sweeper (``a=1,2 b=3,4``: the four combinations); none for other sweepers or options.

    :raises UserError: for ``interval()``, which only a sampling sweeper (Optuna) draws from."""
    if not is_multirun(argv):
        return []
    overrides = [arg for arg in argv if arg not in MULTIRUN_FLAGS]
    keys = [override.lstrip("+~").partition("=")[0] for override in overrides]
    if any(arg.startswith("-") for arg in overrides) or any(key in OTHER_SWEEPERS for key in keys):
        return []
    task = [override for override, key in zip(overrides, keys, strict=True) if not key.startswith("hydra")]
    parsed = OverridesParser.create().parse_overrides(task)
    sampled = next((override for override in parsed if override.is_sweep_override()
                    and not override.is_discrete_sweep()), None)  # fmt: skip
    if sampled is not None:  # Hydra's BasicSweeper raised 'does not support sweep type' (a traceback)
        raise UserError(
            f"{sampled.input_line}: -m lists its jobs (a=1,2, choice(), range()) and cannot draw from "
            "interval(), which needs a search that samples: hydra/sweeper=optuna with "
            "hydra.sweeper.params (as the hparams_search=cartpole_tpe preset does)"
        )
    try:
        return [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except OmegaConfBaseException:  # a sweep nested in a list item: Hydra's "Unexpected type annotation"
        nested = next((override.input_line for override in parsed if not _splits([override])), " ".join(task))
        raise UserError(
            f"{nested}: a sweep's values are one list (a=1,2,3), one range() or one choice(), not a "
            "range() or choice() among other values: write them out (seed=0,1,2,-1)"
        ) from None


def listed_sweep_jobs(argv: Sequence[str]) -> list[list[str]]:
    """:func:`sweep_jobs`, with an override that does not parse as one line too."""
    try:
        return sweep_jobs(argv)
    except HydraException as error:
        raise UserError(composition_message(error)) from None


def _splits(overrides: list[Any]) -> bool:
    """Whether Hydra's basic sweeper can list the jobs of these parsed overrides."""
    try:
        BasicSweeper.split_arguments(overrides, None)
    except OmegaConfBaseException:
        return False
    return True


ENV_SWEEP_DIR = "hydra.sweep.dir=multirun/env_sweep/${now:%Y-%m-%d_%H-%M-%S-%f}"
"""The folder of a sweep over ``env=``: the default names the env, which Hydra resolves with the
base config's env for the sweep (where ``summary.md`` goes) but with each job's own env for its
folder, so the other envs' jobs landed elsewhere and out of the summary."""


def with_env_sweep_dir(argv: Sequence[str]) -> list[str]:
    """``argv``, plus :data:`ENV_SWEEP_DIR` for a multirun over ``env=`` (or over presets, which set
    the env) that names no sweep folder."""
    argv = list(argv)
    if not is_multirun(argv):
        return argv
    keys = {arg.lstrip("+~").partition("=")[0]: arg for arg in argv if "=" in arg and not arg.startswith("-")}
    swept = [key for key in ("env", "experiment") if key in keys and is_sweep(keys[key])]  # presets set env
    if swept and "hydra.sweep.dir" not in keys:
        argv.append(ENV_SWEEP_DIR)
    return argv


def sweep_base_config(argv: Sequence[str], config_name: str, config_path: str) -> DictConfig | None:
    """The config, Hydra's included, that a multirun (``-m``, also a search: ``hparams_search=``)
    starts from: its launcher, its sweeper and its folder; None for a single run."""
    if not is_multirun(argv):
        return None
    args, _ = hydra_args(argv)  # as the app reads it: its switches apart
    kept = [arg for arg in args.overrides if not is_sweep(arg)]  # the sweep folder comes from the base config
    return app_config(args, kept, config_name, config_path)


def app_config(
    args: argparse.Namespace, overrides: list[str], config_name: str, config_path: str
) -> DictConfig:
    """The config, Hydra's included, that the app with switches ``args`` composes from ``overrides``."""
    name, home = args.config_name or config_name, config_path
    if args.config_dir:  # --config-dir DIR: the user's configs; --config-name may name one of them,
        user = Path(args.config_dir).resolve()  # which compose finds only in its primary folder
        home, other = (str(user), config_path) if (user / f"{name}.yaml").is_file() else (config_path, user)
        overrides = [*overrides, f"hydra.searchpath=[file://{other}]"]
    with config_dir_initialized(home):
        return compose(name, overrides=overrides, return_hydra_config=True)


def check_printed_package(argv: Sequence[str], config_name: str, config_path: str) -> None:
    """``--cfg job --package <key>`` prints the config's node ``<key>``: one that is not there is one
    line naming the keys there are (Hydra printed "package 'foo' not found in config", exit 1). A
    config that does not compose is left to Hydra, which says why."""
    args, _ = hydra_args(argv)
    if not args.cfg or args.package in (None, "_global_"):
        return
    try:
        cfg = app_config(args, list(args.overrides), config_name, config_path)
    except CONFIG_ERRORS:
        return
    shown = {"job": [key for key in cfg if key != "hydra"], "hydra": ["hydra"], "all": list(cfg)}[args.cfg]
    printed = OmegaConf.masked_copy(cfg, shown)
    if OmegaConf.select(printed, args.package, throw_on_resolution_failure=False) is None:
        raise UserError(
            f"--package {args.package}: --cfg {args.cfg} has no such node; give one of its keys "
            f"({', '.join(map(str, printed))}), a dotted path into one (e.g. --package "
            f"{next(iter(shown), '_global_')}), or "
            "drop --package"
        )


def check_sweep_dir(argv: Sequence[str], config_name: str, config_path: str) -> None:
    """A multirun into a folder that already holds a sweep (its ``multirun.yaml``) would rewrite
    its jobs' results and summary: one line before anything runs (Hydra would overwrite them)."""
    cfg = sweep_base_config(argv, config_name, config_path)
    if cfg is None:
        return
    folder = Path(str(cfg.hydra.sweep.dir))
    records = [folder / name for name in ("multirun.yaml", "summary.md") if (folder / name).is_file()]
    record = records[0] if records else None
    if record is None and folder.is_dir():  # a sweep whose record was removed, or a search (no multirun.yaml)
        from agents.runtime.trainer import held_checkpoints

        jobs = [held_checkpoints(job) for job in sorted(folder.iterdir()) if job.is_dir()]
        record = next((held[0] for held in jobs if held), None)
    if record is not None:
        raise UserError(
            f"hydra.sweep.dir={folder} already holds a sweep ({record}), whose results this one would "
            "overwrite: choose another hydra.sweep.dir (or move that folder away)"
        )


def check_sweep_settings(argv: Sequence[str], config_name: str, config_path: str) -> DictConfig | None:
    """A multirun's joblib launcher and Optuna sweeper settings, checked before Hydra makes the
    sweep's folder (:mod:`agents.tools.sweep_settings`): joblib and Optuna refused theirs only once
    the sweep had begun, with tracebacks. A config that does not compose is left to Hydra, which
    says why.

    :return: the sweep's base config (:func:`sweep_base_config`), for its launcher; None for a
        single run or a config that does not compose."""
    try:
        cfg = sweep_base_config(argv, config_name, config_path)
    except CONFIG_ERRORS as error:
        if "Could not load 'hydra/launcher/ray'" in str(error):  # ray_local chosen in a config file
            check_launcher_installed("ray_local")
        return None
    if cfg is None:
        return None
    launcher, sweeper = cfg.hydra.get("launcher"), cfg.hydra.get("sweeper")
    if _made_by(launcher, "JoblibLauncher"):
        check_joblib_launcher(launcher)
    if _made_by(launcher, "SlurmLauncher"):
        check_slurm_launcher()
    if _made_by(sweeper, "OptunaSweeper"):
        check_optuna_sweeper(sweeper)
    return cfg


def _made_by(settings: DictConfig | None, class_name: str) -> bool:
    """Whether a Hydra plugin's ``settings`` instantiate the class ``class_name`` (or the dotted path)."""
    return settings is not None and f".{settings.get('_target_', '')}".endswith(f".{class_name}")


def check_group_choices(
    argv: Sequence[str], config_name: str, config_path: str, user_dirs: Sequence[str] = ()
) -> list[str]:
    """``group=null`` for a config group (Hydra's ValueError for it was a traceback): ``argv``
    without it where the group's default is none (``hparams_search=null`` means leaving it out).

    :param user_dirs: the user's own config folders (``--config-dir``), whose groups count too.
    :raises UserError: for a group that needs one of its options (``agent=null``), naming them.
    """
    nulls = {arg: arg.partition("=")[0].lstrip("+") for arg in argv if not arg.startswith("-") and "=" in arg}
    nulls = {arg: key for arg, key in nulls.items()
             if "." not in key and arg.partition("=")[2].strip().lower() == "null"}  # fmt: skip
    if not nulls:
        return list(argv)
    searchpath = ",".join(f"file://{Path(folder).resolve()}" for folder in user_dirs)
    overrides = [f"hydra.searchpath=[{searchpath}]"] if user_dirs else []
    with config_dir_initialized(config_path):
        loader = GlobalHydra.instance().config_loader()
        try:
            options = {arg: loader.get_group_options(key, config_name=config_name, overrides=overrides)
                       for arg, key in nulls.items()}  # fmt: skip
        except yaml.YAMLError as error:  # it reads the primary config's defaults list
            raise UserError(broken_yaml(error)) from None
    entries = load_yaml(Path(config_path) / f"{config_name}.yaml").get("defaults", [])
    none_by_default = {str(key) for entry in entries if isinstance(entry, dict)
                       for key, value in entry.items() if value is None}  # fmt: skip
    dropped = set()
    for arg, group in nulls.items():
        choices = ", ".join(name for name in options[arg] if not name.endswith("_schema"))
        if choices and group not in none_by_default:
            raise UserError(
                f"{arg}: {group} is a config group and takes one of its options ({choices}); leave it out "
                "for its default"
            )
        if choices:
            dropped.add(arg)
    return [arg for arg in argv if arg not in dropped]


SAID_CHECKS = 500
"""A sweep of this many jobs or more (~0.01 s each to check) says at a terminal that it checks them."""


def check_sweep(
    argv: Sequence[str], config_name: str, config_path: str, check: Callable[[DictConfig], object]
) -> set[tuple[str, ...]]:
    """Compose every job of a multirun and ``check`` it before the first job runs: a mistake in
    job 7 must not surface after jobs 0-6 trained. One line naming the job.

    :return: the jobs checked (their override lists), which Hydra's sweeper need not compose
        again (:func:`_hydra_validates_the_jobs_not_checked`)."""
    with suppress(*CONFIG_ERRORS):  # a mistake: the jobs' checks name it
        check_sweep_dir(argv, config_name, config_path)
    jobs = listed_sweep_jobs(argv)
    if not jobs:
        return set()
    if len(jobs) >= SAID_CHECKS and sys.stderr.isatty():  # 20,000 jobs: ~200 s without a word
        print(
            f"checking the {len(jobs):,} jobs of the sweep before the first starts",
            file=sys.stderr,
            flush=True,
        )
    with config_dir_initialized(config_path):
        job_config = SweepJobConfigs(config_name)
        for number, job in enumerate(jobs):
            try:
                cfg = job_config(job)
                check_resolvable(cfg)
                check(cfg)
            except UserError as error:
                raise UserError(f"job #{number} ({' '.join(job)}): {error}") from None
            except yaml.YAMLError as error:  # the file and line say it all, whichever job reads it
                raise UserError(broken_yaml(error)) from None
            except CONFIG_ERRORS as error:
                raise UserError(f"job #{number} ({' '.join(job)}): {composition_message(error)}") from None
    return {tuple(job) for job in jobs}


@contextmanager
def _hydra_validates_the_jobs_not_checked(checked: set[tuple[str, ...]]) -> Iterator[None]:
    """Hydra's sweeper composes every job of a batch before it launches it
    (``Sweeper.validate_batch_is_legal``), as :func:`check_sweep` has just done: for a sweep of 100
    seeds, 10 s twice before the first job. It now composes the first (with the command line's
    ``hydra.*`` settings, which :func:`check_sweep` leaves out) and the jobs not ``checked`` (an
    Optuna trial's)."""
    from hydra.plugins.sweeper import Sweeper

    validate = Sweeper.validate_batch_is_legal

    @functools.wraps(validate)
    def validate_the_rest(self: Sweeper, batch: Sequence[Sequence[str]]) -> None:
        validate(self, [job for number, job in enumerate(batch) if not number or tuple(job) not in checked])

    Sweeper.validate_batch_is_legal = validate_the_rest  # type: ignore[method-assign]
    try:
        yield
    finally:
        Sweeper.validate_batch_is_legal = validate  # type: ignore[method-assign]


_sweep_stopped: list[RunInterrupted] = []
"""A signal that stopped a job of this process's multirun (the jobs after it do not start)."""


def _not_started(exit_code: int) -> RunInterrupted:
    """A job's (or a sweep's) line when a signal stopped the sweep before the job started."""
    return RunInterrupted("not started: the sweep was stopped by a signal", exit_code)


def _stop_sweep(signum: int, frame: object) -> None:
    """The launching process of a multirun on SIGINT/SIGTERM: no KeyboardInterrupt (it would end a
    joblib pool while its workers, which got the signal too, save); the jobs running stop after
    saving and the rest do not start. A second signal quits at once."""
    if not _sweep_stopped:
        _sweep_stopped.append(_not_started(128 + signum))
        request_sweep_stop(signum)  # for a launcher's workers, which may not have got the signal
    quit_at_the_next_signal()
    name = signal.Signals(signum).name
    print(f"\n{name}: stopping the sweep: the jobs running stop (a training job saves first), the rest "
          f"do not start ({quit_hint(signum)})", file=sys.stderr, flush=True)  # fmt: skip


def _first_stop() -> RunInterrupted | None:
    """The first line of this process's sweep's stop: the first job a signal stopped, else that no
    more jobs start; None while no signal has stopped the sweep."""
    if _sweep_stopped:
        return _sweep_stopped[0]
    signum = sweep_stop_signal()  # (a job's own signal handler heard it: during its final save)
    return None if signum is None else _not_started(128 + signum)


def _raise_the_sweeps_stop(runs: Sequence[Any] = ()) -> NoReturn:
    """End a sweep that a signal stopped: the error line of each job of ``runs`` (the launcher's
    batch, not read by the sweeper) that failed, its summary (with the jobs not launched) printed
    once, then one line per stopped job that saved, saying how to resume it (:func:`sweep_stopped`)."""
    from hydra.core.utils import JobStatus

    from agents.tools.sweep import print_summary_once, sweep_stopped

    for run in runs:
        error = run._return_value if run.status == JobStatus.FAILED else None
        if isinstance(error, UserError) and not isinstance(error, RunInterrupted):
            print(f"error: {error}", file=sys.stderr)
    first = _first_stop()
    assert first is not None, "the sweep was not stopped"
    print_summary_once()
    raise sweep_stopped(first)


def _stopped_between_jobs(first: RunInterrupted) -> RunInterrupted:
    """The line and exit status (130/143, those of ``first``) of a sweep that ran to its end: the
    signal came as its last job ended (the launchers end a sweep stopped before that themselves)."""
    from agents.tools.sweep import SUMMARY_NAME, SweepSummary

    sweep_dir = SweepSummary.launched_sweep_dir
    where = f" (results: {sweep_dir / SUMMARY_NAME})" if sweep_dir is not None else ""
    name = signal.Signals(first.exit_code - 128).name
    return RunInterrupted(
        f"{name} came as the sweep ended: every job had finished, none was stopped{where}", first.exit_code
    )


def multirun_job(task: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """One job of a multirun: after a job stopped by Ctrl-C/SIGTERM, the jobs Hydra's launcher
    still starts in this process stop at once (interrupted, nothing trained) instead of running."""
    stopped = _first_stop()  # (in a launcher's worker: the launching process's signal)
    if stopped is not None:
        raise _not_started(stopped.exit_code)
    try:
        return task(cfg)
    except RunInterrupted as error:
        _sweep_stopped.append(error)
        raise


@contextmanager
def _failed_jobs_reported() -> Iterator[None]:
    """A sweep whose job failed (a user error, a signal) prints its summary table before the error's
    one line: Hydra's end-of-sweep callback, which prints it, does not run then. And Hydra's sweeper,
    reading each job's result, wrote ``Error executing job with overrides: [...]`` to stderr
    before raising the job's exception, whose one line :func:`run_or_exit` prints anyway: dropped."""
    from hydra.core.utils import JobReturn, JobStatus

    prop = JobReturn.return_value

    def quiet(job: JobReturn) -> Any:
        if job.status == JobStatus.FAILED:
            from agents.tools.sweep import print_stopped_sweep_summary, sweep_stopped

            error = job._return_value
            if isinstance(error, UserError) and not isinstance(error, RunInterrupted) and _first_stop():
                _raise_the_sweeps_stop([job])  # it failed before the signal stopped others: the lines
                # saying how to resume them come last
            print_stopped_sweep_summary(job)
            raise sweep_stopped(error) if isinstance(error, RunInterrupted) else error
        return prop.fget(job)  # type: ignore[misc]

    JobReturn.return_value = property(quiet, prop.fset)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        JobReturn.return_value = prop  # type: ignore[method-assign]


BARE_WORD_KEYS = {"train": "env", "evaluate": "checkpoint", "compare": "env"}
"""Program (primary config) -> the key a bare word on its command line most likely meant:
``train.py CartPole-v1`` is ``env=CartPole-v1``, ``evaluate.py <run>`` is ``checkpoint=<run>``."""

ENV_ID_SHAPE = re.compile(r"(?:[\w.]+:)?(?:[\w.-]+/)?[\w.-]+-v\d+")
"""What a Gymnasium id looks like (``CartPole-v1``, ``ALE/Pong-v5``, ``my_envs:Maze-v0``)."""


def check_override_keys(overrides: Sequence[str]) -> None:
    """``=1`` or ``+=1`` (no key before the ``=``) is one line; Hydra's ValueError ("Config group
    override must be a string or a list. Got int") was a traceback."""
    for word in overrides:
        key, sep, _ = word.partition("=")
        if sep and not word.startswith("-") and not key.lstrip("+~").strip():
            raise UserError(f"{word!r} has no key before '=': settings are key=value (e.g. seed=1)")


def check_bare_words(config_name: str, overrides: Sequence[str]) -> None:
    """A word with no ``=`` (``train.py CartPole-v1``) is one line saying which ``key=`` it needs; Hydra
    said "cannot parse override 'CartPole-v1': Error parsing override" and linked its grammar."""
    previous = ""
    for word in overrides:
        a_path = "/" in word.partition("=")[0] and Path(word).exists()  # a sweep job's folder: "0_lr=0.1"
        if ("=" in word and not a_path) or word.startswith("~"):
            previous = word
            continue
        if not word.strip():
            raise UserError(f"an empty argument ({word!r}) is not key=value: an unset shell variable?")
        if previous.endswith("="):  # "key= value": the shell split it
            hint = f"did you mean {previous}{word} (no space after =)?"
        else:
            key = _bare_word_key(config_name, word)
            hint = f"did you mean {key}={word}?" if key else "settings are key=value"
        raise UserError(f"{word!r} is not key=value: {hint} (--help lists the keys)")


def _bare_word_key(config_name: str, word: str) -> str | None:
    """The key a bare ``word`` most likely meant, where one does: a run folder or checkpoint file
    for training is ``resume=``, an env id ``env=``, anything for evaluation ``checkpoint=``."""
    import gymnasium as gym

    from agents.runtime.checkpoint import CHECKPOINT_NAME

    key = BARE_WORD_KEYS.get(config_name)
    path = Path(word)
    if config_name == "train" and (
        (path / CHECKPOINT_NAME).is_file() or (path.suffix == ".pt" and path.is_file())
    ):
        return "resume"
    if key == "env" and not (ENV_ID_SHAPE.fullmatch(word) or word in gym.registry):
        return None
    return key


def check_options(argv: Sequence[str], config_name: str = "") -> None:
    """Hydra's own options (``-m``, ``--cfg job``, ``--config-dir``, ...) pass; any other ``-x``, one
    without its value (``--config-dir`` with no folder) and a bare word are one line each (Hydra's
    parser would print its usage, eight lines, and exit 0 or 2)."""
    args, unknown = hydra_args(argv)
    flags = [arg for arg in unknown if arg.startswith("-")]
    if flags:
        raise UserError(
            f"unknown option {flags[0]}: settings are key=value without dashes (e.g. seed=1); the options "
            "are -m (sweep), --cfg job, --config-dir <folder>, --help"
        )
    modes = {"--run": args.run, "-m": args.multirun, "--cfg": args.cfg, "--info": args.info,
             "--shell-completion": args.shell_completion}  # fmt: skip
    given = [option for option, value in modes.items() if value]
    if len(given) > 1:  # Hydra's ValueError for it was a traceback
        raise UserError(f"{' and '.join(given)} cannot be combined: give one of {', '.join(modes)}")
    names = [item.partition("=")[0] for item in args.overrides]
    subcommands = [name for name in names if name in ("install", "uninstall", "query")]
    if args.shell_completion and len(subcommands) != 1:  # as Hydra counts them
        raise UserError("--shell-completion needs one of install=bash, uninstall=bash or query=bash")
    if args.shell_completion and subcommands == ["query"] and "COMP_LINE" not in os.environ:  # Hydra's
        raise UserError(  # KeyError was a traceback
            "-sc query=bash answers a Tab: bash runs it with the line typed so far in COMP_LINE, which "
            f'is not set here; to turn tab completion on, run: eval "$({program_name()} -sc install=bash)"'
        )
    if args.package is not None and not args.cfg:  # Hydra ignored it and ran
        raise UserError(f"--package selects what --cfg prints: give --cfg job --package {args.package}")
    folder = args.config_dir  # Hydra: "Additional config directory '<cwd>/<folder>' not found"
    if folder is not None and not Path(folder).is_dir():
        setting = f"; {folder} looks like a setting: put it after the folder" if "=" in folder else ""
        raise UserError(f"--config-dir {folder}: no such folder{setting} (give your own configs' folder)")
    check_override_keys(args.overrides)
    check_bare_words(config_name, args.overrides)
    rerun = args.experimental_rerun
    if rerun is not None and not Path(rerun).is_file():  # Hydra's ValueError was a traceback
        raise UserError(f"--experimental-rerun {rerun}: no such file (give a job's .hydra/config.pickle)")
    if rerun is not None and not _a_hydra_config_pickle(Path(rerun)):  # pickle.load's EOFError
        raise UserError(
            f"--experimental-rerun {rerun}: not a job's .hydra/config.pickle (Hydra unpickles the file, "
            "which runs whatever code it names: give only a pickle Hydra wrote)"
        )


def _a_hydra_config_pickle(path: Path) -> bool:
    """Whether ``path`` holds a pickle (protocol 2+) named as Hydra names the one it writes, read
    without unpickling it (a text file or an empty one made ``pickle.load`` raise a traceback)."""
    try:
        with path.open("rb") as handle:
            return path.name == "config.pickle" and handle.read(1) == b"\x80"
    except OSError:
        return False


def hydra_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """``argv`` as Hydra's app parses it: its switches apart from the overrides, and what it does
    not know. An option without its value (``--config-dir`` with no folder) or with one it does not
    take (``--cfg foo``) is one line; argparse printed its usage, eight lines.

    :raises UserError: naming the option and a value it takes."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.exit_on_error = False
    try:
        return parser.parse_known_args(list(argv))
    except argparse.ArgumentError as error:  # "--config-dir/-cd", "expected one argument"
        option = (error.argument_name or "").split("/")[0]
        example = "" if "choose from" in error.message else f" (e.g. {OPTION_EXAMPLES.get(option, option)})"
        raise UserError(f"{option}: {error.message}{example}") from None


OPTION_EXAMPLES = {
    "--config-dir": "--config-dir <folder of your configs>",
    "--config-name": "--config-name train",
    "--config-path": "--config-path <folder>",
    "--cfg": "--cfg job",
    "--info": "--info config",
    "--package": "--package _global_",
    "--experimental-rerun": "--experimental-rerun <run>/.hydra/config.pickle",
}
"""Hydra's options that take a value, each with one it takes."""


def hydra_main(
    config_name: str, config_path: str = CONFIG_DIR, env_presets: bool = False,
    check_jobs: Callable[[DictConfig], object] | None = None, writes_no_folder: bool = False,
) -> Callable[[Callable[[DictConfig], T]], Callable[[], None]]:  # fmt: skip
    """``@hydra.main`` whose user mistakes (composition errors, :class:`UserError`) print one line
    and exit 2.

    :param config_name: the primary config in ``config_path`` (``train``, ``evaluate``, ...).
    :param config_path: the config folder; the project's ``configs/`` by default.
    :param env_presets: put the env's preset in front of the command line and say which
        (:func:`~agents.tools.presets.with_env_preset`).
    :param check_jobs: for ``-m``: called on every job's composed config before the first job
        runs (:func:`check_sweep`); it raises :class:`UserError` for a job that would fail.
    :param writes_no_folder: the program keeps no Hydra record (``output_subdir: null``, run dir
        ``.``): a ``-m`` sweep's ``multirun.yaml`` and empty job folders go to a temporary folder,
        removed at the end, unless ``hydra.sweep.dir`` is given.
    :return: a decorator turning ``task(cfg) -> value`` into the script's ``main()``. The task's
        return value still reaches Hydra (sweepers optimise it).
    """

    def decorate(task: Callable[[DictConfig], T]) -> Callable[[], None]:
        started = False
        preset_line: str | None = None  # said once the run starts, not before an error
        before: FoldersBefore | None = None  # what existed before Hydra made the run's folder

        @functools.wraps(task)
        def checked_task(cfg: DictConfig) -> T:
            nonlocal started
            quiet_log_lines_to_a_closed_stdout()
            if in_multirun():  # Hydra marks the job FAILED and writes its result; main() says why
                run_or_exit(lambda: check_resolvable(cfg))
                started = True
                with stdout_quiet_once_the_reader_leaves():  # ``| head``: the job still ends as it ends
                    if preset_line:
                        print(preset_line)
                    return multirun_job(task, cfg)
            return run_or_exit(lambda: without_an_unused_output_dir(lambda: started_task(cfg), before))

        def started_task(cfg: DictConfig) -> T:
            nonlocal started
            check_resolvable(cfg)
            started = True
            if preset_line:
                print(preset_line)
            return task(cfg)

        app = hydra.main(version_base="1.3", config_path=config_path, config_name=config_name)(checked_task)

        @functools.wraps(task)
        def main() -> None:
            nonlocal started, preset_line, before
            started = False
            folder_key = "hydra.sweep.dir" if is_multirun(sys.argv[1:]) else "hydra.run.dir"
            before = FoldersBefore.now(parsed_override_value(sys.argv[1:], folder_key))
            run_or_exit(lambda: check_options(sys.argv[1:], config_name))
            run_or_exit(lambda: check_sweeper_has_multirun(sys.argv[1:]))
            run_or_exit(lambda: check_printed_package(sys.argv[1:], config_name, config_path))
            run_or_exit(lambda: check_launcher_installed(override_value(sys.argv[1:], "hydra/launcher")))
            sys.argv[1:] = quote_paths(expand_home_in_paths(sys.argv[1:]))
            if env_presets:
                user_dirs = config_dirs_given(sys.argv[1:])
                choice = run_or_exit(lambda: with_env_preset(sys.argv[1:], config_path, user_dirs=user_dirs))
                sys.argv[1:] = with_env_sweep_dir(choice.overrides)
                preset_line = choice.line()
            user_dirs = config_dirs_given(sys.argv[1:])
            sys.argv[1:] = run_or_exit(
                lambda: check_group_choices(sys.argv[1:], config_name, config_path, user_dirs)
            )
            sweep_config = run_or_exit(lambda: check_sweep_settings(sys.argv[1:], config_name, config_path))
            checked: set[tuple[str, ...]] = set()
            if check_jobs is not None:
                checked = run_or_exit(lambda: check_sweep(sys.argv[1:], config_name, config_path, check_jobs))
            else:  # the jobs are listed (a sweep Hydra cannot list is one line), each checked as it runs
                run_or_exit(lambda: listed_sweep_jobs(sys.argv[1:]))
            if os.environ.get(FULL_ERROR_VARIABLE) == "1":  # the user asked for every traceback
                app()
                return
            os.environ[FULL_ERROR_VARIABLE] = "1"
            sweep = is_multirun(sys.argv[1:])
            if sweep:  # Optuna imports alembic, whose plugin set-up logs a line per plugin through Hydra's
                logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)  # handler: stdout
            stop_folder = tempfile.TemporaryDirectory(prefix="softmax-reinforce-sweep-") if sweep else None
            previous = {}
            if stop_folder is not None:
                if writes_no_folder and override_value(sys.argv[1:], "hydra.sweep.dir") is None:
                    sys.argv.append(f"hydra.sweep.dir={Path(stop_folder.name) / 'sweep'}")
                os.environ[SWEEP_STOP_VARIABLE] = str(Path(stop_folder.name) / "stop")  # workers inherit it
                from agents.tools.sweep import SweepSummary

                SweepSummary.start(None)  # (its folder is set as it starts: an earlier sweep's is no help)
                previous = {sig: signal.signal(sig, _stop_sweep) for sig in (signal.SIGINT, signal.SIGTERM)}
            launcher = sweep_config.hydra.get("launcher") if sweep_config is not None else None
            # ``| head``: a sweep's jobs run on; ``--info``'s log lines (Hydra's own handler, whose
            # BrokenPipeError logging printed as a traceback per line) go to the null device
            quiet_stdout = sweep or shows_info(sys.argv[1:])
            try:
                with (
                    _failed_jobs_reported() if sweep else nullcontext(),
                    logging_settings_said_in_one_line(_folder_remover(before)),
                    _hydra_validates_the_jobs_not_checked(checked) if sweep else nullcontext(),
                    basic_launcher_stops_with_the_sweep(_raise_the_sweeps_stop) if sweep else nullcontext(),
                    stdout_quiet_once_the_reader_leaves() if quiet_stdout else nullcontext(),
                    submitit_jobs_hear_ctrl_c_once()
                    if _made_by(launcher, SUBMITIT_LOCAL_LAUNCHER)
                    else nullcontext(),
                    joblib_workers_deaf_between_jobs(_raise_the_sweeps_stop)
                    if _made_by(launcher, JOBLIB_LAUNCHER)
                    else nullcontext(),
                ):
                    run_or_exit(app)
                stopped = _first_stop() if sweep else None
                if stopped is not None:  # a signal came, yet no job the sweeper read was stopped
                    exit_with(_stopped_between_jobs(stopped))
                if quiet_stdout and reader_left():  # every job ran and is recorded; the summary went nowhere
                    exit_for_the_closed_pipe()
            except CONFIG_ERRORS as error:
                if started:
                    raise
                exit_with_user_error(composition_message(error))
            except SystemExit as exit_info:
                if sweep and exit_info.code == USER_ERROR_EXIT_CODE:
                    _remove_an_unused_sweep_folder(before)
                raise
            finally:
                os.environ.pop(FULL_ERROR_VARIABLE, None)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                if stop_folder is not None:
                    os.environ.pop(SWEEP_STOP_VARIABLE, None)
                    stop_folder.cleanup()

        return main

    return decorate


HYDRA_RECORD = {".hydra": ("config.yaml", "hydra.yaml", "overrides.yaml")}
"""What Hydra writes into a run's folder before the run starts (besides an empty job log)."""
SWEEP_RECORD = ("multirun.yaml",)
"""What Hydra writes into a sweep's folder before its jobs start."""
RUN_OUTPUT_ROOTS = ("outputs", "runs", "multirun")
"""The working folder's subfolders that hold the default run folders (``outputs/<env>/<time>``)."""


@dataclass
class FoldersBefore:
    """The folders that existed before Hydra made a run's folder, and what a given one held: a run
    that fails before writing anything removes only what it added."""

    folders: set[Path]
    given: Path | None = None
    given_entries: set[str] = field(default_factory=set)

    @classmethod
    def now(cls, given: str | None) -> FoldersBefore:
        """What exists now; ``given``: the ``hydra.run.dir`` of the command line (as Hydra reads it)."""
        cwd = Path(os.path.abspath("."))
        folders = {cwd, *cwd.parents}
        for root in RUN_OUTPUT_ROOTS:
            with suppress(OSError):
                folders |= {cwd / root, *(path for path in (cwd / root).iterdir() if path.is_dir())}
        folder = Path(os.path.abspath(given)) if given else None
        entries: set[str] = set()
        if folder is not None:
            folders |= {path for path in (folder, *folder.parents) if path.is_dir()}
            with suppress(OSError):
                entries = set(os.listdir(folder))
        return cls({path for path in folders if path.is_dir()}, folder, entries)


def without_an_unused_output_dir(task: Callable[[], T], before: FoldersBefore | None = None) -> T:
    """Run ``task`` (a single Hydra run's body); if it fails (a user's mistake, a signal) before
    writing anything, remove what Hydra added for it: its ``.hydra/`` record, the empty job log, the
    run folder's lock and, when they did not exist ``before``, the run folder and its parents (then
    empty, e.g. ``outputs/<env>/``). A mistaken command line leaves nothing behind, and a folder or
    file that existed before is never removed."""
    try:
        return task()
    except BaseException:
        _folder_remover(before)()
        raise


def _folder_remover(before: FoldersBefore | None) -> Callable[[], None]:
    """A call that removes what Hydra added for the run it is making (:func:`_remove_what_the_run_added`)."""

    def remove() -> None:
        from hydra.core.hydra_config import HydraConfig

        if before is not None and HydraConfig.initialized() and HydraConfig.get().runtime.output_dir:
            _remove_what_the_run_added(Path(os.path.abspath(HydraConfig.get().runtime.output_dir)), before)

    return remove


def _remove_an_unused_sweep_folder(before: FoldersBefore) -> None:
    """A sweep that ended in a one-line error before any job wrote its result (a logging setting
    Python refused, in the launching process or a joblib worker) removes what Hydra added for it:
    each job's folder as :func:`_remove_what_the_run_added` removes a run's, then the sweep's
    ``multirun.yaml`` and, when they did not exist ``before``, its folder and their parents."""
    from agents.tools.sweep import RESULT_NAME, SweepSummary

    if SweepSummary.launched_sweep_dir is None:  # (no summary callback: evaluate.py -m)
        return
    folder = Path(os.path.abspath(SweepSummary.launched_sweep_dir))
    kept = SweepSummary.entries_before or set()  # what the folder held as the sweep started
    if SweepSummary.entries_before is not None:  # (the command line may name it by an interpolation)
        before = FoldersBefore(before.folders | {folder}, folder, kept)
    try:
        if any(folder.rglob(RESULT_NAME)):
            return
        jobs = [path for path in folder.iterdir() if path.is_dir() and not path.is_symlink()]
    except OSError:
        return
    for job in jobs:
        if job.name not in kept:
            _remove_what_the_run_added(job, before)
    _remove_what_the_run_added(folder, before, SWEEP_RECORD)


def _remove_what_the_run_added(
    folder: Path, before: FoldersBefore, record_files: tuple[str, ...] = ()
) -> None:
    """Remove what ``folder`` (a run's, or with ``record_files`` a sweep's) holds that Hydra added,
    and the folder, where that is all it holds."""
    existed = folder in before.folders
    kept = before.given_entries if folder == before.given else set()
    try:
        added = [folder / name for name in os.listdir(folder) if name not in kept]
        records = {path: list(path.iterdir())
                   for path in added if path.name in HYDRA_RECORD and path.is_dir()}  # fmt: skip
        files = [path for path in added if path.is_file() and not path.is_symlink()]
        empty_logs = [path for path in files if path.suffix == ".log" and not path.stat().st_size]
        unused = all(
            (path in records and all(file.name in HYDRA_RECORD[path.name] for file in records[path]))
            or path in empty_logs
            or (path in files and path.name in (LOCK_NAME, *record_files))
            for path in added
        )
    except OSError:
        return
    if not unused:
        return
    with suppress(OSError):
        for path in [*(file for listed in records.values() for file in listed), *files]:
            path.unlink()
        for record in records:
            record.rmdir()
        if existed:
            return
        folder.rmdir()
        parent = folder.parent
        while parent not in before.folders:
            parent.rmdir()  # OSError when it is not empty: stop there
            parent = parent.parent


HYDRA_APP_SWITCHES = ("-m", "--multirun", "-c", "--cfg", "-p", "--package", "--info", "-cp", "--config-path",
                      "-cn", "--config-name", "-cd", "--config-dir", "--run", "-r")  # fmt: skip
"""Switches of a Hydra app, which a composed-only program does not take."""


def compose_or_exit(config_name: str, argv: Sequence[str]) -> DictConfig:
    """:func:`compose_config` for a command line, answering a mistake as :func:`hydra_main` does
    (an unknown key, a wrong type, a ``--flag``: one line, exit 2)."""
    for arg in argv:
        if arg in HYDRA_APP_SWITCHES:
            exit_with_user_error(
                f"{arg!r}: this program composes its config once and is no Hydra app (no sweeps, no "
                "--cfg); run it once per setting (--help lists the keys)"
            )
        if arg.startswith("-"):
            key = arg.lstrip("-").partition("=")[0].replace("-", "_")
            exit_with_user_error(f"{arg!r} is not key=value (try {key}=<value>; --help lists the keys)")
        if arg.lstrip("+~").startswith("hydra.") and "=" in arg:  # Hydra ignored hydra.run.dir here
            exit_with_user_error(
                f"{arg!r}: this program is no Hydra app and has no hydra.* settings (it writes no output "
                "folder); --help lists its keys"
            )
    run_or_exit(lambda: check_override_keys(argv))
    run_or_exit(lambda: check_bare_words(config_name, argv))
    try:
        cfg = compose_config(config_name, argv)
    except CONFIG_ERRORS as error:
        exit_with_user_error(composition_message(error))
    except UserError as error:
        exit_with(error)
    run_or_exit(lambda: check_resolvable(cfg))
    return cfg


S = TypeVar("S")


def field_docs(schema: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (read from its source, as the YAML comments
    repeat them), first line only."""
    import ast
    import inspect

    body = ast.parse(inspect.getsource(schema)).body[0].body
    docs = {}
    for node, after in itertools.pairwise(body):
        documented = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and documented:
            docs[node.target.id] = " ".join(str(after.value.value).split())
    return docs


def options_help(schema: type, usage: str) -> str:
    """``--help`` of a :func:`parse_options` program: usage, then each key, its default and meaning."""
    defaults = OmegaConf.to_container(OmegaConf.structured(schema))
    lines = [f"usage: {as_started(usage)}", "", "keys (key=value; lists as key=[a,b]):"]
    for key, doc in field_docs(schema).items():
        lines.append(f"  {key}={defaults[key]}".ljust(30) + f"  {doc}")
    return "\n".join(lines)


def parse_options(
    schema: type[S], argv: Sequence[str], usage: str, bounds: Mapping[str, tuple[float, float]] | None = None
) -> S:
    """``key=value`` arguments over the dataclass ``schema``, the one command-line style of every
    program here (the Hydra apps take the same form). Values are parsed as YAML, as Hydra parses
    them (``runs=[a,b]``, ``long=true``); ``--help`` lists the keys. A mistake prints one line and
    exits 2.

    :param usage: the usage line for ``--help``.
    :param bounds: ``key -> (low, high)``: the value must be finite and within them (a key left
        null, an optional key's default, is not checked).
    :return: an instance of ``schema``.
    """
    if any(arg in ("-h", "--help") for arg in argv):
        print(options_help(schema, usage))
        sys.exit(0)
    fields = list(field_docs(schema))
    base = OmegaConf.structured(schema)
    dotlist = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep:
            exit_with_user_error(f"{arg!r} is not key=value (usage: {as_started(usage)})")
        if key.split(".")[0] not in fields:
            exit_with_user_error(unknown_key_message(key, fields))
        if isinstance(base.get(key), ListConfig) and not value.startswith("["):
            value = f"[{value}]"  # one item: runs=outputs/x means runs=[outputs/x]
        if isinstance(base.get(key), ListConfig) and not set("'\"").intersection(value):
            items = path_list_items(value[1:-1])
            if key in PATH_OPTIONS and any(item.strip().startswith("~") for item in items):
                items = [expand_home(item.strip()) for item in items]
                value = json.dumps(items)
            if any("," in item for item in items):  # folders with commas: quoted, as YAML needs them
                value = json.dumps(items)
        elif key in PATH_OPTIONS:
            value = expand_home(value)
        dotlist.append(f"{key}={value}")
        try:  # each item alone, so that a value YAML cannot read is named (PyYAML's traceback was)
            OmegaConf.from_dotlist(dotlist[-1:])
        except yaml.YAMLError as error:
            parts = [getattr(error, name, None) for name in ("context", "problem")]
            what = ", ".join(str(part) for part in parts if part) or first_line(error)
            exit_with_user_error(
                f"cannot parse {arg!r}: {what} (values are YAML: close the bracket, brace or quote)"
            )
    try:
        cfg = OmegaConf.merge(base, OmegaConf.from_dotlist(dotlist))
        OmegaConf.to_container(cfg, throw_on_missing=True)
    except OmegaConfBaseException as error:
        exit_with_user_error(composition_message(error))
    for key, (low, high) in (bounds or {}).items():
        value = cfg[key]
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            limits = f"in [{low}, {high}]" if math.isfinite(high) else f">= {low}"
            exit_with_user_error(f"{key}={value} must be {limits}")
    return OmegaConf.to_object(cfg)
