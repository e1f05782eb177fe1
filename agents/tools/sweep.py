"""Multirun bookkeeping: every job leaves ``result.json``, the sweep ends with a summary table.

:class:`SweepSummary` is a Hydra callback registered in ``configs/train.yaml`` (``hydra.callbacks``).
Hydra calls :meth:`~SweepSummary.on_job_end` in the process that ran the job (a joblib worker, a
submitit or ray job, or the launching process itself) and :meth:`~SweepSummary.on_multirun_end` in
the launching process once every job has returned. So the jobs write their results next to their
outputs and the table is read back from those files, whatever launcher (or sweeper) ran them::

    | # | agent.lr | seed | final mean return | env steps | episodes | seconds | status |

The table is printed and saved as ``summary.md`` in the sweep folder (the manifest of the sweep).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from collections.abc import Collection, Iterable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import yaml
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from agents.errors import RunInterrupted, UserError, describe, first_line
from agents.runtime.checkpoint import (
    CHECKPOINT_NAME,
    interpolated_setting,
    load_checkpoint,
    run_folder_of,
    seed_run_folders,
    write_text_atomically,
)
from agents.runtime.config import TrainConfig, flatten
from agents.runtime.resume import IMMUTABLE_ON_RESUME, NOT_RUN_SETTINGS
from agents.runtime.return_stats import shown_return
from agents.runtime.return_window import window_mean
from agents.runtime.run_folder import forget_taken_folders, took_run_folder
from agents.runtime.run_lock import SweepFolderLock
from agents.runtime.sweep_stop import jobs_started, note_job_started
from agents.tools.exits import check_output_folder, exit_with_user_error
from agents.tools.job_names import register_resolvers
from agents.tools.override_values import as_typed
from agents.tools.presets import override_text
from agents.tools.sweep_checks import refuse_a_sweeps_folder
from agents.tools.tables import markdown_table, short_number
from envs.make import registered_id

RESULT_NAME = "result.json"
"""Written by each job of a multirun into its own output folder."""
SUMMARY_NAME = "summary.md"
"""Written into the sweep folder when the multirun ends."""
NOT_LAUNCHED_NAME = "not_launched.json"
"""The rows of the jobs a stopped sweep's launcher did not launch (they have no folder, so no
``result.json``), kept in the sweep folder for the summary a later ``resume=`` of a job rewrites."""


@dataclass
class JobResult:
    """One row of the summary: what a job was asked to do and what it reached."""

    num: int
    """Hydra's job number within the sweep."""
    overrides: list[str]
    """The job's command-line overrides, ``key=value``."""
    status: str
    """``COMPLETED``, ``FAILED`` or ``INTERRUPTED`` (then the return and the counters are those of
    the job's last checkpoint, if any); :data:`NOT_LAUNCHED` for a job the sweep was stopped before,
    :data:`QUIT` for one a second signal quit at once (both rows of ``not_launched.json``)."""
    final_mean_return: float
    """The mean return of the last ``budget.window`` episodes (the task's return value; a stopped
    job's: its checkpoint's; nan, ``null`` in ``result.json``: none ended)."""
    env_steps: int | None
    episodes: int | None
    seconds: float
    """Wall-clock seconds of the job (Hydra's job start to job end, setup included), plus those of
    every resume of it (``resume=<job folder>``, or a seed folder of a ``num_seeds`` job)."""
    output_dir: str
    """Hydra's folder of the job (its ``.hydra/`` record, ``train.log`` and this ``result.json``)."""
    run_dir: str = ""
    """Where the job trained (its checkpoints): ``output_dir`` unless it was given ``run_dir=`` (a
    copy of this ``result.json`` lies there too, for a later ``resume=`` of it to update the row) or
    ``resume=``. Empty in an older ``result.json``: ``output_dir``."""
    stopped: str = ""
    """A job a signal stopped after it saved: its line, where it saved and how to resume it (the
    sweep's last lines list every such job's; empty otherwise, and in an older ``result.json``)."""
    error: str = ""
    """Why a ``FAILED`` job failed (its line; the sweep ends with the first one's, and its summary
    lists the others'); empty otherwise, and in an older ``result.json``."""
    resumed_with: list[str] = field(default_factory=list)
    """The settings its runs were resumed with that differ from those it started with
    (``agent.lr=0.05``, ``budget.total_env_steps=4000``; :func:`resumed_settings`): its overrides
    are what it started with. Empty for a job never resumed with a change (or an older
    ``result.json``)."""

    def __post_init__(self) -> None:
        self.run_dir = self.run_dir or self.output_dir
        for name in ("overrides", "resumed_with"):  # a hand-edited result.json: no row (read_result)
            value = getattr(self, name)
            if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
                raise TypeError(f"{name} is {value!r}, not a list of strings")
        if not isinstance(self.num, int) or not isinstance(self.status, str):
            raise TypeError(f"num {self.num!r} and status {self.status!r} are a number and a word")


def job_run_folder(config: DictConfig, task_config: DictConfig | None = None) -> Path:
    """The folder a job trained in (as :func:`~agents.runtime.run_folder.resolve_run_dir` picks it):
    the run it resumed, its ``run_dir``, else Hydra's output folder of the job. ``task_config``:
    the config the job's task got (``JobReturn.cfg``), read in preference: a ``${now:...}`` in
    ``run_dir`` resolved there once, when the run started, and keeps that value (Hydra caches the
    resolver per config); ``config`` would resolve it afresh, at the job's end."""
    for key in ("resume", "run_dir"):
        given = (task_config if task_config is not None and key in task_config else config).get(key)
        if given:
            folder = run_folder_of(str(given)) if key == "resume" else Path(str(given))
            return Path(os.path.abspath(folder))
    return Path(config.hydra.runtime.output_dir)


def job_result(
    config: DictConfig, job_return: JobReturn, seconds: float, started_at: float = -math.inf
) -> JobResult:
    """Collect a finished job's row from its return value and the counters of the checkpoints it
    saved (``started_at``: the job's start, ``time.time()``; an older checkpoint in its run folder,
    e.g. a run it refused to overwrite, is not its own)."""
    output_dir = Path(config.hydra.runtime.output_dir)
    run_dir = job_run_folder(config, job_return.cfg)
    completed = job_return.status == JobStatus.COMPLETED
    states = job_states(run_dir, started_at)  # a stopped job saved too
    env_steps, episodes, saved_return = job_counters(states)
    error = job_return._return_value  # the getter would raise it
    interrupted = isinstance(error, RunInterrupted)
    status = "INTERRUPTED" if interrupted else job_return.status.name
    if interrupted and not states:  # stopped before it trained: a launcher's worker took it after the
        status = NOT_LAUNCHED  # stop (its row read "nan ... 0.0 INTERRUPTED", as if it had run)
    return JobResult(
        num=int(config.hydra.job.num),
        overrides=list(job_return.overrides or []),
        status=status,
        final_mean_return=float(job_return.return_value) if completed else saved_return,
        env_steps=env_steps,
        episodes=episodes,
        seconds=seconds,
        output_dir=str(output_dir),
        run_dir=str(run_dir),
        stopped=str(error) if interrupted and error.resumes else "",
        error=failure_line(error) if job_return.status == JobStatus.FAILED and not interrupted else "",
    )


def failure_line(error: object) -> str:
    """A failed job's exception in one line: a :class:`UserError`'s text, else ``Type: text``."""
    if not isinstance(error, BaseException):
        return ""
    return " ".join(str(error).split()) if isinstance(error, UserError) else describe(error)


def job_states(folder: Path, saved_since: float = -math.inf) -> list[dict[str, Any]]:
    """The checkpoints of the job in ``folder``: its own, or each seed's of a ``num_seeds`` job;
    only those written at or after ``saved_since`` (``time.time()``, less the file system's clock
    granularity)."""
    return list(named_job_states(folder, saved_since).values())


def named_job_states(folder: Path, saved_since: float = -math.inf) -> dict[str, dict[str, Any]]:
    """:func:`job_states` by folder: ``""`` for the job's own, ``seed3`` for a ``num_seeds`` job's seed."""
    paths = [folder] if (folder / CHECKPOINT_NAME).is_file() else seed_run_folders(folder)
    states = {}
    for path in paths:
        with suppress(UserError, OSError):
            if (path / CHECKPOINT_NAME).stat().st_mtime >= saved_since - MTIME_SLACK_SECONDS:
                states["" if path == folder else path.name] = load_checkpoint(path)
    return states


MTIME_SLACK_SECONDS = 0.05
"""File times come from the kernel's coarse clock (a tick, a few ms, behind ``time.time()``)."""


def job_counters(states: list[dict[str, Any]]) -> tuple[int | None, int | None, float]:
    """``(env steps, episodes, final mean return)`` of a job from its checkpoints: the counters
    summed over a ``num_seeds`` job's seeds, the return their mean of each seed's last window (as
    the job itself reports it)."""
    if not states:
        return None, None, math.nan
    counters = [state.get("counters", {}) for state in states]
    env_steps, episodes = ([c.get(key) for c in counters] for key in ("env_steps", "episodes"))
    returns = [window_mean(list(state.get("recent_returns", []))) for state in states]  # nan: none ended
    return (
        None if None in env_steps else sum(env_steps),
        None if None in episodes else sum(episodes),
        float(sum(returns) / len(returns)),
    )


def _finished(state: dict[str, Any]) -> bool:
    """Whether a checkpoint's run has nothing left to do (:func:`~agents.runtime.trainer.finished_reason`;
    its target: ``budget.target_return``, else the env's ``reward_threshold``). An unreadable file's
    run is not finished."""
    from agents.runtime.trainer import finished_reason  # (torch: not for a single run's typo)

    with suppress(Exception):
        if interpolated_setting(state["config"]) is not None:  # an altered file, which loading refuses
            return False
        config = OmegaConf.merge(OmegaConf.structured(TrainConfig), state["config"])
        target = config.budget.target_return
        if target is None:
            with suppress(Exception):  # an env no longer registered: no target
                target = gym.spec(registered_id(config.env)).reward_threshold
        returns = [float(value) for value in state.get("recent_returns", [])]
        return (
            finished_reason(int(state["counters"]["env_steps"]), returns, config.budget, target) is not None
        )
    return False


def refresh_resumed_job(
    run_dir: Path, status: str, final_mean_return: float | None = None, *, seconds: float
) -> None:
    """A sweep job's run folder (or a seed folder of a ``num_seeds`` job) resumed to its end
    (``COMPLETED``, with the run's ``final_mean_return``) or stopped again (``INTERRUPTED``): its
    ``result.json`` (and the job folder's, where the job trained in its own ``run_dir=``) and the
    sweep's ``summary.md`` say so, with the checkpoints' counters (they kept the first run's) and
    the resume's wall-clock ``seconds`` added to the job's. A ``num_seeds`` job
    is ``COMPLETED`` once every seed is finished, and its return is then the mean over seeds.
    Nothing for a folder of no sweep."""
    job = run_dir
    if not (job / RESULT_NAME).is_file() and (run_dir.parent / RESULT_NAME).is_file():
        job = run_dir.parent  # the seed folder of a num_seeds job
    path = job / RESULT_NAME
    quit_row = None
    if not path.is_file():  # a job a second signal quit (its row is in the sweep's not_launched.json)
        for folder in (run_dir, run_dir.parent):  # (the job's own folder, or a num_seeds job's)
            quit_row = _quit_row(folder)
            if quit_row is not None:
                job, path = folder, folder / RESULT_NAME
                break
        else:
            return
    named_states = named_job_states(job)
    states = list(named_states.values())
    env_steps, episodes, saved_return = job_counters(states)
    if job != run_dir:
        status = "COMPLETED" if status == "COMPLETED" and all(map(_finished, states)) else "INTERRUPTED"
        final_mean_return = None
    try:
        old = quit_row or read_result(path)
    except UserError as error:  # the run is saved; only its row cannot follow
        print(f"warning: {error}; its row is not updated", file=sys.stderr)
        return
    result = replace(
        old, status=status, env_steps=old.env_steps if env_steps is None else env_steps,
        episodes=old.episodes if episodes is None else episodes,
        final_mean_return=saved_return if final_mean_return is None else final_mean_return,
        seconds=old.seconds + seconds, error="",  # (a failure before the resume is over)
        stopped="" if status == "COMPLETED" else old.stopped,  # (its "resume with:" is done)
        resumed_with=resumed_settings(Path(old.output_dir), old.overrides, named_states)
        if states else old.resumed_with,
    )  # fmt: skip
    paths = [path]  # and the job's own when this is the copy in its run_dir= folder
    own = Path(old.output_dir, RESULT_NAME)
    if own.is_file() and not own.samefile(path):
        paths.append(own)
    for written in paths:
        write_text_atomically(written, result_json(result))
    for sweep_dir in dict.fromkeys(sweep_folder_of(written.parent) for written in paths):
        if (sweep_dir / SUMMARY_NAME).is_file():
            write_summary(sweep_dir)


def _quit_row(job: Path) -> JobResult | None:
    """The :data:`QUIT` row of the job folder ``job`` (it has no ``result.json``: a second signal
    quit it), found by the job number in its ``.hydra/hydra.yaml`` among its sweep's rows of jobs
    without a result, with ``job`` as its folder; None for a folder of no such job."""
    try:
        num = yaml.safe_load((job / ".hydra" / "hydra.yaml").read_text())["hydra"]["job"]["num"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    row = next((row for row in read_not_launched(sweep_folder_of(job)) if row.num == num), None)
    if row is None or row.status != QUIT:
        return None
    return replace(row, output_dir=str(job), run_dir=str(job))


def sweep_folder_of(job: Path) -> Path:
    """The sweep folder of the job folder ``job``: its parent, or itself for a one-job sweep with
    ``hydra.sweep.subdir=.`` (its record beside the job's files: the summary above it was sought)."""
    return job if (job / "multirun.yaml").is_file() else job.parent


NOT_LEARNING_SETTINGS = (*NOT_RUN_SETTINGS, *IMMUTABLE_ON_RESUME, "logging", "experiment_name")
"""Keys a resume's change to which does not make a job another experiment: where and how it writes
and shows progress, and those a resume cannot change (a ``num_seeds`` job's seeds hold their own
``seed``)."""


def resumed_settings(output_dir: Path, overrides: list[str], states: dict[str, dict[str, Any]]) -> list[str]:
    """``key=value`` for each setting the job's checkpoints now hold that differs from the one it
    started with: ``agent.lr=0.05`` after ``resume=<job> agent.lr=0.05``. What it started with is
    Hydra's record of its config, ``<output_dir>/.hydra/config.yaml``; without one
    (``hydra.output_subdir=null``), its ``overrides`` (then only their keys are compared).
    ``states``: its checkpoints by folder (:func:`named_job_states`); where a ``num_seeds`` job's
    seeds differ, each seed's changes are prefixed ``seed3:`` (``unchanged`` for a seed that has
    none). Left out: :data:`NOT_LEARNING_SETTINGS` and values recorded as interpolations."""
    try:
        recorded = OmegaConf.to_container(OmegaConf.load(output_dir / ".hydra" / "config.yaml"))
        started = flatten(recorded if isinstance(recorded, dict) else {})
    except (OSError, yaml.YAMLError, OmegaConfBaseException):  # no record: the overrides it was given
        started = {}
        for override in overrides:
            with suppress(HydraException):  # as Hydra read it: 1e-3 a float (YAML: a string)
                (parsed,) = OverridesParser.create().parse_overrides([override])
                if not parsed.is_delete() and not parsed.is_sweep_override():
                    started[parsed.key_or_group] = parsed.value()
    by_seed = {name: _changes(started, state.get("config")) for name, state in states.items()}
    if len({tuple(changes) for changes in by_seed.values()}) <= 1:  # one run, or seeds alike
        return next(iter(by_seed.values()), [])
    return [f"{name}: {' '.join(changes) or 'unchanged'}" for name, changes in by_seed.items()]


def _changes(started: dict[str, Any], saved: object) -> list[str]:
    """``key=value`` for each setting of the checkpoint's config ``saved`` that differs from
    ``started`` (a key ``started`` lacks is no change)."""
    changes = []
    for key, value in flatten(saved if isinstance(saved, dict) else {}).items():
        before = started.get(key, value)
        if any(key == skip or key.startswith(f"{skip}.") for skip in NOT_LEARNING_SETTINGS):
            continue
        if value != before and not (isinstance(before, str) and "${" in before):
            changes.append(f"{key}={override_text(value)}")
    return changes


def result_json(result: JobResult) -> str:
    """``result.json``'s text: strict JSON (a missing return is ``null``, not ``NaN``)."""
    fields = {key: None if isinstance(value, float) and not math.isfinite(value) else value
              for key, value in asdict(result).items()}  # fmt: skip
    return json.dumps(fields, indent=2, allow_nan=False)


def read_result(path: Path) -> JobResult:
    """A job's ``result.json`` (:func:`result_json`).

    :raises UserError: it cannot be read or holds no job's result (cut short, edited by hand).
    """
    try:
        return _job_result(json.loads(path.read_text()))
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror or error}") from None
    except (ValueError, TypeError, AttributeError) as error:  # bad JSON or bytes, a wrong key, no object
        raise UserError(f"{path} holds no job's result ({error})") from None


def _job_result(fields: Any) -> JobResult:
    """A row from its ``result.json`` fields (a return written as null: nan)."""
    if fields.get("final_mean_return") is None:
        fields["final_mean_return"] = math.nan
    return JobResult(**fields)


def read_not_launched(sweep_dir: Path) -> list[JobResult]:
    """The rows :func:`write_summary` kept of the jobs a stopped sweep did not launch (none when
    the file is missing or cannot be read: they are rows of a table, not results)."""
    try:
        return [_job_result(fields) for fields in json.loads((sweep_dir / NOT_LAUNCHED_NAME).read_text())]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


def read_results(sweep_dir: Path) -> list[JobResult]:
    """Every job's ``result.json`` below ``sweep_dir`` (not the copy in a job's ``run_dir=``
    folder that lies there too), in job order; one that cannot be read is left out, with a
    warning line."""
    results = []
    for path in sweep_dir.rglob(RESULT_NAME):
        try:
            result = read_result(path)
        except UserError as error:
            print(f"warning: {error}; left out of {SUMMARY_NAME}", file=sys.stderr)
            continue
        if not _copy_in_run_dir(result, path):  # a run_dir= inside the sweep's folder: one row
            results.append(result)
    return sorted(results, key=lambda result: result.num)


def _copy_in_run_dir(result: JobResult, path: Path) -> bool:
    """Whether ``path`` is the copy of a job's ``result.json`` in its own ``run_dir=`` folder."""
    folder = Path(os.path.abspath(path.parent))
    return folder == Path(os.path.abspath(result.run_dir)) != Path(os.path.abspath(result.output_dir))


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.partition("=")
    return key, value


def _count(value: int | None) -> str:
    return "" if value is None else str(value)


NOT_LAUNCHED = "NOT_LAUNCHED"
"""The status of a job a signal stopped the sweep before: it has no results, no folder."""
QUIT = "QUIT"
"""The status of a job that a second signal quit at once (:func:`note_quit`): it wrote no result; its
folder may hold a checkpoint of a save before."""


def summary_table(results: list[JobResult]) -> str:
    """A markdown table with one column per override that varies between jobs.

    Overrides shared by every job are printed once above the table, so the columns show only
    what the sweep changed. A job resumed with other settings keeps the overrides it started with
    and says the new ones in a "resumed with" column (there only when some job was).
    """
    if not results:
        return "no job results found"
    typed = [[as_typed(override) for override in result.overrides] for result in results]  # not Hydra's
    shared = set.intersection(*(set(overrides) for overrides in typed))  # env=my_envs\:Maze-v0, x=False
    keys = list(dict.fromkeys(_split(o)[0] for overrides in typed for o in overrides if o not in shared))
    resumed = any(result.resumed_with for result in results)  # a column only where a resume changed some
    header = ["#", *keys, *(["resumed with"] if resumed else []), "final mean return", "env steps",
              "episodes", "seconds", "status"]  # fmt: skip
    rows = []
    for result, overrides in zip(results, typed, strict=True):
        values = dict(_split(override) for override in overrides)
        each_seed = all(re.match(r"seed\d+: ", item) for item in result.resumed_with)  # a num_seeds job's
        changes = [("; " if each_seed else " ").join(result.resumed_with)] if resumed else []
        ran = result.status not in (NOT_LAUNCHED, QUIT)
        rows.append(
            [
                str(result.num), *(short_number(values.get(key, "")) for key in keys), *changes,
                shown_return(result.final_mean_return) if ran else "", _count(result.env_steps),
                _count(result.episodes), f"{result.seconds:.1f}" if ran else "", result.status,
            ]
        )  # fmt: skip
    common = f"shared overrides: {' '.join(sorted(shared))}\n\n" if shared else ""
    unrun = _unrun_line(results, NOT_LAUNCHED) + _unrun_line(results, QUIT)
    return common + markdown_table(header, rows) + unrun


def _unrun_line(results: list[JobResult], status: str) -> str:
    """The line under the table about the jobs of ``status`` (:data:`NOT_LAUNCHED`, :data:`QUIT`), which
    have no results: what happened and what to do; empty where none has it."""
    unrun = [f"#{result.num}" for result in results if result.status == status]
    if not unrun:
        return ""
    they, their, them = ("it", "its", "it") if len(unrun) == 1 else ("they", "their", "them")
    run_again = f"run {their} settings in a sweep of {their} own, into another hydra.sweep.dir"
    if status == QUIT:
        return (
            f"\n{', '.join(unrun)} {QUIT}: a second signal quit the sweep at once while {they} ran, before "
            f"{they} wrote a result (resume {them} with resume=<job folder> where it holds a "
            f"{CHECKPOINT_NAME}, else {run_again})"
        )
    return f"\n{', '.join(unrun)} {NOT_LAUNCHED}: the sweep was stopped before {they} began ({run_again})"


class SweepSummary(Callback):
    """Hydra callback: ``result.json`` per multirun job, a summary table when the multirun ends."""

    entries_before: ClassVar[set[str] | None] = None
    """What the sweep's folder held as the sweep started (None: there was no such folder)."""
    launched_sweep_dir: ClassVar[Path | None] = None
    """The folder of the multirun this process launched, resolved as the launcher resolves it (see
    :func:`print_stopped_sweep_summary`); None before one starts."""
    stopped_summary_printed: ClassVar[bool] = False
    """The stopped sweep's table was printed (Optuna's sweeper reads a failed job's result twice)."""
    folder_lock: ClassVar[SweepFolderLock | None] = None
    """This process's hold on the folder of the sweep it launches (:meth:`take_folder`)."""

    def __init__(self) -> None:
        self._job_start = time.perf_counter()
        self._job_started_at = -math.inf
        """``time.time()`` at the job's start: its own checkpoints are written after it."""

    @classmethod
    def start(cls, sweep_dir: Path | None) -> None:
        """Forget an earlier sweep's state: this process's sweep starts in ``sweep_dir`` (None:
        not known yet, or a sweep that keeps no summary), whose entries are read now, before the
        sweeper writes its ``multirun.yaml`` there."""
        cls.launched_sweep_dir, cls.stopped_summary_printed = sweep_dir, False
        cls.entries_before = None
        if sweep_dir is not None:
            with suppress(OSError):
                cls.entries_before = set(os.listdir(sweep_dir))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            folder = Path(str(config.hydra.sweep.dir))  # caches ${now:} for the launcher
        except OmegaConfBaseException as error:  # ${nosuch}: Hydra warned in five lines, then failed on it
            exit_with_user_error(f"hydra.sweep.dir: {first_line(error)}")
        SweepSummary.start(folder)
        check_output_folder(folder, "hydra.sweep.dir")  # a file there: Hydra warned of the callback's
        try:  # FileExistsError in three lines before its own error
            SweepSummary.take_folder(folder)
        except UserError as refused:  # Hydra turns a callback's Exception into a warning, and sweeps on
            exit_with_user_error(refused)

    @classmethod
    def take_folder(cls, folder: Path) -> None:
        """Make the sweep's folder and hold it (:class:`SweepFolderLock`) until :meth:`let_go`, after
        checking again, under the lock, that no sweep ran there since the check before the start.

        :raises UserError: another sweep holds it, or did (nothing of that sweep is removed)."""
        folder.mkdir(parents=True, exist_ok=True)  # (what it made goes with a sweep that fails to
        # start: remove_an_unused_sweep_folder)
        try:
            cls.folder_lock = SweepFolderLock(folder)
            refuse_a_sweeps_folder(folder)
        except UserError:
            cls.let_go()
            cls.launched_sweep_dir = None  # another sweep's folder: the clean-up leaves it alone
            raise

    @classmethod
    def let_go(cls) -> None:
        """Release the sweep's folder (the launching process, as the sweep ends however it ends)."""
        if cls.folder_lock is not None:
            cls.folder_lock.release()
            cls.folder_lock = None

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.mode == RunMode.MULTIRUN:
            note_job_started(config.hydra.job.num)
        self._job_start = time.perf_counter()
        self._job_started_at = time.time()
        forget_taken_folders()  # (a launcher's worker runs job after job)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if config.hydra.mode != RunMode.MULTIRUN:
            return
        result = job_result(config, job_return, time.perf_counter() - self._job_start, self._job_started_at)
        write_text_atomically(Path(result.output_dir, RESULT_NAME), result_json(result))
        own_folder = result.run_dir != result.output_dir and not config.get("resume")
        if own_folder and took_run_folder(result.run_dir):  # (not a folder the job was refused, which
            # holds another run and its record)
            write_text_atomically(Path(result.run_dir, RESULT_NAME), result_json(result))  # for resume=
        write_summary(Path(config.hydra.sweep.dir))  # now: a failed job ends the sweep (Hydra)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        print_summary(Path(config.hydra.sweep.dir))


def print_stopped_sweep_summary(job: JobReturn) -> None:
    """:func:`print_summary` for the sweep whose ``job`` failed or was stopped, which ends the sweep
    before Hydra's end-of-sweep callback. Its folder is the one :class:`SweepSummary` resolved at
    the start: the job's own Hydra config cannot resolve it again (``${experiment_name}`` lies
    outside it, and ``${now:...}`` would be a new time). Nothing for a sweep that keeps no summary
    (no :class:`SweepSummary` callback: ``evaluate.py -m``), whose job lies outside that folder."""
    sweep_dir = SweepSummary.launched_sweep_dir
    output_dir = job.hydra_cfg.hydra.runtime.output_dir if job.hydra_cfg else None
    if sweep_dir is not None and output_dir and Path(os.path.abspath(sweep_dir)) in Path(output_dir).parents:
        print_summary_once()  # once: the sweep ends with this job's error


def print_summary_once() -> None:
    """:func:`print_summary` for this process's sweep, which a signal stopped (once: the sweep ends
    with the stop's lines; nothing for a sweep that keeps no summary, ``evaluate.py -m``)."""
    sweep_dir = SweepSummary.launched_sweep_dir
    if sweep_dir is not None and not SweepSummary.stopped_summary_printed:
        SweepSummary.stopped_summary_printed = True
        print_summary(sweep_dir)


def sweep_stopped(first: RunInterrupted) -> RunInterrupted:
    """The signal's stop of the sweep, ``first`` the first job it stopped: one line for each job
    it stopped after a save, saying where and how to resume it (those jobs ran side by side, in a
    launcher's workers; each wrote its line into its ``result.json``)."""
    sweep_dir = SweepSummary.launched_sweep_dir
    lines = (
        [result.stopped for result in read_results(Path(sweep_dir)) if result.stopped] if sweep_dir else []
    )
    if not lines or lines == [str(first)]:
        return first
    return RunInterrupted("\n".join(lines), first.exit_code)


def print_summary(sweep_dir: Path) -> None:
    """Write the sweep's ``summary.md`` and print it (a sweep that ended, or stopped at a failed job),
    with why each failed job but the first failed (the sweep's last line says the first's)."""
    table = write_summary(sweep_dir)
    failed = sorted((job for job in read_results(sweep_dir) if job.status == "FAILED" and job.error),
                    key=lambda job: job.num)  # fmt: skip
    reasons = "".join(f"\n#{job.num} failed: {job.error}" for job in failed[1:])
    print(f"\nsweep summary ({sweep_dir / SUMMARY_NAME}):\n{table}{reasons}", flush=True)


def note_not_launched(jobs: Iterable[tuple[int, Sequence[str]]], started: Collection[int] = ()) -> None:
    """``jobs`` (number, overrides) that the launcher did not launch once a signal had stopped this
    process's sweep: :data:`NOT_LAUNCHED` rows of its summary (they were INTERRUPTED, with a return of
    nan and 0.0 seconds, as if they had run), as those of the jobs it kept from starting,
    without the folder and the files each of those gets; kept in its ``not_launched.json``, which
    every summary of the sweep reads (nothing for a sweep that keeps no summary, ``evaluate.py -m``).
    ``started``: the jobs among them that had started, which a second signal quit (:data:`QUIT`,
    :func:`note_quit`)."""
    sweep_dir = SweepSummary.launched_sweep_dir
    if sweep_dir is None or not sweep_dir.is_dir():
        return
    new = [
        JobResult(
            num, list(overrides), QUIT if num in started else NOT_LAUNCHED, math.nan, None, None, 0.0, ""
        )
        for num, overrides in jobs
    ]
    rows = [*read_not_launched(sweep_dir), *new]
    text = ",\n".join(result_json(job) for job in rows)
    write_text_atomically(sweep_dir / NOT_LAUNCHED_NAME, f"[\n{text}\n]\n")


def note_quit(jobs: Sequence[tuple[int, Sequence[str]]]) -> None:
    """A second signal quit the sweep at once, in the launcher's batch ``jobs`` (number, overrides):
    rows for those without a result (:data:`QUIT`: started, :func:`jobs_started`; the others
    :data:`NOT_LAUNCHED`) and the summary written with them. The summary had no row for them, nor
    had the one a later ``resume=`` of a job rewrote: the sweep forgot them."""
    sweep_dir = SweepSummary.launched_sweep_dir
    if sweep_dir is None or not sweep_dir.is_dir():
        return
    done = {result.num for result in read_results(sweep_dir)}
    note_not_launched([job for job in jobs if job[0] not in done], started=jobs_started())
    write_summary(sweep_dir)


def write_summary(sweep_dir: Path) -> str:
    """Write ``summary.md`` from the ``result.json`` files so far (atomically: joblib workers
    finish side by side) and the jobs without one (:func:`note_not_launched`; a job's result, which
    a resume of a quit job writes, replaces its row); return the table."""
    results = read_results(sweep_dir)
    ran = {result.num for result in results}
    rows = [*results, *(row for row in read_not_launched(sweep_dir) if row.num not in ran)]
    table = summary_table(sorted(rows, key=lambda job: job.num))
    if sweep_dir.is_dir():
        write_text_atomically(sweep_dir / SUMMARY_NAME, table + "\n")
    return table


register_resolvers()  # in every job's process too: Hydra imports this module there to build the callback
