"""A multirun's jobs checked before the first starts: each job's config composed and validated
(:func:`check_sweep`), the sweep's folder, sweeper and launcher settings; a mistake in job 40 is
one line before job 1 trains, not a failure an hour in."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import yaml
from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob
from hydra.errors import HydraException, MissingConfigException
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from agents.errors import UserError, broken_yaml, first_line
from agents.runtime.run_lock import SweepFolderLock
from agents.tools.composing import (
    CONFIG_ERRORS,
    app_config,
    app_config_composed,
    check_resolvable,
    composition_message,
    config_dir_initialized,
    config_path_is_a_module,
    primary_config,
    searchpath_override,
)
from agents.tools.job_configs import SweepJobConfigs
from agents.tools.override_values import shown_job
from agents.tools.override_words import (
    SWEPT_KEYS_VARIABLE,
    hydra_args,
    is_multirun,
    swept_keys,
)
from agents.tools.presets import is_sweep, override_key, parsed_override, with_overrides
from agents.tools.sweep_settings import (
    check_joblib_launcher,
    check_launcher_installed,
    check_optuna_sweeper,
    check_slurm_launcher,
)
from agents.tools.usage import CONFIG_DIR, config_dirs_given

OTHER_SWEEPERS = ("hparams_search", "hydra/sweeper")
"""Override keys that pick a sweeper choosing its jobs as it goes (their jobs are unknown ahead)."""


SEARCH_SPACE_KEY = "hydra.sweeper.params."
"""Where a search preset's spaces live, each under its dotted key (``agent.lr``) as one name."""


def search_space_line(override: str) -> str:
    """``hydra.sweeper.params.agent.lr=0.05``: a space given under the sweeper's own key, which a
    command line cannot reach (the preset's spaces are keyed ``agent.lr``, one name with a dot). The
    value as the sweeper reads it: ``'0,1'`` there is the sweep ``0,1`` (quoted on the key itself,
    one word)."""
    key, _, value = override.partition("=")
    task_key = key.removeprefix(SEARCH_SPACE_KEY)
    with suppress(HydraException):
        parsed = OverridesParser.create().parse_override(override).value()
        value = parsed if isinstance(parsed, str) else value
    return (
        f"{override} gives a sweep under the sweeper's own key: give it on the key itself, "
        f"{task_key}={value or '...'}, as the sweep presets do"
    )


def check_sweeper_has_multirun(argv: Sequence[str]) -> None:
    """A sweeper chosen without ``-m`` (``hparams_search=cartpole_tpe``, ``hydra/sweeper=optuna``,
    ``hydra.sweeper.n_trials=60``): Hydra runs the app once and ignores the sweeper, as it does
    without ``--multirun``. One line saying to add ``-m`` (``--cfg`` and ``--info``, which only
    show the config, take them as they are). ``hydra.mode=MULTIRUN`` without ``-m`` sweeps, but
    without the handling this module gives a sweep on ``-m``: one line saying to give ``-m``.

    A search space given under the sweeper's own key (``hydra.sweeper.params.agent.lr=0.05``, with
    or without ``-m``) says how to give it (:func:`search_space_line`).

    :raises UserError: naming the override and the ``-m`` to add; an option that does not exist
        is left to Hydra's line (it said "add -m", and with it "Could not find")."""
    args, _ = hydra_args(argv)
    for arg in argv:  # with -m too: the sweep's checks failed on it with an AttributeError traceback
        key, sep, value = arg.lstrip("+").partition("=")
        if key.startswith(SEARCH_SPACE_KEY) and sep and not arg.startswith("~"):
            raise UserError(search_space_line(arg.lstrip("+")))
        if key in ("hydra.launcher", "hydra.sweeper") and sep and not arg.startswith("~"):
            group = key.replace(".", "/")
            raise UserError(
                f"{arg} replaces Hydra's {key.split('.')[1]} settings with one value: choose one with "
                f"{group}={value} (and set its keys as {key}.<key>=...)"
            )
    if args.multirun or args.cfg or args.info or args.shell_completion:
        return

    def exists(group: str, option: str) -> bool:  # (the loader only where a group option is given)
        return option.strip() in config_loader(CONFIG_DIR, config_dirs_given(argv)).get_group_options(group)

    for arg in argv:
        key, sep, value = arg.lstrip("+").partition("=")
        if key == "hydra.mode" and value.strip().upper() == "MULTIRUN" and not arg.startswith("~"):
            raise UserError(  # Hydra sweeps, and the handling of Ctrl-C, failed jobs and | head keys on -m
                f"{arg} starts a sweep without what -m sets up (Ctrl-C stopping it, the summary of failed "
                "jobs): give -m instead"
            )
        chosen = key in OTHER_SWEEPERS and value.strip().lower() != "null"  # null: none (the default)
        if chosen and not exists(key, value):
            continue  # Hydra's line names the options (it was "add -m", then "Could not find")
        if sep and not arg.startswith(("-", "~")) and (chosen or key.startswith("hydra.sweeper.")):
            raise UserError(
                f"{arg} sets up a sweep, which runs only as a multirun: add -m (without it Hydra runs "
                "the app once and ignores the sweeper)"
            )
        launcher = key == "hydra/launcher" and value.strip().lower() not in ("null", "basic")
        if launcher and not exists(key, value):
            continue
        if sep and not arg.startswith(("-", "~")) and (launcher or key.startswith("hydra.launcher.")):
            raise UserError(  # hydra/launcher=submitit_slurm trained here, on this machine, without a word
                f"{arg} sets up where a sweep's jobs run, which applies only to a multirun: add -m (without "
                "it Hydra runs the app once, here, and ignores the launcher)"
            )


def sweep_jobs(argv: Sequence[str], config_params: Sequence[str] | None = None) -> list[list[str]]:
    """The override list of every job ``scripts/x.py -m <argv>`` launches with Hydra's basic
    sweeper (``a=1,2 b=3,4``: the four combinations); none for other sweepers or options.

    :param config_params: the sweep's ``hydra.sweeper.params`` from its config files, which the
        basic sweeper puts before the command line's (:func:`config_sweep_params`); given, the
        composed config says the sweeper is the basic one (a preset ``hparams_search=mine`` may
        keep it), None: the command line alone says so.
    :raises UserError: for ``interval()``, which only a sampling sweeper (Optuna) draws from, and for
        a sweep that lists no value (``range(5,0)``)."""
    if not is_multirun(argv):
        return []
    args, unknown = hydra_args(argv)  # --config-name, --config-path, --config-dir: the jobs' configs
    overrides = list(args.overrides)
    keys = [override_key(override) for override in overrides]
    shows = args.cfg or args.info or args.shell_completion or args.help or args.hydra_help
    if unknown or shows or (config_params is None and any(key in OTHER_SWEEPERS for key in keys)):
        return []
    task = [override for override, key in zip(overrides, keys, strict=True) if not key.startswith("hydra")]
    task = [*(config_params or ()), *task]
    parsed = OverridesParser.create(
        config_loader=config_loader(CONFIG_DIR, config_dirs_given(argv))
    ).parse_overrides(task)
    sampled = next((override for override in parsed if override.is_sweep_override()
                    and not override.is_discrete_sweep()), None)  # fmt: skip
    if sampled is not None:  # Hydra's BasicSweeper raised 'does not support sweep type' (a traceback)
        raise UserError(
            f"{sampled.input_line}: -m lists its jobs (a=1,2, choice(), range()) and cannot draw from "
            "interval(), which needs a search that samples: add hydra/sweeper=optuna (and "
            "hydra.sweeper.n_trials=N), or a search preset (hparams_search=cartpole_tpe)"
        )
    try:
        jobs = [job for batch in BasicSweeper.split_arguments(parsed, None) for job in batch]
    except OmegaConfBaseException:  # a sweep nested in a list item: Hydra's "Unexpected type annotation"
        nested = next((override.input_line for override in parsed if not _splits([override])), " ".join(task))
        raise UserError(
            f"{nested}: a sweep's values are one list (a=1,2,3), one range() or one choice(), not a "
            "range() or choice() among other values: write them out (seed=0,1,2,-1)"
        ) from None
    empty = next((override.input_line for override in parsed if _lists_nothing(override)), None)
    if not jobs and empty is not None:  # Hydra launched 0 jobs, and the sweep exited 0 as if it had run
        raise UserError(
            f"{empty} lists no value, so the sweep would run no job (range(start, stop) counts up from "
            "start to before stop, as Python's range does; range(5,0,-1) counts down)"
        )
    return jobs


def _lists_nothing(override: Any) -> bool:
    """Whether the parsed ``override`` is a sweep of no value (``range(5,0)``); a ``glob()`` that
    matches no option is not counted: :func:`with_globs_listed` names the group's options."""
    return (
        override.is_discrete_sweep()
        and not isinstance(override.value(), Glob)
        and next(override.sweep_string_iterator(), None) is None
    )


def config_loader(config_dir: str | Path, user_dirs: Sequence[str | Path] = ()) -> Any:
    """Hydra's config loader over ``config_dir`` and the user's own config folders (``--config-dir``):
    what ``glob()`` lists a config group's options with (``features=glob(r*)``; without one, Hydra's
    parser said "ConfigLoader is not set")."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.utils import create_config_search_path

    search_path = create_config_search_path(f"file://{Path(config_dir).resolve()}")
    for folder in user_dirs:
        search_path.prepend("command-line", f"file://{Path(folder).resolve()}")
    return ConfigLoaderImpl(config_search_path=search_path)


def with_globs_listed(argv: Sequence[str], config_dir: str, user_dirs: Sequence[str] = ()) -> list[str]:
    """``argv`` with each ``group=glob(...)`` written out as the options it matches
    (``features=glob(r*)`` -> ``features=raw,rbf``), this project's structured schemas
    (``agent_schema``, which Hydra's glob lists too) left out. A glob that matches no option is one
    line (Hydra launched 0 jobs and exited 0).

    :raises UserError: naming the glob and the group's options."""
    listed, parser = [], None
    for arg in argv:
        if arg.startswith("-") or "glob(" not in arg:
            listed.append(arg)
            continue
        parser = parser or OverridesParser.create(config_loader=config_loader(config_dir, user_dirs))
        try:
            (parsed,) = parser.parse_overrides([arg])
        except HydraException:  # Hydra's own error comes later
            listed.append(arg)
            continue
        if not isinstance(parsed.value(), Glob):
            listed.append(arg)
            continue
        names = [name for name in parsed.sweep_string_iterator() if not name.endswith("_schema")]
        if not names:
            (every,) = parser.parse_overrides([f"{parsed.key_or_group}=glob(*)"])
            options = [name for name in every.sweep_string_iterator() if not name.endswith("_schema")]
            known = ", ".join(options) or f"none: is {parsed.key_or_group} a config group?"
            raise UserError(f"{arg} matches no option of {parsed.key_or_group} ({known})")
        listed.append(f"{arg[: len(arg) - len(arg.lstrip('+'))]}{parsed.key_or_group}={','.join(names)}")
    return listed


def listed_sweep_jobs(argv: Sequence[str], config_params: Sequence[str] | None = None) -> list[list[str]]:
    """:func:`sweep_jobs`, with an override that does not parse as one line too."""
    try:
        return sweep_jobs(argv, config_params)
    except HydraException as error:
        raise UserError(composition_message(error)) from None


def config_sweep_params(base: DictConfig | None) -> list[str] | None:
    """The ``key=values`` of ``hydra.sweeper.params`` in a basic sweep's base config (a preset of
    one's own that sweeps ``seed: 0,1,2``), as Hydra's basic sweeper writes them before the command
    line's: its jobs were not listed, so none was checked before the first, and two sharing a folder
    rewrote each other's records. None for another sweeper (a search draws its own), or a config
    that did not compose.

    :raises: what resolving a value raises (``seed: ${oc.env:SEEDS}`` unset)."""
    sweeper = None if base is None else base.hydra.get("sweeper")
    if not made_by(sweeper, "BasicSweeper"):
        return None
    return [f"{key}={value}" for key, value in (sweeper.get("params") or {}).items()]


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
    keys = {override_key(arg): arg for arg in argv if "=" in arg and not arg.startswith("-")}
    swept = [key for key in ("env", "experiment") if key in keys and is_sweep(keys[key])]  # presets set env
    if swept and "hydra.sweep.dir" not in keys:
        return with_overrides(argv, ENV_SWEEP_DIR)  # (after a trailing -m, Hydra refused it)
    return argv


def sweep_base_config(argv: Sequence[str], config_name: str, config_path: str) -> DictConfig | None:
    """The config, Hydra's included, that a multirun (``-m``, also a search: ``hparams_search=``)
    starts from: its launcher, its sweeper and its folder; None for a single run."""
    if not is_multirun(argv):
        return None
    args, _ = hydra_args(argv)  # as the app reads it: its switches apart
    return app_config(args, base_overrides(args), config_name, config_path)


def base_overrides(args: argparse.Namespace) -> list[str]:
    """The overrides of a multirun's base config (Hydra's app ``args``): all but the sweeps, whose
    values are the jobs'; the sweep's folder, sweeper and launcher come from it."""
    return [arg for arg in args.overrides if not is_sweep(arg)]


JOB_NAMING_KEYS = ("hydra.job.num", "hydra.job.id", "hydra:job.num", "hydra:job.id")
"""Interpolations that give every job of a sweep its own ``hydra.sweep.subdir`` (the default names
the number): ``${hydra.job.num}``, or through Hydra's resolver, ``${hydra:job.num}``."""


def written_subdir(cfg: DictConfig) -> str:
    """A sweep's ``hydra.sweep.subdir`` as written (its interpolations unresolved), from its config."""
    return str(OmegaConf.to_container(cfg.hydra.sweep, resolve=False)["subdir"])  # type: ignore[index]


def names_the_job(subdir: str) -> bool:
    """Whether a ``hydra.sweep.subdir`` (as written) names the job (:data:`JOB_NAMING_KEYS`)."""
    return any(key in subdir for key in JOB_NAMING_KEYS)


def leaves_the_sweeps_folder(subdir: str) -> bool:
    """Whether a ``hydra.sweep.subdir`` (as written) may name a folder outside ``hydra.sweep.dir``:
    a ``..`` in it, or an absolute path."""
    return ".." in subdir or os.path.isabs(subdir)


def check_job_folders(argv: Sequence[str], config_name: str, config_path: str, jobs: list[list[str]]) -> None:
    """Each job's folder (``hydra.sweep.dir``/``hydra.sweep.subdir``), resolved as Hydra's launcher
    does (``load_sweep_config`` over the base config, then the job's number): two jobs sharing one,
    or a job's folder that already holds a run (``../<an earlier sweep's job>``), is one line before
    the first job. The job was refused as it started, but Hydra had already rewritten that run's
    ``.hydra/`` record with its overrides, and its ``result.json`` said the refusal. A subdir that
    does not resolve is one line too (Hydra left a sweep folder behind). Not resolved (~0.08 s a
    job): a subdir that names the job's number, which tells every job apart, and stays below the
    sweep's folder (no ``..``, not absolute), which :func:`check_sweep_dir` checks.

    :raises UserError: naming the jobs, the folder and what to put in the subdir."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig

    from agents.runtime.run_folder import held_checkpoints

    args, _ = hydra_args(argv)
    hydra_config = HydraConfig.instance()
    before = hydra_config.cfg
    try:
        swept = {SWEPT_KEYS_VARIABLE: swept_keys(argv)}  # ${short_overrides:...} keeps them, as in the jobs
        with (
            mock.patch.dict(os.environ, swept),
            app_config_composed(args, base_overrides(args), config_name, config_path) as base,
        ):
            subdir = written_subdir(base)
            if names_the_job(subdir) and not leaves_the_sweeps_folder(subdir):
                return
            OmegaConf.select(base, "hydra.sweep.dir")  # ${now:...} cached, as the sweeper's folder has it
            loader = GlobalHydra.instance().config_loader()
            if len(jobs) >= SAID_FOLDERS:
                say_at_a_terminal(f"resolving hydra.sweep.subdir={subdir} for each of the {len(jobs):,} jobs")
            first_in: dict[str, int] = {}
            for number, job in enumerate(jobs):
                folder = _job_folder(loader, base, job, number, subdir)
                first = first_in.setdefault(folder, number)
                if first != number:
                    raise UserError(
                        f"hydra.sweep.subdir={subdir} gives jobs #{first} ({shown_job(jobs[first])}) and "
                        f"#{number} ({shown_job(job)}) one folder ({folder}), where the second would "
                        "overwrite the first's records: put what tells the jobs apart in it (their number: "
                        "${hydra.job.num})"
                    )
                held = held_checkpoints(Path(folder))
                if held:
                    raise UserError(
                        f"hydra.sweep.subdir={subdir} puts job #{number} ({shown_job(job)}) in {folder}, "
                        f"which already holds a run ({held[0]}) whose records it would overwrite: choose "
                        "another hydra.sweep.subdir (the default names each job)"
                    )
    except (*CONFIG_ERRORS, ValueError):  # the job's own check, or Hydra as the job starts, says why
        return
    finally:
        hydra_config.cfg = before


def _job_folder(loader: Any, base: DictConfig, job: list[str], number: int, subdir: str) -> str:
    """The folder Hydra's launcher gives job ``number`` of the sweep with base config ``base``
    (symbolic links followed: two names for one folder are one folder).

    :raises UserError: for a ``hydra.sweep.dir``/``subdir`` that does not resolve for it."""
    from hydra.core.hydra_config import HydraConfig

    cfg = loader.load_sweep_config(base, list(job))
    with open_dict(cfg):
        cfg.hydra.job.num, cfg.hydra.job.id = number, str(number)
    HydraConfig.instance().set_config(cfg)  # ${hydra:...} reads the job's own
    try:
        return os.path.realpath(os.path.join(str(cfg.hydra.sweep.dir), str(cfg.hydra.sweep.subdir)))
    except (OmegaConfBaseException, ValueError) as error:  # ValueError: a resolver's own
        raise UserError(
            f"hydra.sweep.subdir={subdir} does not resolve for job #{number} ({shown_job(job)}): "
            f"{first_line(str(error))}"
        ) from None


def check_printed_package(argv: Sequence[str], config_name: str, config_path: str) -> None:
    """``--cfg job --package <key>`` prints the config's node ``<key>``: one that is not there is one
    line naming the keys there are (Hydra printed "package 'foo' not found in config", exit 1). A
    config that does not compose is left to Hydra, which says why."""
    args, _ = hydra_args(argv)
    if not args.cfg or args.package in (None, "_global_"):
        return
    try:
        cfg = app_config(args, list(args.overrides), config_name, config_path)
    except (*CONFIG_ERRORS, ValueError):  # ValueError: Hydra's for group=null, said later in one line
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
    check_sweep_dir_of(sweep_base_config(argv, config_name, config_path))


def check_sweep_dir_of(cfg: DictConfig | None) -> None:
    """:func:`check_sweep_dir` on the sweep's base config (None: a single run)."""
    if cfg is not None:
        folder = Path(str(cfg.hydra.sweep.dir))
        SweepFolderLock.check_free(folder)  # a sweep running there: its pid (its record is no hint)
        refuse_a_sweeps_folder(folder)


def refuse_a_sweeps_folder(folder: Path) -> None:
    """:class:`UserError` when ``folder`` holds a sweep: its record (``multirun.yaml``,
    ``summary.md``), or a job's checkpoint (a sweep whose record was removed, or a search); or a
    run of its own (``hydra.sweep.subdir=.``: its job was refused, but Hydra had rewritten the run's
    ``.hydra/`` record for it, and the sweep added its own files there)."""
    from agents.runtime.run_folder import SWEEP_RECORDS, held_checkpoints

    records = [folder / name for name in SWEEP_RECORDS if (folder / name).is_file()]
    record = records[0] if records else None
    if record is None and folder.is_dir():
        jobs = [held_checkpoints(job) for job in [folder, *sorted(folder.iterdir())] if job.is_dir()]
        record = next((held[0] for held in jobs if held), None)
    if record is not None:
        what = "a run" if record.parent == folder and record.name not in SWEEP_RECORDS else "a sweep"
        raise UserError(
            f"hydra.sweep.dir={folder} already holds {what} ({record}), whose results this one would "
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
    if made_by(launcher, "JoblibLauncher"):
        check_joblib_launcher(launcher)
    if made_by(launcher, "SlurmLauncher"):
        check_slurm_launcher()
    if made_by(sweeper, "OptunaSweeper"):
        check_optuna_sweeper(sweeper)
    return cfg


def made_by(settings: DictConfig | None, class_name: str) -> bool:
    """Whether a Hydra plugin's ``settings`` instantiate the class ``class_name`` (or the dotted path)."""
    return settings is not None and f".{settings.get('_target_', '')}".endswith(f".{class_name}")


SAID_CHECKS = 500
"""A sweep of this many jobs or more (~0.01 s each to check) says at a terminal that it checks them."""

SAID_FOLDERS = 50
"""A sweep of this many jobs or more whose folders are resolved (~0.08 s a job) says so at a terminal."""


def say_at_a_terminal(line: str) -> None:
    """``line`` on stderr where a person watches it (not in a log or a pipe)."""
    if sys.stderr.isatty():
        print(line, file=sys.stderr, flush=True)


def job_searchpath(argv: Sequence[str], other_folders: Sequence[str]) -> list[str]:
    """The ``hydra.searchpath=[...]`` override that composes a job with ``argv``'s own
    ``hydra.searchpath`` and the other config folders (:func:`primary_config`), as Hydra's app
    does (none without either). The jobs checked before a sweep left the command line's
    ``hydra.searchpath`` out: ``features=raw,mine`` with ``mine`` in it was refused as "Could not
    find 'features/mine'"."""
    given = parsed_override(list(argv), "hydra.searchpath")
    return searchpath_override([*(map(str, given) if isinstance(given, list) else ()), *other_folders])


def check_sweep(
    argv: Sequence[str], config_name: str, config_path: str, check: Callable[[DictConfig], object],
    job_folders: bool = True,
) -> set[tuple[str, ...]]:  # fmt: skip
    """Compose every job of a multirun and ``check`` it before the first job runs: a mistake in
    job 7 must not surface after jobs 0-6 trained. One line naming the job.

    :param job_folders: whether the jobs write into their Hydra folders (:func:`check_job_folders`;
        an evaluation writes nothing there).

    :return: the jobs checked (their override lists), which Hydra's sweeper need not compose
        again (:func:`hydra_validates_the_jobs_not_checked`)."""
    base = None
    with suppress(*CONFIG_ERRORS):  # a mistake: the jobs' checks name it
        base = sweep_base_config(argv, config_name, config_path)
        check_sweep_dir_of(base)
    try:
        config_params = config_sweep_params(base)
    except CONFIG_ERRORS as error:  # seed: ${oc.env:SEEDS} unset: before Hydra makes the sweep's folder
        raise UserError(composition_message(error)) from None
    jobs = listed_sweep_jobs(argv, config_params)
    args, _ = hydra_args(argv)  # -cn, -cp: the jobs' own primary config
    if config_path_is_a_module(args):  # -cp pkg://...: composed by Hydra alone (these compose folders)
        return set()
    primary_name, primary_folder, other_folders = primary_config(args, config_name, config_path)
    searchpath = job_searchpath(argv, other_folders)  # -cd my_configs: its options (experiment=mine)
    if not jobs:
        search = searched(base)  # (composed above)
        if search is None:
            return set()
        check_search_folders(search)
        probes = search_probe_jobs(search, argv)
        with config_dir_initialized(primary_folder):
            job_config = SweepJobConfigs(primary_name)
            for probe in probes:
                try:
                    check(job_config([*searchpath, *probe.job]))
                except UserError as error:
                    raise UserError(probe.failed(error)) from None
                except CONFIG_ERRORS as error:  # Hydra's own error for the trial comes as it runs,
                    refused = probe.refused(error)  # unless its config refuses a value of the space
                    if refused is not None:
                        raise UserError(refused) from None
        return set()
    if len(jobs) >= SAID_CHECKS:  # 20,000 jobs: ~200 s without a word
        say_at_a_terminal(f"checking the {len(jobs):,} jobs of the sweep before the first starts")
    with config_dir_initialized(primary_folder):
        job_config = SweepJobConfigs(primary_name)
        for number, job in enumerate(jobs):
            try:
                cfg = job_config([*searchpath, *job])
                check_resolvable(cfg)
                check(cfg)
            except UserError as error:
                raise UserError(f"job #{number} ({shown_job(job)}): {error}") from None
            except yaml.YAMLError as error:  # the file and line say it all, whichever job reads it
                raise UserError(broken_yaml(error)) from None
            except CONFIG_ERRORS as error:
                if isinstance(error, MissingConfigException) and error.missing_cfg_file == primary_name:
                    raise UserError(composition_message(error)) from None  # no job's own mistake
                raise UserError(f"job #{number} ({shown_job(job)}): {composition_message(error)}") from None
    if job_folders:
        check_job_folders(argv, config_name, config_path, jobs)
    return {tuple(job) for job in jobs}


class SearchProbe(NamedTuple):
    """A job that :func:`search_probe_jobs` composes and checks before a search's first trial."""

    job: list[str]
    """Its overrides: a value of the space, the space's other parameters at their first value."""
    settings: list[str]
    """The values of the space it tries (``agent.baseline=mean``); the job with every parameter at
    its first value tries each of them."""
    whole_numbers: dict[str, str]
    """Key -> ``int(interval(...))`` for the space's ``interval()`` with whole ends: Hydra reads
    ``interval(1,8)``'s ends as floats, and an integer key refuses any float (1.0 too), so every
    trial drawn from it failed."""
    typed: frozenset[str] = frozenset()
    """The space's keys given on the command line (the others come from ``hydra.sweeper.params``)."""

    @property
    def setting(self) -> str:
        """The value of the space it is first to try."""
        return self.settings[0]

    def taken_out(self, setting: str) -> str:
        """Where to take ``setting`` out of the space: the command line's sweep, or the sweeper's."""
        key = override_key(setting)
        where = f"the command line's {key}=..." if key in self.typed else f"hydra.sweeper.params.{key}"
        return f"take it out of the space ({where})"

    def failed(self, error: UserError) -> str:
        """The line for a job that the run's checks refuse."""
        return (f"the search space's {self.setting} would fail its trials: {error}; "
                f"{self.taken_out(self.setting)}")  # fmt: skip

    def refused(self, error: Exception) -> str | None:
        """The line for a job whose config refuses a value of the space (``Value '1.0' of type 'float'
        could not be converted to Integer``); None for another composition error."""
        key = getattr(error.__cause__, "full_key", None)
        setting = next((setting for setting in self.settings if override_key(setting) == key), None)
        if setting is None:  # a group's option that is not there: "Could not find 'features/nosuch'"
            setting = next((setting for setting in self.settings if _missing_option(setting, error)), None)
        if setting is None:
            return None
        remedy = f"for an integer key give {self.whole_numbers[key]}" if key in self.whole_numbers else None
        return (f"the search space's {setting} would fail its trials: {composition_message(error)}; "
                f"{remedy or self.taken_out(setting)}")  # fmt: skip


def _missing_option(setting: str, error: Exception) -> bool:
    """Whether composing failed for want of ``setting``'s option in its group (``features=nosuch``)."""
    group, _, option = setting.partition("=")
    return isinstance(error, MissingConfigException) and error.missing_cfg_file == f"{group}/{option}"


def search_base_config(argv: Sequence[str], config_name: str, config_path: str) -> DictConfig | None:
    """The base config of an Optuna search (:func:`sweep_base_config`); None for another sweep, a
    single run or a config that does not compose (composing says why)."""
    try:
        return searched(sweep_base_config(argv, config_name, config_path))
    except CONFIG_ERRORS:
        return None


def searched(base: DictConfig | None) -> DictConfig | None:
    """A sweep's base config ``base`` where its sweeper is Optuna's (a search), else None."""
    return base if base is not None and made_by(base.hydra.get("sweeper"), "OptunaSweeper") else None


def check_search_folders(cfg: DictConfig) -> None:
    """A search's trials are drawn as it runs, so their folders cannot be compared ahead (as
    :func:`check_job_folders` does a listed sweep's): its ``hydra.sweep.subdir`` must name the trial,
    and stay below ``hydra.sweep.dir`` (no ``..``, not absolute), or a trial's folder could be another
    trial's or an earlier run's, whose ``.hydra/`` record Hydra rewrote before the trial was refused.
    Read from the composed config: one set in a config file (a preset of one's own) counts too.

    :param cfg: the search's base config (:func:`search_base_config`).
    :raises UserError: naming the subdir and what to write instead."""
    subdir = written_subdir(cfg)
    if not names_the_job(subdir):
        raise UserError(
            f"hydra.sweep.subdir={subdir} does not name the trial, and two trials of a search may draw "
            "values that give them one folder (the second rewrote the first's records): put the trial's "
            "number in it (e.g. hydra.sweep.subdir=${hydra.job.num}_<yours>) or leave it out"
        )
    if leaves_the_sweeps_folder(subdir):
        raise UserError(
            f"hydra.sweep.subdir={subdir} puts a search's trials outside hydra.sweep.dir, where a trial "
            "could land in an earlier run's folder and rewrite its records: keep the subdir below the "
            "sweep's folder (no .., not absolute), or choose another hydra.sweep.dir"
        )


def search_probe_jobs(cfg: DictConfig, argv: Sequence[str]) -> list[SearchProbe]:
    """An Optuna search draws its trials as it goes, so no list of jobs can be checked ahead; a
    setting of its space that no trial can run with (``agent.baseline=mean`` under
    ``seed_mode=batched``) failed the search at the first trial that drew it. These probe jobs
    take each value of a ``choice()`` or ``range()`` of the space and each end of an
    ``interval()``, the other parameters at their first value.

    :param cfg: the search's base config (:func:`search_base_config`)."""
    sweeper = cfg.hydra.sweeper
    args, _ = hydra_args(argv)
    task = [arg for arg in args.overrides if not override_key(arg).startswith("hydra")]
    space = {str(key): str(value) for key, value in (sweeper.get("params") or {}).items()}
    space.update({override_key(arg): arg.partition("=")[2] for arg in task if is_sweep(arg)})
    typed = frozenset(override_key(arg) for arg in task if is_sweep(arg))
    fixed = [arg for arg in task if not is_sweep(arg)]
    for key in map(override_key, fixed):  # a key the command line fixes leaves the space (as Optuna's
        space.pop(key, None)  # sweeper drops it): agent.baseline=none with the preset's choice()
    parser = OverridesParser.create()
    values: dict[str, list[str]] = {}
    whole_numbers: dict[str, str] = {}
    for key, value in space.items():
        if key.startswith("hydra"):
            continue
        try:
            (override,) = parser.parse_overrides([f"{key}={value}"])
        except HydraException:  # the sweeper's own error comes as it starts
            return []
        check_search_space_value(f"{key}={value}", override)
        values[key], whole = probe_values(override), whole_interval(override)
        if whole is not None and is_integer(OmegaConf.select(cfg, key, throw_on_missing=False)):
            whole_numbers[key] = whole  # (a list's, a bool's or a float's key is not helped by int())
    first = {key: found[0] for key, found in values.items() if found}
    probes: dict[tuple[str, ...], SearchProbe] = {}
    for key, found in values.items():
        for value in found:
            job = [*fixed, *(f"{name}={chosen}" for name, chosen in {**first, key: value}.items())]
            probe = probes.setdefault(tuple(job), SearchProbe(job, [], whole_numbers, typed))
            probe.settings.append(f"{key}={value}")
    return list(probes.values())


def is_integer(value: object) -> bool:
    """Whether a config's ``value`` is an integer (not a bool, which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def whole_interval(override: Any) -> str | None:
    """``int(interval(1, 8))`` (in its ``tag(log, ...)``) for a search space's ``interval(1,8)``,
    whose ends Hydra reads as floats; None for any other override."""
    from hydra.core.override_parser.types import IntervalSweep

    swept = override.value() if override.is_sweep_override() else None
    if not isinstance(swept, IntervalSweep) or not isinstance(swept.start, float):
        return None
    if not (swept.start.is_integer() and swept.end.is_integer()):
        return None
    whole = f"int(interval({int(swept.start)}, {int(swept.end)}))"
    return f"tag(log, {whole})" if "log" in swept.tags else whole


def check_search_space_value(setting: str, override: Any) -> None:
    """One value of an Optuna search space (``seed=range(0,5)``, ``agent.lr=interval(0.1,1)``),
    parsed by Hydra, as the sweeper turns it into an Optuna distribution
    (``hydra_optuna_sweeper/_impl.py``): a range is an integer distribution from its ``start`` up
    to its ``stop``, an interval a float one, and Optuna refused ``range(5,0)``, ``range(0,5,-1)``,
    ``interval(0.1,0.01)`` and a log interval from 0 with a traceback once the search had begun.

    :param setting: the override as written, which the line names.
    """
    from hydra.core.override_parser.types import IntervalSweep, RangeSweep

    swept = override.value() if override.is_sweep_override() else None
    if isinstance(swept, RangeSweep) and swept.shuffle:  # drawn as a choice of its values
        if _lists_nothing(override):
            raise UserError(f"{setting} lists no value for the search to choose from")
    elif isinstance(swept, RangeSweep) and (swept.step <= 0 or swept.start > swept.stop):
        low, high = sorted((swept.start, swept.stop))
        raise UserError(
            f"{setting}: a search draws range(low, high) from low up to high, so it needs low <= high "
            f"and a step > 0 (write range({low},{high}))"
        )
    elif isinstance(swept, IntervalSweep) and swept.start > swept.end:
        raise UserError(
            f"{setting}: interval(low, high) needs low <= high (write interval({swept.end},{swept.start}))"
        )
    elif isinstance(swept, IntervalSweep) and "log" in swept.tags and swept.start <= 0:
        raise UserError(f"{setting}: a log interval needs low > 0 (its logarithm is drawn)")


def probe_values(override: Any) -> list[str]:
    """The values of a parsed search-space override that :func:`search_probe_jobs` tries: a
    ``choice()``'s each, a ``range()``'s and an ``interval()``'s two ends (``seed=range(0,100000)``:
    two jobs, not 100,000; Optuna's sweeper draws a range's ``stop`` too, as its distribution's
    high end), a plain value itself."""
    from hydra.core.override_parser.types import IntervalSweep, RangeSweep

    if not override.is_sweep_override():
        return [override.get_value_element_as_str()]
    swept = override.value()
    if isinstance(swept, RangeSweep) and not swept.shuffle:  # (shuffled: a choice of its values)
        return list(dict.fromkeys(str(end) for end in (swept.start, swept.stop)))
    if override.is_discrete_sweep():
        return list(override.sweep_string_iterator())
    return [str(end) for end in (swept.start, swept.end)] if isinstance(swept, IntervalSweep) else []


@contextmanager
def hydra_validates_the_jobs_not_checked(checked: set[tuple[str, ...]]) -> Iterator[None]:
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
