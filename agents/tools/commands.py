"""The command-line programs, one function each: ``scripts/*.py`` and the ``softmax-reinforce``
console command (:mod:`agents.tools.console`) both call these.

Each imports what its work needs inside the function, so ``--help`` and a mistyped key answer
before TensorBoard, Gymnasium's envs or matplotlib are loaded (``scripts/benchmark.py`` times it).
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

from agents.errors import RunInterrupted, UserError
from agents.runtime import interrupts
from agents.runtime.program import CONSOLE_PROGRAM
from agents.tools.closed_pipe import (
    exit_for_the_closed_pipe,
    quiet_when_the_reader_leaves,
    reader_left,
    stdout_quiet_once_the_reader_leaves,
)
from agents.tools.override_paths import config_path_given
from agents.tools.usage import (
    CONFIG_DIR,
    app_help,
    config_dirs_given,
    help_requested,
    print_version,
    version_requested,
)

if TYPE_CHECKING:
    from omegaconf import DictConfig


Command = TypeVar("Command", bound=Callable[..., None])


SCRIPTS_FOLDER = Path(__file__).resolve().parent.parent.parent / "scripts"
"""The project's scripts (``scripts/train.py``), each ending with a program's function."""


def called_as_program(frame: FrameType) -> bool:
    """Whether the caller of a program's function (``frame``, past this package's own frames) is the
    top level of one of the project's scripts or of its console command, whose process ends with
    it; not code that goes on after it (a test calling ``main()``, a script of one's own that calls
    ``plot([...])`` and goes on: a Ctrl-C after it ended that script with 0), whose signal handlers
    must come back."""
    from agents.errors import caller_outside_package

    caller, _ = caller_outside_package(frame)
    if caller.f_code.co_name != "<module>" or caller.f_globals.get("__name__") != "__main__":
        return False
    name = caller.f_code.co_filename
    if name.startswith("<"):  # python -c, python - (<string>, <stdin>): a path of the working folder
        return False
    path = Path(name)
    return path.name == CONSOLE_PROGRAM or path.resolve().parent == SCRIPTS_FOLDER


def command(function: Command) -> Command:
    """A program's function: a Ctrl-C before its own handlers are in place (while torch and Hydra
    import, a second or so) quits with the one line and 130 that a later one gives, no traceback;
    SIGTERM where no training loop catches it (evaluation, plotting, a benchmark's parent) quits
    the same way with 143, and so does a failure after either signal (a library that swallowed it
    left a module half-imported: :mod:`agents.runtime.interrupts`), and so does one as the process
    ends (:func:`~agents.runtime.interrupts.quit_at_once_from_now`); output to a reader that left
    (``... | head``) ends it quietly with 141 (:mod:`agents.tools.closed_pipe`)."""

    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> None:
        given = kwargs.get("argv", args[0] if args else None)  # plot(["runs=..."]): that, not sys.argv
        if version_requested(sys.argv[1:] if given is None else given):
            print_version()
            return
        program = called_as_program(sys._getframe(1))
        if program:
            interrupts.register_exit_hook()
            interrupts.note_ignored_sigint()
        finished = False  # its work done, no signal heard: a signal as the process exits ends it with 0
        interrupts.reset()
        previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, interrupts.terminate)}
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where it is ignored
            previous[signal.SIGINT] = signal.signal(signal.SIGINT, interrupts.interrupt)  # (a background job)
        try:
            with quiet_when_the_reader_leaves():
                function(*args, **kwargs)
            interrupts.exit_if_deferred()  # a signal the work outran: the program heard it
            finished = True
        except KeyboardInterrupt:
            interrupts.exit_for_signal(signal.SIGINT)
        except interrupts.Terminated:
            interrupts.exit_for_signal(signal.SIGTERM)
        except OSError as error:  # a path given on the command line, met before Hydra runs the task
            from agents.tools.exits import FILE_SYSTEM_ERRORS, exit_with

            interrupts.exit_if_interrupted()
            if error.errno not in FILE_SYSTEM_ERRORS:
                raise
            exit_with(error)
        except Exception:  # a library swallowed the signal and what it interrupted fails now
            interrupts.exit_if_interrupted()
            raise
        finally:
            if program:  # its process ends now: a signal in a finalizer or exit hook quits at once,
                interrupts.quit_at_once_from_now(finished)  # and one a finalizer deferred is still sent
            else:
                interrupts.reset()
                for signum, handler in previous.items():
                    signal.signal(signum, handler)

    return run  # type: ignore[return-value]


def _train(cfg: DictConfig) -> float:
    if not cfg.resume:  # an env id mistyped (the most common mistake) is one line before torch loads
        from envs.make import registered_id

        registered_id(cfg.env)
    from agents.runtime.run import train as run_training

    if not cfg.resume:
        return _search_objective(cfg, run_training(cfg).final_mean_return)
    from agents.errors import RunInterrupted
    from agents.runtime.checkpoint import run_folder_of
    from agents.tools.sweep import refresh_resumed_job

    folder = run_folder_of(cfg.resume)
    start = time.perf_counter()
    try:
        result = run_training(cfg)
    except RunInterrupted:  # a sweep job's row: its new checkpoint's counters, the time it took
        refresh_resumed_job(folder, "INTERRUPTED", seconds=time.perf_counter() - start)
        raise
    refresh_resumed_job(folder, "COMPLETED", result.final_mean_return, seconds=time.perf_counter() - start)
    return _search_objective(cfg, result.final_mean_return)


def _search_objective(cfg: DictConfig, final_mean_return: float) -> float:
    """``final_mean_return``, the value a search's trial reports; under a sampling sweeper (Optuna's)
    a nan (a seed ended no episode: there is no return to average) is one line. Optuna's sweeper
    told the study the nan twice, and the search died with Optuna's ``ValueError: Values were
    told`` and two tracebacks after the run's own "no episode ended" note."""
    from hydra.core.hydra_config import HydraConfig

    from agents.tools.multirun_stop import in_multirun
    from agents.tools.sweep_checks import made_by

    if not math.isnan(final_mean_return) or not in_multirun():
        return final_mean_return
    if not made_by(HydraConfig.get().sweeper, "OptunaSweeper"):
        return final_mean_return  # a basic sweep's table shows the nan
    seeds = " (in one of its seeds at least)" if cfg.num_seeds > 1 else ""
    raise UserError(
        f"job #{HydraConfig.get().job.num} of the search has no return to optimise: no episode ended in "
        f"budget.total_env_steps={cfg.budget.total_env_steps:,}{seeds}; raise it"
    )


def _preflight(cfg: DictConfig) -> object:
    from agents.runtime.trainer import preflight

    return preflight(cfg)


@command
def train() -> None:
    """``train env=CartPole-v1 [key=value ...]`` (``-m`` for sweeps: every job is checked before the
    first runs). The task returns the final mean return, the metric hyperparameter sweepers optimise."""
    if _print_help("train"):
        return
    from agents.runtime.config import register_configs
    from agents.tools.cli import hydra_main
    from agents.tools.exits import run_or_exit
    from agents.tools.job_names import register_resolvers
    from agents.tools.override_paths import expand_home_in_paths
    from agents.tools.override_words import check_options
    from agents.tools.sweep_checks import check_sweeper_has_multirun

    run_or_exit(lambda: check_sweeper_has_multirun(sys.argv[1:]))  # before the checks of a sweep's folders
    _check_path_lengths(sys.argv[1:])
    # before the checks of the run's and the sweep's folders, which compose (--config-dir /nowhere:
    # Hydra's UserWarning "path=/nowhere is not available" came before the line saying so)
    run_or_exit(lambda: check_options(sys.argv[1:], "train"))
    register_configs()
    register_resolvers()  # hydra.sweep.subdir's ${short_overrides:...}
    sys.argv[1:] = _hydra_folder_is_the_run_folder(expand_home_in_paths(sys.argv[1:]))  # (hydra_main's too)
    run_or_exit(lambda: _check_given_run_folder(sys.argv[1:]))
    _refuse_a_log_file_that_would_hang(sys.argv[1:])
    run_or_exit(lambda: _check_sweep_run_dirs(sys.argv[1:]))
    hydra_main(config_name="train", env_presets=True, check_jobs=_preflight)(_train)()


def _refuse_a_name_too_long(key: str, path: Path | None) -> None:
    """One line for a path of ``key`` the OS would refuse as too long, before any folder on the way
    to it is made."""
    from agents.errors import name_too_long
    from agents.tools.exits import exit_with_user_error

    too_long = name_too_long(path) if path is not None else None
    if too_long is not None:
        exit_with_user_error(f"cannot use {key}={path}: {too_long} (choose a shorter path)")


GIVEN_FOLDERS = ("run_dir", "resume", "hydra.run.dir", "hydra.sweep.dir")
"""The command line's folders, which Hydra may create (with their parents) before the run starts."""


def _check_path_lengths(argv: Sequence[str]) -> None:
    """A folder of :data:`GIVEN_FOLDERS` that the OS refuses as too long is one line before Hydra
    makes its parents (``hydra.run.dir=/tmp/new/<300 characters>`` left ``/tmp/new``)."""
    from agents.tools.presets import parsed_override_value

    for key in GIVEN_FOLDERS:
        value = parsed_override_value(argv, key)
        _refuse_a_name_too_long(key, Path(os.path.expanduser(value)) if value else None)


def _hydra_folder_is_the_run_folder(argv: Sequence[str]) -> list[str]:
    """``argv`` with Hydra's output folder (its ``.hydra/`` record and ``train.log``) set to the run's
    own: ``run_dir=<folder>`` puts both there; ``resume=<run>`` appends to the run's ``train.log``
    and writes no second record (its ``.hydra/`` stays the first run's). Otherwise each left a stray
    ``outputs/<env>/<time>/`` with the log. A folder that cannot be written is left to the run,
    which says so in one line."""
    from agents.runtime.checkpoint import run_folder_of
    from agents.runtime.program import hydra_override
    from agents.tools.override_words import is_multirun
    from agents.tools.presets import parsed_override_value, with_overrides

    argv = list(argv)
    if is_multirun(argv):
        return argv
    resume, run_dir = (
        _resolved(argv, parsed_override_value(argv, key) or "", key) for key in ("resume", "run_dir")
    )
    hydra_dir = parsed_override_value(argv, "hydra.run.dir")
    if hydra_dir is not None:
        _refuse_another_folder_for_a_resume(resume, _resolved(argv, hydra_dir, "hydra.run.dir"))
        return argv
    if resume not in ("", "null"):
        folder = run_folder_of(resume)
        if folder.is_dir() and os.access(folder, os.W_OK):  # realpath: where the OS finds it (link/..)
            argv = with_overrides(argv, hydra_override("hydra.run.dir", os.path.realpath(folder)),
                                  "hydra.output_subdir=null")  # fmt: skip
    elif run_dir not in ("", "null"):
        existing = next(
            path
            for path in (Path(run_dir).absolute(), *Path(run_dir).absolute().parents)
            if os.path.exists(path)
        )
        if existing.is_dir() and os.access(existing, os.W_OK):  # Hydra's abspath reads link/.. as text
            argv = with_overrides(argv, hydra_override("hydra.run.dir", os.path.realpath(run_dir)))
    return argv


def _refuse_another_folder_for_a_resume(resume: str, hydra_dir: str) -> None:
    """``resume=<run> hydra.run.dir=<another>`` trained on in the run's folder and left ``<another>``
    holding Hydra's ``.hydra/`` and an empty ``train.log``: refused, as ``run_dir=<another>`` is."""
    from agents.runtime.checkpoint import run_folder_of
    from agents.runtime.run_folder import refuse_another_folder_for_a_resume
    from agents.tools.exits import run_or_exit

    if resume not in ("", "null"):
        run_or_exit(
            lambda: refuse_another_folder_for_a_resume(run_folder_of(resume), "hydra.run.dir", hydra_dir)
        )


def _check_given_run_folder(argv: Sequence[str]) -> None:
    """``hydra.run.dir=<folder>`` is where Hydra writes its ``.hydra/`` record before the run
    starts: a folder that another run is writing, or that holds a finished run, is refused first
    (as the run itself would refuse it), so that run's record stays as it was."""
    from agents.tools.override_words import hydra_args, is_multirun

    args, _ = hydra_args(argv)
    if args.cfg or args.info or args.shell_completion:  # they print, and write no folder
        return
    if is_multirun(argv) or any(arg.startswith("resume=") for arg in argv):
        return
    folder = _hydra_run_dir(argv)
    if folder is None or not folder.is_dir():
        return
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from agents.errors import UserError
    from agents.runtime.run_folder import (
        SEEDS_TOP_FILES,
        check_writable,
        refuse_finished_runs,
        refuse_folders_named_as_run_files,
    )
    from agents.runtime.run_lock import RunFolderLock
    from agents.runtime.trainer import preflight
    from agents.tools.composing import compose_train_config, composition_message

    def checked_config() -> DictConfig:
        """The run's config, whose mistakes are said first (the folder is the last fix)."""
        overrides = [arg for arg in args.overrides if not arg.lstrip("+~").startswith("hydra.")]
        try:
            with _hydra_config_of(argv):  # run_dir=${hydra:runtime.cwd}/x resolves as in the run
                cfg = compose_train_config(overrides, config_dirs=config_dirs_given(argv))
                preflight(cfg)
        except (HydraException, OmegaConfBaseException) as error:
            raise UserError(composition_message(error)) from None
        return cfg

    try:
        check_writable(folder)
        RunFolderLock.check_free(folder)  # nothing written: a mistake must leave the folder as it was
        refuse_finished_runs(folder)
    except UserError:
        checked_config()
        raise
    try:
        refuse_folders_named_as_run_files(folder)
    except UserError:  # a num_seeds run's checkpoints (a preset's num_seeds too) go to its seed folders,
        if checked_config().num_seeds == 1:  # checked as they start
            raise
        refuse_folders_named_as_run_files(folder, SEEDS_TOP_FILES)


CONFIG_FILE_SWITCHES = ("-cd", "--config-dir", "-cn", "--config-name", "-cp", "--config-path")
"""Switches that bring config files of the user's, which may set ``hydra.run.dir`` (the project's
configs leave it to ``configs/train.yaml``'s new timestamped folder)."""


def _refuse_a_log_file_that_would_hang(argv: Sequence[str]) -> None:
    """Hydra opens ``<run folder>/train.log`` for its log before the run starts: a FIFO of that name
    (``mkfifo``) waited for a reader forever, in a new run, a resume and ``hydra.run.dir=``; a
    folder of that name failed in Hydra's logging setup."""
    import stat

    from agents.tools.exits import exit_with_user_error
    from agents.tools.override_words import hydra_args, is_multirun

    args, _ = hydra_args(argv)
    if args.cfg or args.info or args.shell_completion or is_multirun(argv):
        return
    folder = _hydra_run_dir(argv)
    log = None if folder is None else folder / "train.log"
    with contextlib.suppress(OSError):
        if log is not None and (stat.S_ISFIFO(log.stat().st_mode) or log.is_dir()):
            exit_with_user_error(
                f"{log} is a pipe or a folder, where Hydra writes the run's log (it waited on a pipe for a "
                f"reader): remove it{'' if _resuming(argv) else ', or choose another run folder'}"
            )


def _resuming(argv: Sequence[str]) -> bool:
    """Whether the command line resumes a run (in its own folder, which it cannot choose)."""
    return any(arg.startswith("resume=") and arg != "resume=" for arg in argv)


def _hydra_run_dir(argv: Sequence[str]) -> Path | None:
    """The folder Hydra will write its ``.hydra/`` record to, composed and resolved as Hydra does
    (``++hydra.run.dir=``, ``hydra.run.dir=runs/${agent.lr}``, an experiment file of the user's that
    sets it); None where nothing on the command line sets it (the default, a new timestamped folder),
    or where it does not compose or resolve (Hydra says why)."""
    from agents.tools.presets import parsed_override_value

    files = any(arg.split("=")[0] in CONFIG_FILE_SWITCHES or "hydra.searchpath" in arg for arg in argv)
    if not files and not any("hydra.run.dir" in arg for arg in argv):  # the project's configs don't set it
        return None
    given = parsed_override_value(list(argv), "hydra.run.dir")  # also ++hydra.run.dir=, quoted
    if not files and given is not None and "${" not in given:  # as typed: nothing to compose
        return Path(os.path.abspath(given.strip()))
    folder = _composed_value(argv, "hydra.run.dir")
    return None if folder is None else Path(os.path.abspath(folder))


def _resolved(argv: Sequence[str], value: str, key: str) -> str:
    """``value``, the command line's ``key=value``, with its interpolations resolved as the run will
    (``run_dir=${oc.env:RUNS}/a``); as it is where it has none or does not resolve."""
    return (_composed_value(argv, key) or value) if "${" in value else value


def _composed_value(argv: Sequence[str], key: str) -> str | None:
    """The value of dotted ``key`` in the config ``argv`` composes to (Hydra's included), resolved as
    Hydra resolves it (``${hydra:runtime.cwd}`` too); None where it does not compose or resolve."""
    from omegaconf import OmegaConf

    from agents.tools.composing import CONFIG_ERRORS

    try:
        with _hydra_config_of(argv) as cfg:
            value = None if cfg is None else OmegaConf.select(cfg, key)
    except (*CONFIG_ERRORS, UserError):
        return None
    return None if value is None else str(value)


@contextmanager
def _hydra_config_of(argv: Sequence[str]) -> Iterator[DictConfig | None]:
    """The config ``argv`` composes to, Hydra's included, set as Hydra's for the block (what
    ``${hydra:runtime.cwd}`` resolves against; the app sets its own as it starts); None where it does
    not compose (Hydra says why later)."""
    from hydra.core.hydra_config import HydraConfig

    from agents.tools.composing import CONFIG_ERRORS, app_config
    from agents.tools.override_words import hydra_args
    from agents.tools.usage import CONFIG_DIR

    hydra_config = HydraConfig.instance()
    before = hydra_config.cfg
    try:
        args, _ = hydra_args(argv)
        cfg = app_config(args, list(args.overrides), "train", CONFIG_DIR)
    except (*CONFIG_ERRORS, UserError, ValueError):  # ValueError: Hydra's for group=null, said later
        cfg = None
    try:
        if cfg is not None:
            hydra_config.set_config(cfg)
        yield cfg
    finally:
        hydra_config.cfg = before


def _check_sweep_run_dirs(argv: Sequence[str]) -> None:
    """A sweep whose jobs share one ``run_dir=`` (or one constant ``hydra.sweep.subdir=``, the run
    folder of a job that names none) would train them all into that folder: the second job was
    refused only after the first had trained. One line before any job starts. A ``run_dir`` that
    interpolates the job's config (``run_dir=runs/${seed}``) is compared as each job resolves it."""
    from hydra.errors import HydraException

    from agents.errors import UserError
    from agents.runtime.checkpoint import run_folder_of
    from agents.tools.override_words import is_multirun
    from agents.tools.presets import is_sweep, override_value, parsed_override_value
    from agents.tools.sweep_checks import OTHER_SWEEPERS, sweep_jobs

    try:
        jobs = sweep_jobs(argv)
    except HydraException:  # Hydra's own error comes later
        return
    searches = is_multirun(argv) and any(parsed_override_value(list(argv), key) for key in OTHER_SWEEPERS)
    if not jobs and searches:  # a search's trials
        resumed = parsed_override_value(list(argv), "resume")
        if resumed and "${" not in resumed:  # trial 0 trained it on, trial 1 found nothing left to do
            raise UserError(
                f"resume={override_value(list(argv), 'resume')} is for every trial of this search, which "
                "would each continue one run in turn: search with new runs, or resume a run once (without -m)"
            )
        text = parsed_override_value(list(argv), "run_dir")
        texts = [text, text]
        folders = [None if text and "${" in text else text] * 2  # a trial's values are drawn as it runs
    else:
        texts = [parsed_override_value(job, "run_dir") for job in jobs]
        folders = [text and _job_run_dir(job, text) for job, text in zip(jobs, texts, strict=True)]
    given = [(text, folder) for text, folder in zip(texts, folders, strict=True) if folder]
    resolved = [os.path.abspath(folder) for _, folder in given]
    shared = next(
        (text for (text, _), path in zip(given, resolved, strict=True) if resolved.count(path) > 1), None
    )
    if shared is not None:
        raise UserError(
            f"run_dir={shared} is one folder for several jobs of this sweep, which would all train into it: "
            "leave run_dir out (each job gets its own folder below hydra.sweep.dir) or give each job its "
            "own (-m run_dir=a,b)"
        )
    resumes = [parsed_override_value(job, "resume") for job in jobs]
    runs = [os.path.realpath(run_folder_of(text)) for text in resumes if text and "${" not in text]
    resumed = next((run for run in runs if runs.count(run) > 1), None)
    if resumed is not None:  # job 1 continued where job 0 stopped, and was summed up as a config of its own
        raise UserError(
            f"resume={resumed} is one run for several jobs of this sweep, which would each continue it in "
            "turn: resume it once (without -m), or give each job its own run (-m resume=a,b)"
        )
    subdir = override_value(list(argv), "hydra.sweep.subdir")
    constant = subdir and "${" not in subdir and not is_sweep(f"hydra.sweep.subdir={subdir}")
    if constant and sum(1 for text in texts if not text) > 1:
        raise UserError(
            f"hydra.sweep.subdir={subdir} is one folder for several jobs of this sweep, which would all "
            "train into it: leave it out (each job gets its own folder below hydra.sweep.dir) or name the "
            "job in it (hydra.sweep.subdir=job${hydra.job.num})"
        )


def _job_run_dir(job: list[str], text: str) -> str | None:
    """The folder ``run_dir=<text>`` names for the sweep job with overrides ``job``: ``text`` itself,
    or as the job's config resolves it (``runs/${seed}``); None where that is known only when the job
    runs (a resolver such as ``${now:...}``) or the config does not compose (its job's check says why)."""
    if "${" not in text:
        return text
    if re.search(r"\$\{[^}]*:", text):  # a resolver: ${now:...}, ${hydra:...}
        return None
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from agents.tools.composing import compose_train_config

    try:
        return str(compose_train_config(job).run_dir)
    except (HydraException, OmegaConfBaseException):
        return None


def _print_help(config_name: str, hydra_app: bool = True) -> bool:
    """``--help``: print the program's help (groups, keys, tab completion) before importing torch."""
    if help_requested(sys.argv[1:]):
        from agents.errors import UserError

        try:
            primary = config_path_given(sys.argv[1:])  # -cp: that tree in place of configs/
            tree = primary if primary and (Path(primary) / f"{config_name}.yaml").is_file() else CONFIG_DIR
            print(app_help(config_name, tree, hydra_app, config_dirs_given(sys.argv[1:])))
        except UserError as error:  # a config file that is not YAML
            from agents.tools.exits import exit_with

            exit_with(error)
        return True
    return False


def _evaluate(cfg: DictConfig) -> float:
    from agents.runtime.checkpoint import checkpoint_file
    from agents.runtime.config import check_known_keys
    from agents.runtime.evaluation_config import EvaluateConfig, validate_evaluate_config

    check_known_keys(cfg, EvaluateConfig)  # these first, before torch's import: a mistake's line at once
    validate_evaluate_config(cfg)
    checkpoint_file(cfg.checkpoint, cfg.which)
    from agents.runtime.evaluation import evaluate as run_evaluation

    return run_evaluation(cfg).modes["greedy"].mean


@command
def evaluate() -> None:
    """``evaluate checkpoint=<run dir> [episodes=10] [video=true]``: greedy and sampled returns, a CSV."""
    if _print_help("evaluate"):
        return
    from agents.runtime.evaluation_config import register_evaluate_config
    from agents.tools.cli import hydra_main
    from agents.tools.exits import run_or_exit

    register_evaluate_config()
    run_or_exit(lambda: _check_sweep_csv(sys.argv[1:]))
    hydra_main(config_name="evaluate", writes_no_folder=True, check_jobs=_check_evaluation)(_evaluate)()


def _check_evaluation(cfg: DictConfig) -> None:
    """What :func:`~agents.runtime.evaluation.evaluate` checks before its first episode (the keys'
    ranges, the checkpoint: it loads), for each job of ``evaluate -m`` before the first runs: a
    missing checkpoint or ``episodes=0`` in job 2 was found after jobs 0 and 1 had run."""
    from agents.runtime.evaluation import check_evaluation

    check_evaluation(cfg)


def _check_sweep_csv(argv: Sequence[str]) -> None:
    """``evaluate -m ... csv=<file>``: one file for every job, each writing over the one before
    (its rows do not say which checkpoint or seed they are): one line before any job runs."""
    from agents.tools.presets import override_value, parsed_override_value
    from agents.tools.sweep_checks import sweep_jobs

    try:
        jobs = sweep_jobs(argv)
    except Exception:  # a sweep Hydra cannot list: its own line comes later
        return
    files = [parsed_override_value(job, "csv") for job in jobs]
    shared = [file for file in files if file is not None and "${" not in file and files.count(file) > 1]
    if shared:
        raise UserError(
            f"csv={override_value(list(argv), 'csv')} is one file for {files.count(shared[0])} jobs of this "
            "sweep, each of which would write over it: sweep csv= too, or leave it out (each job then "
            "writes its own evaluation_<time>.csv into its checkpoint's run folder)"
        )


def _compare_gradients(cfg: DictConfig) -> None:
    from agents.studies.gradient_check import compare_gradients as compare
    from agents.studies.gradient_check import format_report

    report = compare(cfg)
    if report.unread:
        print(f"note: {'; '.join(report.unread)}")
    print(format_report(report))
    saturation = report.saturation_note()
    if saturation is not None:  # after the table, whose zeros it explains
        print(f"note: {saturation}")
    if not report.passed:
        sys.exit(1)


@command
def compare_gradients() -> None:
    """``compare-gradients env=CartPole-v1 [agent.policy=action] [checkpoint=<run dir>]``: the
    closed-form score against autograd; exit 1 when a sample differs by more than the tolerance."""
    if _print_help("compare"):
        return
    from agents.runtime.config import register_configs
    from agents.studies.gradient_check import register_compare_config
    from agents.tools.cli import hydra_main

    register_configs()
    register_compare_config()
    hydra_main(config_name="compare", writes_no_folder=True)(_compare_gradients)()


@command
def benchmark() -> None:
    """``benchmark [quick=true] [repeats=3] [steps=200000] ...``: training speed against the env's
    own, score timing, sample efficiency, many seeds side by side, start-up (``mode=worker`` and
    ``mode=seeds-worker``: one row, in the child process the report starts for it)."""
    if _print_help("benchmark", hydra_app=False):
        return
    from agents.tools.benchmark_report import register_benchmark_config, run_benchmark
    from agents.tools.cli import compose_or_exit
    from agents.tools.exits import run_or_exit

    register_benchmark_config()
    cfg = compose_or_exit("benchmark", sys.argv[1:])
    run_or_exit(lambda: run_benchmark(cfg))


@dataclass
class PlotOptions:
    """``plot runs=[<run or sweep folder>,...] [out=<stem>] [window=20]``."""

    runs: list[str] = field(default_factory=list)
    """Run or sweep folders, searched for event files (one folder: runs=multirun/CartPole-v1/<time>)."""
    out: str | None = None
    """Figure path stem, not a folder (writes <out>.png and <out>.svg); null = <first folder>/returns."""
    window: int | None = None
    """Episodes in each curve's moving mean and in the table's final score; null = the runs' budget.window."""


@command
def plot(argv: Sequence[str] | None = None) -> None:
    """Learning curves of runs and sweeps (seeds aggregated), the PNG/SVG and the final table."""
    from agents.tools.cli import parse_options
    from agents.tools.exits import exit_with_user_error, run_or_exit

    usage = "plot runs=[<run or sweep folder>,...] [out=...] [window=100]"
    bounds = {"window": (1, 2**63 - 1)}  # numpy's int64 episode counts (a larger one overflowed)
    options = parse_options(PlotOptions, _args(argv), usage, bounds)
    from agents.tools.plotting import figure_paths, plot_runs

    if not options.runs:
        exit_with_user_error("runs= is empty (pass runs=<run or sweep folder> or runs=[a,b])")
    out = Path(options.out) if options.out else None
    _refuse_a_name_too_long("out", figure_paths(out)[-1] if out is not None else None)  # <out>.svg
    table, files = run_or_exit(lambda: plot_runs([Path(run) for run in options.runs], out, options.window))
    print(table)
    print("figures: " + "  ".join(map(str, files)))


@dataclass
class ResultsTableOptions:
    """``results-table [seeds=5] [long=true] [presets=[cartpole,taxi]] [out=docs/results.md]``."""

    seeds: int = 5
    """Seeds 0 .. N-1 per preset."""
    long: bool = False
    """Also run the long presets (lunarlander: 1M steps a seed, lunarlander_mlp up to 2M; box2d extra)."""
    presets: list[str] = field(default_factory=list)
    """Only these presets (empty: the quick ones, plus the long ones with long=true)."""
    out: str | None = None
    """Markdown file to write; null = a new run folder, outputs/results_table/<time>/results.md. A run
    stopped early leaves it as it was and writes the presets that finished to <name>.partial.md."""


def cpu_model() -> str:
    """The CPU's model name (Linux's ``/proc/cpuinfo``), else what ``platform.processor()`` says, else
    ``unknown CPU``: the table's figures are those of this CPU's rounding."""
    import platform

    with suppress(OSError, UnicodeDecodeError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and value.strip():
                return value.strip()
    return platform.processor() or "unknown CPU"


@command
def results_table(argv: Sequence[str] | None = None) -> None:
    """Train every preset with N seeds, print and write the markdown results table."""
    from agents.runtime.sizes import MAX_NUM_SEEDS
    from agents.tools.cli import parse_options
    from agents.tools.exits import check_output_folder, exit_with_user_error, run_or_exit
    from agents.tools.usage import CONFIG_DIR

    usage = "results-table [seeds=5] [long=true] [presets=[a,b]] [out=docs/results.md]"
    options = parse_options(ResultsTableOptions, _args(argv), usage, {"seeds": (1, MAX_NUM_SEEDS)})
    import os
    import platform

    import torch

    from agents.runtime.checkpoint import write_text_atomically
    from agents.tools.presets import check_preset
    from agents.tools.results import (
        LONG_PRESETS,
        QUICK_PRESETS,
        TABLE_BEGIN,
        PresetResult,
        check_presets,
        existing_results_text,
        partial_path,
        results_document,
        run_preset,
    )
    from agents.tools.results import results_table as make_table

    if options.long and options.presets:  # (it trained the presets alone, without a word)
        exit_with_user_error(
            "long=true adds the long presets to the quick ones; presets= names the presets itself: "
            f"drop long=true (or add {', '.join(LONG_PRESETS)} to presets=)"
        )
    presets = options.presets or [*QUICK_PRESETS, *(LONG_PRESETS if options.long else ())]
    twice = sorted({preset for preset in presets if presets.count(preset) > 1})
    if twice:  # (it trained the preset twice and gave it two rows)
        exit_with_user_error(
            f"presets=[{','.join(presets)}] names {', '.join(twice)} more than once: give each once"
        )
    for preset in presets:  # a typo in the last one is refused before the first one trains
        run_or_exit(lambda preset=preset: check_preset(preset, CONFIG_DIR, key="presets"))
    now = datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")  # microseconds, as train's (two runs shared one)
    out = Path(options.out or f"outputs/results_table/{now}/results.md")
    _refuse_a_name_too_long("out", out)
    if out.is_dir():
        exit_with_user_error(f"out={out} is a folder; give the markdown file to write")
    partial = partial_path(out)  # a run that stops early writes here: out keeps its complete table

    for path in (out, partial):  # someone else's file: refused now
        run_or_exit(lambda path=path: results_document(existing_results_text(path), "", path))
    run_or_exit(lambda: check_presets(presets))  # every env made once (Box2D...) before the first trains
    check_output_folder(out.parent, f"out={out}")  # before the training, not after it
    given = {  # the options that make this table, so the line regenerates it
        f"presets=[{','.join(options.presets)}]": bool(options.presets),
        "long=true": options.long,
        f"seeds={options.seeds}": options.seeds != ResultsTableOptions.seeds,
    }
    chosen = [option for option, used in given.items() if used]
    command = " ".join(["softmax-reinforce results-table", *chosen, f"out={out}"])

    def write(path: Path, results: list[PresetResult], not_run: str = "") -> None:
        table = make_table(results)
        machine = (
            f"{cpu_model()}, {platform.machine()}, {os.cpu_count()} CPUs, torch threads: "
            f"{torch.get_num_threads()}; float rounding, and with it each seed's trajectory, differs "
            "between CPU models"
        )
        generated = (  # the threads the runs set (torch_threads), not the count at start-up
            f"Regenerate with `{command}` ({machine}). "
            "Final return: mean undiscounted return of the last `budget.window` (100) episodes of each "
            "run, mean ± sample standard deviation (ddof=1) over "
            f"{options.seeds} seed{'s' if options.seeds > 1 else ''}; "
            "wall time is per seed, one run at a time.\n\n"
            f"{not_run}{table}"
        )
        print(table)  # on stdout first: a file changed meanwhile is refused, the table is not lost
        run_or_exit(
            lambda: write_text_atomically(
                path, results_document(existing_results_text(path), generated, path)
            )
        )

    results: list[PresetResult] = []

    def run_one(index: int) -> PresetResult:
        try:
            return run_preset(presets[index], range(options.seeds))
        except Exception as error:  # the presets that finished are written beside out, then the one line
            first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
            why = "stopped by a signal" if isinstance(error, RunInterrupted) else f"error: {first_line}"
            kept = "no preset had finished, nothing was written"
            if results:
                names = ", ".join(presets[index:])
                write(partial, results, f"Not run: {names} ({why} during experiment={presets[index]}).\n\n")
                untouched = "is unchanged" if out.exists() else "was not written"  # (a new folder's)
                kept = f"the presets that finished are in {partial} ({out} {untouched})"
            if isinstance(error, RunInterrupted):
                raise RunInterrupted(f"{error}; {kept}", error.exit_code) from None
            if isinstance(error, UserError):
                said = UserError(f"{first_line}; {kept}")
                said.exit_code = error.exit_code
                raise said from None
            print(f"results-table: {kept}", file=sys.stderr)  # an unexpected error keeps its traceback
            raise

    with stdout_quiet_once_the_reader_leaves():  # ``| head``: every preset still trains and is written
        for index, preset in enumerate(presets):
            results.append(run_or_exit(lambda index=index: run_one(index)))
            print(f"{preset}: {results[-1].final_return('+-')}", flush=True)
        write(out, results)
        print(f"wrote {out.absolute()}")  # (the table says how to regenerate it with out= as given)
        if TABLE_BEGIN in (existing_results_text(partial) or ""):  # an earlier stopped run's: out is
            partial.unlink()  # complete now
    if reader_left():  # as train.py: the work is done and saved, then 141
        exit_for_the_closed_pipe()


GRADIENT_VARIANCE_ENVS = {  # env id -> (policy form, gymnasium.make kwargs)
    "ShortCorridor-v0": ("action", {}),
    "FrozenLake-v1": ("state", {"is_slippery": False}),
}
GRADIENT_VARIANCE_ENV_KEYS = {"p": "ShortCorridor-v0"}
"""Keys only one env reads: FrozenLake-v1 is studied at the uniform policy, ``theta = 0``."""


@dataclass
class GradientVarianceOptions:
    """``gradient-variance [env=ShortCorridor-v0] [p=0.5] [episodes=4000] [seed=0] [out=...]``."""

    env: str = "ShortCorridor-v0"
    """ShortCorridor-v0 or FrozenLake-v1 (not slippery, a uniform tabular policy)."""
    p: float = 0.5
    """pi(right) on ShortCorridor-v0, in [0.05, 0.97] (nearer 0 or 1 its time limit cuts the episodes)."""
    episodes: int = 4000
    """Episodes per estimator."""
    seed: int = 0
    """Seeds the episodes."""
    out: str = "outputs/gradient_variance"
    """Folder for gradient_variance.png."""


@command
def gradient_variance(argv: Sequence[str] | None = None) -> None:
    """REINFORCE against the exact policy gradient: bias, variance, and v(s0) against p."""
    from agents.tools.cli import parse_options
    from agents.tools.exits import exit_with_user_error, output_folder, run_or_exit

    usage = (
        "gradient-variance [env=ShortCorridor-v0|FrozenLake-v1] [p=0.5] [episodes=4000] [seed=0] [out=...]"
    )
    bounds = {"episodes": (10, math.inf), "seed": (0, 2**32 - 1)}  # p: the study says why
    options = parse_options(GradientVarianceOptions, _args(argv), usage, bounds)
    if options.env not in GRADIENT_VARIANCE_ENVS:
        exit_with_user_error(f"env={options.env} is not one of {', '.join(GRADIENT_VARIANCE_ENVS)}")
    for arg in _args(argv):  # p=0.01 with env=FrozenLake-v1 ran and was silently ignored
        reader = GRADIENT_VARIANCE_ENV_KEYS.get(arg.partition("=")[0])
        if reader is not None and options.env != reader:
            exit_with_user_error(
                f"{arg}: env={options.env} does not read it (read by env={reader}); leave it out"
            )
    from agents.runtime.run import absolute
    from agents.studies.gradient_variance import (
        FIGURE_NAME,
        format_study,
        plot_study,
        run_study,
        study_problem,
    )

    form, env_kwargs = GRADIENT_VARIANCE_ENVS[options.env]
    # checked again by run_study for its other callers: a tabular problem of a few states, milliseconds
    run_or_exit(lambda: study_problem(options.env, form, options.p, options.episodes, env_kwargs=env_kwargs))

    def report() -> None:
        study = run_study(options.env, form, options.p, options.episodes, options.seed, env_kwargs=env_kwargs)
        print(format_study(study))
        print(f"plot: {absolute(plot_study(study, options.out))}")

    with output_folder(Path(options.out), f"out={options.out}", [FIGURE_NAME]):  # refused: no folder left
        run_or_exit(report)


@dataclass
class SuttonBartoOptions:
    """``reproduce-sutton-barto [runs=100] [episodes=1000] [seed=0] [out=outputs/sutton_barto]``."""

    runs: int = 100
    """Independent runs per curve."""
    episodes: int = 1000
    """Episodes per run."""
    seed: int = 0
    """Seeds the runs."""
    out: str = "outputs/sutton_barto"
    """Output folder: figure_13_1.png, figure_13_2.png, curves.csv (``out=docs/sutton_barto``
    rewrites the README's: a trial run of other sizes left them not matching its table)."""


@command
def reproduce_sutton_barto(argv: Sequence[str] | None = None) -> None:
    """Sutton & Barto's Figures 13.1 and 13.2 (REINFORCE on the short corridor) and their last-100 means."""
    from agents.tools.cli import parse_options
    from agents.tools.exits import output_folder, run_or_exit

    usage = "reproduce-sutton-barto [runs=100] [episodes=1000] [seed=0] [out=outputs/sutton_barto]"
    # one episode draws no line (a curve of one point): an empty figure
    bounds = {"runs": (1, math.inf), "episodes": (2, math.inf), "seed": (0, 2**32 - 1)}
    options = parse_options(SuttonBartoOptions, _args(argv), usage, bounds)
    from agents.runtime.run import absolute
    from agents.studies.sutton_barto import OUTPUT_NAMES, check_memory, format_finals, reproduce

    start = time.perf_counter()
    run_or_exit(lambda: check_memory(options.runs, options.episodes))
    with output_folder(Path(options.out), f"out={options.out}", OUTPUT_NAMES):  # refused: no folder left
        made = run_or_exit(lambda: reproduce(Path(options.out), options.runs, options.episodes, options.seed))
    seconds = time.perf_counter() - start
    print(format_finals(made, min(100, options.episodes)))
    print(f"wrote {', '.join(str(absolute(path)) for path in made.files)} in {seconds:.1f} s")


def _args(argv: Sequence[str] | None) -> list[str]:
    """The arguments (``sys.argv[1:]`` unless given)."""
    return list(sys.argv[1:] if argv is None else argv)
