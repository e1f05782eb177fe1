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
becomes one line too (:func:`~agents.tools.exits.run_or_exit`). A user who sets
``HYDRA_FULL_ERROR=1`` themselves gets Hydra's own traceback for its composition errors (and its
exit 1); the project's own checks stay one line.

What the command line and the config are checked for before that lives beside it:
:mod:`~agents.tools.override_words`, :mod:`~agents.tools.override_paths`,
:mod:`~agents.tools.composing`, :mod:`~agents.tools.sweep_checks`; a stopped sweep in
:mod:`~agents.tools.multirun_stop`; the folders Hydra made and a run did not use in
:mod:`~agents.tools.output_folders`.
"""

from __future__ import annotations

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
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TypeVar

import hydra
import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.errors import USER_ERROR_EXIT_CODE, UserError, first_line
from agents.runtime import interrupts
from agents.runtime.config import unknown_key_message
from agents.runtime.sweep_stop import SWEEP_STOP_VARIABLE
from agents.tools.closed_pipe import (
    exit_for_the_closed_pipe,
    quiet_log_lines_to_a_closed_stdout,
    quiet_once_the_readers_leave,
    reader_left,
    stdout_quiet_once_the_reader_leaves,
)
from agents.tools.composing import (
    CONFIG_ERRORS,
    check_group_choices,
    check_resolvable,
    compose_config,
    composition_message,
)
from agents.tools.exits import exit_with, exit_with_user_error, run_or_exit
from agents.tools.launchers import (
    JOBLIB_LAUNCHER,
    SUBMITIT_LOCAL_LAUNCHER,
    basic_launcher_stops_with_the_sweep,
    joblib_workers_deaf_between_jobs,
    submitit_jobs_hear_ctrl_c_once,
)
from agents.tools.logging_settings import logging_settings_said_in_one_line
from agents.tools.multirun_stop import (
    failed_jobs_reported,
    first_stop,
    in_multirun,
    multirun_job,
    raise_the_sweeps_stop,
    search_with_no_completed_trial_said,
    stop_sweep,
    stopped_between_jobs,
)
from agents.tools.output_folders import (
    FoldersBefore,
    folder_remover,
    remove_an_unused_sweep_folder,
    without_an_unused_output_dir,
)
from agents.tools.override_paths import (
    PATH_OPTIONS,
    config_path_from_cwd,
    config_path_given,
    expand_home,
    expand_home_in_paths,
    path_list_items,
    quote_paths,
)
from agents.tools.override_words import (
    SWEPT_KEYS_VARIABLE,
    check_bare_words,
    check_options,
    check_override_keys,
    is_multirun,
    shows_info,
    swept_keys,
)
from agents.tools.presets import (
    override_text,
    override_value,
    parsed_override_value,
    with_env_preset,
    with_overrides,
)
from agents.tools.sweep_checks import (
    check_printed_package,
    check_sweep,
    check_sweep_settings,
    check_sweeper_has_multirun,
    hydra_validates_the_jobs_not_checked,
    listed_sweep_jobs,
    made_by,
    with_env_sweep_dir,
    with_globs_listed,
)
from agents.tools.sweep_settings import check_launcher_installed
from agents.tools.usage import CONFIG_DIR, VERSION_HELP, as_started, config_dirs_given, help_requested

T = TypeVar("T")

FULL_ERROR_VARIABLE = "HYDRA_FULL_ERROR"


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
                run_or_exit(refuse_chdir)
                run_or_exit(lambda: check_resolvable(cfg))
                started = True
                with quiet_once_the_readers_leave():  # ``2>&1 | head``: the job still ends as it ends
                    if preset_line:
                        print(preset_line)
                    return multirun_job(task, cfg)
            with quiet_once_the_readers_leave():  # ``2>&1 | head``: the run trains on, saves and ends
                result = run_or_exit(lambda: without_an_unused_output_dir(lambda: started_task(cfg), before))
            if reader_left():
                exit_for_the_closed_pipe()
            return result

        def started_task(cfg: DictConfig) -> T:
            nonlocal started
            refuse_chdir()
            refuse_a_sweeper_without_multirun()
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
            sys.argv[1:] = quote_paths(
                expand_home_in_paths(config_path_from_cwd(sys.argv[1:])), is_multirun(sys.argv[1:])
            )
            user_dirs = config_dirs_given(sys.argv[1:])  # (what follows rewrites no config folder)
            if is_multirun(sys.argv[1:]):  # glob(): the options it lists, as each job's own
                sys.argv[1:] = run_or_exit(lambda: with_globs_listed(sys.argv[1:], config_path, user_dirs))
            if env_presets:
                primary = config_path_given(sys.argv[1:]) or config_path  # -cp: that tree's own index
                choice = run_or_exit(lambda: with_env_preset(sys.argv[1:], primary, user_dirs=user_dirs))
                sys.argv[1:] = with_env_sweep_dir(choice.overrides)
                preset_line = choice.line()
            sys.argv[1:] = run_or_exit(
                lambda: check_group_choices(sys.argv[1:], config_name, config_path, user_dirs)
            )
            sweep_config = run_or_exit(lambda: check_sweep_settings(sys.argv[1:], config_name, config_path))
            checked: set[tuple[str, ...]] = set()
            if check_jobs is not None:
                checked = run_or_exit(
                    lambda: check_sweep(
                        sys.argv[1:], config_name, config_path, check_jobs, job_folders=not writes_no_folder
                    )
                )
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
                    sys.argv[1:] = with_overrides(
                        sys.argv[1:], f"hydra.sweep.dir={Path(stop_folder.name) / 'sweep'}"
                    )
                os.environ[SWEEP_STOP_VARIABLE] = str(Path(stop_folder.name) / "stop")  # workers inherit it
                from agents.tools.sweep import SweepSummary

                os.environ[SWEPT_KEYS_VARIABLE] = swept_keys(sys.argv[1:])  # the job folders' names keep them

                SweepSummary.start(None)  # (its folder is set as it starts: an earlier sweep's is no help)
                previous = {
                    sig: signal.signal(sig, stop_sweep)
                    for sig in interrupts.heard((signal.SIGINT, signal.SIGTERM))
                }
            launcher = sweep_config.hydra.get("launcher") if sweep_config is not None else None
            # ``| head``: a sweep's jobs run on; ``--info``'s log lines (Hydra's own handler, whose
            # BrokenPipeError logging printed as a traceback per line) go to the null device
            quiet_stdout = sweep or shows_info(sys.argv[1:])
            try:
                with (
                    failed_jobs_reported() if sweep else nullcontext(),
                    logging_settings_said_in_one_line(folder_remover(before)),
                    hydra_validates_the_jobs_not_checked(checked) if sweep else nullcontext(),
                    basic_launcher_stops_with_the_sweep(raise_the_sweeps_stop) if sweep else nullcontext(),
                    quiet_once_the_readers_leave()
                    if sweep
                    else stdout_quiet_once_the_reader_leaves()
                    if quiet_stdout
                    else nullcontext(),
                    submitit_jobs_hear_ctrl_c_once()
                    if made_by(launcher, SUBMITIT_LOCAL_LAUNCHER)
                    else nullcontext(),
                    joblib_workers_deaf_between_jobs(raise_the_sweeps_stop)
                    if made_by(launcher, JOBLIB_LAUNCHER)
                    else nullcontext(),
                ):
                    run_or_exit((lambda: search_with_no_completed_trial_said(app)) if sweep else app)
                stopped = first_stop() if sweep else None
                if stopped is not None:  # a signal came, yet no job the sweeper read was stopped
                    exit_with(stopped_between_jobs(stopped))
                if quiet_stdout and reader_left():  # every job ran and is recorded; the summary went nowhere
                    exit_for_the_closed_pipe()
            except CONFIG_ERRORS as error:
                if started:
                    raise
                exit_with_user_error(composition_message(error))
            except SystemExit as exit_info:
                if sweep and exit_info.code == USER_ERROR_EXIT_CODE:
                    remove_an_unused_sweep_folder(before)
                raise
            finally:
                os.environ.pop(FULL_ERROR_VARIABLE, None)
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
                if stop_folder is not None:
                    from agents.tools.sweep import SweepSummary

                    os.environ.pop(SWEEP_STOP_VARIABLE, None)
                    os.environ.pop(SWEPT_KEYS_VARIABLE, None)
                    stop_folder.cleanup()

                    SweepSummary.let_go()  # its folder (after the clean-up above removed what it could)

        return main

    return decorate


def refuse_chdir() -> None:
    """``hydra.job.chdir=true`` (Hydra < 1.2's default) that moved the job into its output folder: the
    program then read ``run_dir=``, ``resume=``, ``checkpoint=`` and ``module:Env-v0`` imports from
    there (``run_dir=runs/a`` trained into ``runs/a/runs/a``, ``resume=runs/a`` found no checkpoint).
    One line instead: the run writes its files into its own folder without it."""
    from hydra.core.hydra_config import HydraConfig

    moved = HydraConfig.initialized() and os.getcwd() != os.path.abspath(HydraConfig.get().runtime.cwd)
    if moved:  # (evaluate.py's run folder is "."; chdir there moves nothing)
        raise UserError(
            "hydra.job.chdir=true is not supported: paths on the command line are read from where you "
            "start the program, and the run writes into its own folder without it: leave it out (or set "
            "hydra.job.chdir=false)"
        )


def refuse_a_sweeper_without_multirun() -> None:
    """A sweep that a config file sets up (an experiment of the user's with ``override
    /hydra/sweeper: optuna`` or ``hydra.sweeper.params``) in a run without ``-m``: Hydra trains once
    and ignores it. One line, as for one on the command line
    (:func:`~agents.tools.sweep_checks.check_sweeper_has_multirun`)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return
    sweeper = HydraConfig.get().sweeper
    if not made_by(sweeper, "BasicSweeper") or sweeper.get("params"):
        raise UserError(
            f"the config sets up a sweep (hydra.sweeper: {sweeper.get('_target_')}"
            f"{', with params' if sweeper.get('params') else ''}), which runs only as a multirun: add -m "
            "(without it Hydra runs the app once and ignores the sweeper)"
        )


HYDRA_APP_SWITCHES = ("-m", "--multirun", "-c", "--cfg", "-p", "--package", "--info", "-cp", "--config-path",
                      "-cn", "--config-name", "-cd", "--config-dir", "--run", "-r", "--hydra-help",
                      "-sc", "--shell-completion")  # fmt: skip
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
        ambiguous = re.match(r"Ambiguous value for argument '(.+)'", str(error))
        if ambiguous:  # Hydra's line ends "3. To sweep over it, add --multirun", which this program refuses
            key, _, value = ambiguous.group(1).partition("=")
            exit_with_user_error(
                f"{ambiguous.group(1)}: this program runs once, with one value per key (text with a comma "
                f"is quoted: {key}='{value}')"
            )
        exit_with_user_error(composition_message(error))
    except UserError as error:
        exit_with(error)
    run_or_exit(lambda: check_resolvable(cfg))
    return cfg


S = TypeVar("S")


def field_docs(schema: type) -> dict[str, str]:
    """The docstring under each field of a dataclass (read from its source, as the YAML comments
    repeat them), as plain text: reStructuredText's double backticks dropped."""
    import ast
    import inspect

    body = ast.parse(inspect.getsource(schema)).body[0].body
    docs = {}
    for node, after in itertools.pairwise(body):
        documented = isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and documented:
            docs[node.target.id] = " ".join(str(after.value.value).split()).replace("``", "")
    return docs


def options_help(schema: type, usage: str) -> str:
    """``--help`` of a :func:`parse_options` program: usage, then each key, its default and meaning."""
    defaults = OmegaConf.to_container(OmegaConf.structured(schema))
    lines = [f"usage: {as_started(usage)}", "", "keys (key=value; lists as key=[a,b]):"]
    for key, doc in field_docs(schema).items():
        lines.append(f"  {key}={defaults[key]}".ljust(30) + f"  {doc}")
    return "\n".join([*lines, "", VERSION_HELP])


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
    if help_requested(list(argv)):
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
            closed = value.endswith("]")  # (an unclosed list is YAML's to refuse, in one line)
            if key in PATH_OPTIONS and closed:  # each a string: YAML read a pattern's * as an alias,
                items = [expand_home(item.strip()) for item in items if item.strip()]  # ? as a key
                value = json.dumps(items)
            elif any("," in item for item in items):  # commas: quoted, as YAML needs them
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
        # resolved, then typed as a value given so (window=${oc.env:HOME}, out=${oc.env:NOPE} were
        # tracebacks at to_object below)
        cfg = OmegaConf.merge(base, OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))
    except OmegaConfBaseException as error:
        key = error.full_key
        given = OmegaConf.to_container(OmegaConf.from_dotlist(dotlist))  # unresolved: window=${foo}
        if key in fields and key in given and given[key] is None:  # out=: null
            exit_with_user_error(f"{key}= needs a value (its default: {override_text(base.get(key))})")
        exit_with_user_error(composition_message(error))
    for key, (low, high) in (bounds or {}).items():
        value = cfg[key]
        if value is not None and not (math.isfinite(value) and low <= value <= high):
            limits = f"in [{low}, {high}]" if high < 2**53 else f">= {low}"  # not [1, 9223372036854775807]
            if math.isfinite(high) and high >= 2**53 and not value <= high:
                limits += f" and at most {high:.3g}"
            exit_with_user_error(f"{key}={value} must be {limits}")
    return OmegaConf.to_object(cfg)
