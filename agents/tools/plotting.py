"""Learning curves from TensorBoard event files: runs grouped by config, seeds aggregated.

A *run* is a folder with an event file holding ``charts/episodic_return`` (one point per finished
episode at x = env steps) and the hyperparameters :meth:`agents.runtime.logger.Logger.hparams` wrote at
the end of training. Runs whose hyperparameters agree on everything but the seed (and settings
that do not change learning: logging, checkpoints, folders) form one *group*.

Statistics follow rliable (Agarwal et al., 2021, "Deep RL at the Edge of the Statistical
Precipice"): with few runs, report a point estimate with a 95% *percentile bootstrap* confidence
interval over runs, not a standard deviation. For a group of n seeds with scores x_1..x_n::

    mean  = (1/n) sum_i x_i
    CI    = [q_2.5, q_97.5] of { mean(x_{i_1}, ..., x_{i_n}) : i_j ~ Uniform{1..n} }, B resamples
    IQM   = mean of the middle 50% of the sorted x_i (rliable's robust aggregate)

A run's curve at env step x is the mean return of its last ``window`` episodes that ended by x;
a run that stopped early (target reached) keeps its final value up to the group's last step.
"""

from __future__ import annotations

import glob
import json
import logging
import re
import textwrap
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

from agents.errors import UserError
from agents.runtime import tags
from agents.runtime.checkpoint import saved_config, seed_number, write_files_atomically
from agents.runtime.config import changes_learning
from agents.runtime.return_stats import shown_return
from agents.tools.tables import markdown_table, short_number

STYLE = {
    "font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 8,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "lines.linewidth": 1.6, "legend.frameon": False, "savefig.bbox": "tight", "svg.fonttype": "none",
}  # fmt: skip
"""matplotlib defaults tuned for papers: small fonts, no top/right spines, light grid, text kept as
text in SVG."""


@dataclass
class Run:
    """One training run read back from its event file."""

    path: Path
    hparams: dict[str, Any]
    """Flat config ``{"agent.lr": 0.01, "env": "CartPole-v1", ...}`` as logged for the HParams tab."""
    steps: np.ndarray
    """Env steps at which each episode ended, shape [E], non-decreasing."""
    returns: np.ndarray
    """Undiscounted return of each episode, shape [E]."""
    final_mean_return: float
    """Mean return of the last ``budget.window`` episodes (what ``train()`` returned)."""
    env_steps: int
    """Env steps the run took in all."""
    episodes: int
    """Episodes the run ended in all (more than ``returns`` holds when it logged interval means)."""
    failed: bool = False
    """Its last part ended on an error (the env's fault, a numerical failure): its HParams row."""
    counts: np.ndarray | None = None
    """Episodes each point is the mean over, shape [E] (``charts/episodes_in_mean`` of a run that
    logged interval means); None: one each (per-episode points, or a run logged before the tag)."""

    @property
    def per_episode(self) -> bool:
        """One logged point per episode; else each point is the mean over an interval
        (``logging.episode_stats=mean``: several seeds or envs), and windows count points."""
        return len(self.returns) >= self.episodes

    @property
    def weighted(self) -> bool:
        """Whether the curve's window counts episodes: per-episode points, or interval means with
        their counts (a run logged before ``charts/episodes_in_mean``: its window counts points)."""
        return self.per_episode or self.counts is not None

    @property
    def env(self) -> str:
        return str(self.hparams.get("env", "?"))


def find_run_dirs(paths: list[Path]) -> list[Path]:
    """Every folder at or below ``paths`` that holds an event file, sorted; UserError if none.

    A folder reached twice (one sweep given as ``sweep`` and ``/abs/sweep``, or through a symlink)
    is one run, named as it was first reached: counted twice, it doubled the seeds of its group.
    """
    spelled: dict[Path, Path] = {}  # the folder resolved -> as the user's path spells it
    for path in with_globs_expanded(paths):
        if not path.exists():
            raise UserError(
                f"{path} does not exist (pass run or sweep folders, e.g. multirun/CartPole-v1/...)"
            )
        for event in path.rglob("events.out.tfevents.*"):
            if event.exists() and not event.is_file():  # the reader opens it: a folder failed, a pipe hung
                raise UserError(
                    f"{event} is named like a TensorBoard event file but is not a regular file (a folder "
                    "or a pipe): rename or remove it, TensorBoard reads every such name in a run folder"
                )
            spelled.setdefault(event.parent.resolve(), event.parent)
    found = set(spelled.values())
    summaries = {folder for folder in found if _batched_summary(folder)}
    found -= summaries
    if not found and summaries:
        summary = min(summaries)
        raise UserError(
            f"{summary} holds the mean and percentiles over a seed_mode=batched run's seeds, not a run: "
            f"pass runs=[{summary.parent}] to plot its seeds (or open it in TensorBoard)"
        )
    files = [path for path in paths if path.is_file()]
    if not found and files:  # an event file or a checkpoint: "no TensorBoard event files below" it
        raise UserError(f"{files[0]} is a file: pass the run folder that holds it, runs=[{files[0].parent}]")
    if not found:
        raise UserError(
            f"no TensorBoard event files below {', '.join(map(str, paths))} (logging.tensorboard=true?)"
        )
    return sorted(found, key=natural_key)


def with_globs_expanded(paths: list[Path]) -> list[Path]:
    """``paths`` with each pattern that names no path itself (``runs=[multirun/*/lr*]``, which the
    shell leaves alone inside the brackets) replaced by the paths it matches, sorted.

    :raises UserError: for a pattern that matches nothing.
    """
    expanded = []
    for path in paths:
        if path.exists() or not set("*?[").intersection(str(path)):
            expanded.append(path)
            continue
        matches = sorted(glob.glob(str(path)), key=lambda match: natural_key(Path(match)))
        if not matches:
            raise UserError(f"{path} matches no folder (pass run or sweep folders, or a pattern of them)")
        expanded += map(Path, matches)
    return expanded


def natural_key(path: Path) -> list[str | int]:
    """Sort key reading each run of digits as a number: ``seed2`` before ``seed10``."""
    parts = re.split(r"(\d+)", str(path))  # text at even places, digits at odd ones
    return [int(part) if place % 2 else part for place, part in enumerate(parts)]


def skipped_lines(skipped: list[Path]) -> list[str]:
    """One item per skipped run, and one per many-seeds run for its ``seed<N>`` folders
    (``/x/run: seeds 0-9, 12 (11 seed folders)``): a stopped 100-seed run took 100 lines."""
    seed = {path: number for path in skipped if (number := seed_number(path)) is not None}
    seeds: dict[Path, list[int]] = {}
    for path, number in seed.items():
        seeds.setdefault(path.parent, []).append(number)
    items = []
    for path in skipped:
        numbers = seeds.get(path.parent, []) if path in seed else []
        if len(numbers) < 2:
            items.append(str(path))
        elif seed[path] == min(numbers):  # the run's line, where its first seed folder stands
            count = f"{len(numbers)} seed folders"
            items.append(f"{path.parent}: seeds {number_ranges(sorted(numbers))} ({count})")
    return items


def number_ranges(numbers: list[int]) -> str:
    """Ascending integers as ranges: ``[0, 1, 2, 5, 7, 8]`` -> ``0-2, 5, 7-8``."""
    spans: list[list[int]] = []
    for number in numbers:
        if spans and number == spans[-1][1] + 1:
            spans[-1][1] = number
        else:
            spans.append([number, number])
    return ", ".join(str(first) if first == last else f"{first}-{last}" for first, last in spans)


def _batched_summary(folder: Path) -> bool:
    """A ``seed_mode=batched`` run's ``seeds/`` folder: percentiles over its seeds, not a run
    (its ``seed<s>/`` folders are plotted)."""
    if folder.name != "seeds":
        return False
    seeds = (sibling for sibling in folder.parent.glob("seed*") if sibling.is_dir())
    return any(seed_number(sibling) is not None for sibling in seeds)


SESSION_START_TAG = "_hparams_/session_start_info"
SESSION_END_TAG = "_hparams_/session_end_info"
LEGEND_WIDTH = 60
"""Characters per legend line (a label of many keys, or a resume's changes, is wrapped)."""
LEGEND_CHAR_INCHES = 0.065
"""Width of a legend character at the style's 8 pt: each panel widens with its legend, which left
the axes no room (matplotlib's "axes sizes collapsed to zero")."""
LEGEND_LINE_INCHES = 0.135
LEGEND_ENTRY_INCHES = 0.06
"""Height of a legend line at 8 pt, and the space between entries: the figure grows taller with its
legend, which with 8 groups of 3-line labels was taller than the figure (matplotlib's "axes sizes
collapsed to zero" warning on stderr, and a squashed plot)."""
COLOURS = 10
"""Colours in the style's cycle (matplotlib's tab10): the groups after them get another line style."""
LINE_STYLES = ("-", "--", ":", "-.")
RESUMED_KEY = "resumed"
"""A run's label entry for the settings a resume changed (:func:`resumed_changes`)."""


def segment_hparams(folder: Path) -> tuple[list[dict[str, Any]], bool]:
    """The hyperparameters each part of a run logged at its end, oldest first: the run, then each
    resume of it (its own event file; a resume may change the budget and learning settings);
    TensorBoard's accumulator over the folder keeps only the first part's. And whether the last
    part ended on an error (its session end says ``STATUS_FAILURE``:
    :data:`~agents.runtime.logger.SESSION_STATUS`)."""
    parts, failed = [], False
    for path in sorted(folder.glob("events.out.tfevents.*")):  # the accumulator's order
        found, status = None, None
        with suppress(Exception):  # a damaged or cut-off file: the parts before its damage
            for event in EventFileLoader(str(path)).Load():
                for value in event.summary.value:
                    if value.metadata.plugin_data.plugin_name != "hparams":
                        continue
                    if value.tag == SESSION_START_TAG:
                        found = value.metadata.plugin_data.content
                    elif value.tag == SESSION_END_TAG:
                        data = plugin_data_pb2.HParamsPluginData.FromString(
                            value.metadata.plugin_data.content
                        )
                        status = data.session_end_info.status
        if found is not None:
            start = plugin_data_pb2.HParamsPluginData.FromString(found).session_start_info
            parts.append({name: getattr(v, v.WhichOneof("kind")) for name, v in start.hparams.items()})
            failed = status == api_pb2.STATUS_FAILURE
    return parts, failed


def resumed_changes(parts: list[dict[str, Any]]) -> str:
    """``key=first->last`` for each learning setting a resume changed (empty when none did). A
    longer budget alone is no change when the learning rate is constant: the run continues as
    one of that budget would have (resume is exact); with a schedule it is one."""
    first, last = parts[0], parts[-1]
    constant = (
        first.get("agent.lr_schedule", "constant") == last.get("agent.lr_schedule", "constant") == "constant"
    )
    changed = [
        f"{key}={short_number(str(first.get(key, '-')))}->{short_number(str(last.get(key, '-')))}"
        for key in sorted(set(first) | set(last))
        if first.get(key) != last.get(key) and not (constant and key == "budget.total_env_steps")
    ]
    return " ".join(changed)


class _NoPurgeNotice(logging.Filter):
    """Drops TensorBoard's "Detected out of order event.step likely caused by a TensorFlow restart
    ... Removing 475 scalars", printed for every run resumed from a checkpoint before its last
    logged step: the points it drops are the stopped part's, after the checkpoint, which the
    resume logged again (what TensorBoard shows too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Detected out of order event.step")


def read_events(path: Path) -> EventAccumulator:
    """The scalars (all of them) and the HParams tensors of the event files in ``path``."""
    tensorboard_log = logging.getLogger("tensorboard")
    notice = _NoPurgeNotice()
    tensorboard_log.addFilter(notice)
    try:
        return EventAccumulator(str(path), size_guidance={"scalars": 0, "tensors": 1}).Reload()
    finally:
        tensorboard_log.removeFilter(notice)


def load_run(path: Path) -> Run | None:
    """Read one run folder; ``None`` when it has no hparams (unfinished or interrupted run)."""
    return run_from_events(path, read_events(path))


def run_from_events(path: Path, events: EventAccumulator) -> Run | None:
    """:func:`load_run` from the run's ``events`` (:func:`read_events`), already read."""
    parts, failed = segment_hparams(path)
    scalars = events.Tags()["scalars"]
    needed = (tags.EPISODIC_RETURN, tags.FINAL_MEAN_RETURN, tags.FINAL_ENV_STEPS)
    if not parts or not all(tag in scalars for tag in needed):  # unfinished, or a cut-off file
        return None
    hparams = dict(parts[-1])  # the settings it ended with: a resume's budget, not the first's
    changes = resumed_changes(parts)
    if changes:  # its own group: neither setting describes the whole run
        hparams[RESUMED_KEY] = changes
    episodes = events.Scalars(tags.EPISODIC_RETURN)
    counts = (
        [event.value for event in events.Scalars(tags.EPISODES_IN_MEAN)]
        if tags.EPISODES_IN_MEAN in scalars
        else []
    )
    return Run(
        path=path,
        hparams=hparams,
        steps=np.array([event.step for event in episodes], dtype=np.int64),
        returns=np.array([event.value for event in episodes], dtype=np.float64),
        final_mean_return=events.Scalars(tags.FINAL_MEAN_RETURN)[-1].value,
        env_steps=int(events.Scalars(tags.FINAL_ENV_STEPS)[-1].value),
        episodes=int(events.Scalars(tags.FINAL_EPISODES)[-1].value) if tags.FINAL_EPISODES in scalars else 0,
        failed=failed,
        counts=np.array(counts, dtype=np.float64) if counts and len(counts) == len(episodes) else None,
    )


def ended_without_episodes(events: EventAccumulator) -> bool:
    """Whether a run whose ``events`` these are logged its final results but no episode (its budget
    was spent before the first one ended): :func:`load_run` has nothing to plot, yet it is no
    unfinished run."""
    scalars = events.Tags()["scalars"]
    return tags.FINAL_ENV_STEPS in scalars and tags.EPISODIC_RETURN not in scalars


def stopped_early(run: Run) -> str | None:
    """Why a run that logged its final results did not finish its budget (a sweep job's
    ``result.json`` status, FAILED or INTERRUPTED; or fewer env steps than its budget without
    reaching its target), else None: its final mean return is that of a shorter run."""
    result = run.path / "result.json"
    if result.is_file():
        with suppress(OSError, ValueError):
            status = json.loads(result.read_text()).get("status")
            if status in ("FAILED", "INTERRUPTED"):
                return f"{status} at {run.env_steps:,} env steps"
            return None
    budget = run.hparams.get("budget.total_env_steps")
    if isinstance(budget, int | float) and run.env_steps < budget:
        if str(run.hparams.get("budget.stop_at_target")) == "True" and _reached_target(run):
            return None
        how = "failed" if run.failed else "stopped"  # (its HParams row says Failure: an error ended it)
        return f"{how} at {run.env_steps:,} of {int(budget):,} env steps"
    return None


def _reached_target(run: Run) -> bool:
    """The run's final mean return reaches its target (``budget.target_return``, else the env's
    registered threshold)."""
    target = run.hparams.get("budget.target_return")
    if not isinstance(target, int | float):
        with suppress(Exception):  # an env this process cannot look up: no target known
            target = gym.spec(run.env.rpartition(":")[2]).reward_threshold
    return isinstance(target, int | float) and run.final_mean_return >= target


def _defines_group(key: str) -> bool:
    """Seeds are aggregated; keys that do not change learning (:data:`RUN_KEYS`) do not split groups."""
    return key != "seed" and changes_learning(key)


def group_runs(runs: list[Run]) -> dict[str, list[Run]]:
    """Runs with the same config but the seed, labelled by the keys in which an env's groups differ.

    :return: ``{label: runs}`` in order of first appearance; a label reads ``env: key=value, ...``
        (just the env when every run of that env shares its config).
    """
    configs = [{k: v for k, v in run.hparams.items() if _defines_group(k)} for run in runs]
    groups: dict[str, list[Run]] = {}
    for env in dict.fromkeys(run.env for run in runs):
        members = [(run, config) for run, config in zip(runs, configs, strict=True) if run.env == env]
        keys = sorted({k for _, config in members for k in config})
        varying = [k for k in keys if len({repr(config.get(k)) for _, config in members}) > 1]
        for run, config in members:
            settings = ", ".join(
                f"{k}={short_number(str(config.get(k, '-')))}"
                for k in varying
                if k in config or k != RESUMED_KEY  # the runs no resume changed: no entry
            )
            groups.setdefault(f"{env}: {settings}" if settings else env, []).append(run)
    return groups


def drop_repeated_seeds(groups: dict[str, list[Run]]) -> tuple[dict[str, list[Run]], list[tuple[Run, Run]]]:
    """Each group's runs with one run per seed: a second run of a seed with the same config (a
    copy, a rerun in another folder) is the same run, not another sample, and counted twice it
    narrowed the interval. The copy that took the most env steps is kept (the first of a tie): the
    one listed first was, though it may be a copy cut short. Runs without a logged seed all count.

    :return: the groups without the repeats, and each left-out run with the run of its seed kept.
    """
    kept: dict[str, list[Run]] = {}
    repeats: list[tuple[Run, Run]] = []
    for label, runs in groups.items():
        seeds = [_seed_key(run) for run in runs]
        longest: dict[Any, Run] = {}  # of a seed's copies, the one that went furthest (a finished
        for seed, run in zip(seeds, runs, strict=True):  # run, not its copy cut short; ties: the first)
            if seed is not None and (seed not in longest or run.env_steps > longest[seed].env_steps):
                longest[seed] = run
        for seed, run in zip(seeds, runs, strict=True):
            if seed is not None and longest[seed] is not run:
                repeats.append((run, longest[seed]))
                continue
            kept.setdefault(label, []).append(run)
    return kept, repeats


def bootstrap_ci(
    scores: np.ndarray, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap CI of the mean over runs (axis 0).

    :param scores: shape [n_runs, ...] (one row per seed).
    :return: ``(low, high)``, each of shape ``scores.shape[1:]``; equal to the mean when n_runs = 1.
    """
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(scores), size=(resamples, len(scores)))  # [B, n] run indices
    means = scores[picks].mean(axis=1)  # [B, ...] mean of each resample
    tail = 100 * (1 - confidence) / 2
    return np.percentile(means, tail, axis=0), np.percentile(means, 100 - tail, axis=0)


def interquartile_mean(scores: np.ndarray) -> float:
    """Mean of the middle 50% of the sorted scores (all of them when n < 4)."""
    ordered = np.sort(scores)
    cut = len(ordered) // 4
    return float(ordered[cut : len(ordered) - cut].mean())


def curve(run: Run, grid: np.ndarray, window: int) -> np.ndarray:
    """Mean return of the last ``window`` episodes ended by each grid step, shape [len(grid)] (nan
    before the first episode ends). A point that is the mean over ``c`` episodes counts as ``c``
    episodes of that return; the oldest point in the window counts for the episodes of it that fit."""
    ended = np.searchsorted(run.steps, grid, side="right")  # points written by each x, [G]
    if run.counts is None:  # one episode a point (or a run logged before the counts)
        sums = np.concatenate([[0.0], np.cumsum(run.returns)])  # sums[k] = returns[:k].sum()
        first = np.maximum(ended - window, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(ended > 0, (sums[ended] - sums[first]) / (ended - first), np.nan)
    counts = run.counts
    episodes = np.concatenate([[0.0], np.cumsum(counts)])  # episodes[k]: those of points[:k]
    sums = np.concatenate([[0.0], np.cumsum(counts * run.returns)])  # their returns' sum
    start = np.maximum(episodes[ended] - window, 0.0)  # the window's first episode
    oldest = np.searchsorted(episodes, start, side="right") - 1  # the point it is in
    oldest = np.clip(oldest, 0, max(len(counts) - 1, 0))
    inside = episodes[np.minimum(oldest + 1, len(counts))] - start  # its episodes in the window
    with np.errstate(invalid="ignore", divide="ignore"):
        total = sums[ended] - sums[np.minimum(oldest + 1, len(counts))] + inside * run.returns[oldest]
        return np.where(ended > 0, total / (episodes[ended] - start), np.nan)


def final_score(run: Run, window: int) -> float:
    """The run's curve at its last step: the mean return of its last ``window`` logged episodes
    (with ``window = budget.window``, what ``train()`` returned). A run that logged interval means
    has no per-episode record: its own final mean return (last ``budget.window`` episodes)."""
    if not run.per_episode:
        return run.final_mean_return
    return float(curve(run, np.array([run.steps[-1] if len(run.steps) else 0]), window)[0])


def final_table(groups: dict[str, list[Run]], window: int) -> str:
    """Final performance per group over seeds: mean, 95% bootstrap CI (only with 2 or more seeds)
    and IQM of each run's last-``window`` mean return, the figure's last point."""
    rows = []
    for label, runs in groups.items():
        scores = np.array([final_score(run, window) for run in runs])
        with np.errstate(over="ignore", invalid="ignore"):  # float32 event scalars of 1e300 returns: inf
            low, high = bootstrap_ci(scores)
        interval = f"[{shown_return(low)}, {shown_return(high)}]" if len(runs) > 1 else "- (1 seed)"
        env_steps = round(np.mean([run.env_steps for run in runs]))
        rows.append([label, str(len(runs)), str(env_steps), shown_return(scores.mean()), interval,
                     shown_return(interquartile_mean(scores))])  # fmt: skip
    fewer = any(len(run.returns) < window for runs in groups.values() for run in runs)  # a run of 37
    last = f"last {window} episodes{', or all of a shorter run' if fewer else ''}"  # logged episodes
    if not all(run.per_episode for runs in groups.values() for run in runs):  # a score of its own window
        last += "; interval-mean runs: their own final mean return"
    header = ["config", "seeds", "env steps", f"final mean return ({last})", "95% CI", "IQM"]
    return markdown_table(header, rows)


def _seed_key(run: Run) -> Any:
    """What makes two runs of one config the same run: the seed, and for a ``seed_mode=batched``
    seed the batch it learned in (its top folder's ``seed`` and ``num_seeds``: seed 4 of seeds 0-7
    and seed 4 of seeds 4-7 share one vector env and generator with other seeds, and differ).
    ``b1/seed4`` and ``b3/seed4`` were left out as "the same run"; and where it computed
    (:data:`COMPUTE_KEYS`: a seed run again with ``torch_threads=2`` was left out too)."""
    seed = run.hparams.get("seed")
    if seed is None:
        return None
    own = saved_config(run.path)  # where it computed: torch_threads=2 or a GPU round otherwise
    computed = tuple(str(own.get(key)) for key in COMPUTE_KEYS) if own is not None else ()
    if run.hparams.get("seed_mode") != "batched":
        return seed, *computed
    batch = saved_config(run.path.parent)
    if batch is None:  # no readable record of the batch: its folder
        return seed, *computed, str(run.path.parent.resolve())
    return seed, *computed, batch.get("seed"), batch.get("num_seeds")


COMPUTE_KEYS = ("device", "torch_threads")
"""Settings that leave the learner as it is (they group together) but round its sums otherwise:
two runs of one seed that differ in them are two samples, not one run twice."""


def legend_label(label: str, runs: list[Run]) -> str:
    """A group's legend entry: its label without the env (the panel's title), the seed count,
    wrapped at :data:`LEGEND_WIDTH` characters."""
    env = runs[0].env
    name = label.removeprefix(f"{env}: ") if label != env else "all runs"
    return "\n".join(textwrap.wrap(f"{name} (n={len(runs)})", LEGEND_WIDTH, break_long_words=False))


def plot_groups(groups: dict[str, list[Run]], out: Path, window: int = 100, points: int = 200) -> list[Path]:
    """Return against env steps, one panel per env, the mean over seeds per group and, for groups of
    2 or more seeds, a 95% bootstrap CI band; the legend (labels: the keys in which the groups
    differ) sits beside the axes, and says whether a band is drawn.

    :return: the PNG and SVG written, :func:`figure_paths` of ``out``.
    """
    refuse_other_files(out)
    envs = list(dict.fromkeys(runs[0].env for runs in groups.values()))
    with matplotlib.rc_context(STYLE):
        labels = {label: legend_label(label, runs) for label, runs in groups.items()}
        longest = max(len(line) for text in labels.values() for line in text.splitlines())
        panel = 3.2 + max(1.6, LEGEND_CHAR_INCHES * longest)  # the axes keep ~3 inches beside the legend
        tallest = max(  # the legend of the panel with the most lines, in inches
            sum(LEGEND_LINE_INCHES * (text.count("\n") + 1) + LEGEND_ENTRY_INCHES
                for label, text in labels.items() if groups[label][0].env == env)
            for env in envs
        )  # fmt: skip
        figure = Figure(figsize=(panel * len(envs), max(3.4, tallest + 0.8)), layout="constrained")
        axes = figure.subplots(1, len(envs), squeeze=False)[0]
        for ax, env in zip(axes, envs, strict=True):
            panel_groups = [(label, runs) for label, runs in groups.items() if runs[0].env == env]
            for index, (label, runs) in enumerate(panel_groups):
                last = max(run.env_steps for run in runs)
                grid = np.linspace(0, last, points)
                curves = np.stack([curve(run, grid, window) for run in runs])  # [seeds, points]
                mean = curves.mean(axis=0)
                style = LINE_STYLES[index // COLOURS % len(LINE_STYLES)]  # the 11th group: dashed, ...
                (line,) = ax.plot(grid, mean, label=labels[label], linestyle=style)
                if len(runs) > 1:  # a band only where there is a spread to bootstrap
                    low, high = bootstrap_ci(curves)
                    ax.fill_between(grid, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
            ax.set_title(env)
            ax.set_xlabel("environment steps")
            ax.set_ylabel(f"episodic return ({window}-episode moving mean)")
            ax.xaxis.set_major_formatter(EngFormatter(sep=""))
            ax.set_xlim(left=0)
            seeds = [len(runs) for runs in groups.values() if runs[0].env == env]
            title = "mean over seeds" + (
                ", band: 95% bootstrap CI" if max(seeds) > 1 else " (1 seed: no band)"
            )
            ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), title=title, title_fontsize=8)
        written = figure_paths(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        # both or neither replaced: a full disk or a Ctrl-C mid-write cut an earlier <out>.png short
        write_files_atomically([
            (path, lambda temporary, kind=path.suffix[1:]: figure.savefig(temporary, dpi=200, format=kind))
            for path in written
        ])  # fmt: skip
    return written


FIGURE_SUFFIXES = (".png", ".svg")
"""The files each figure is written as."""


def figure_paths(out: Path) -> list[Path]:
    """``<out>.png`` and ``<out>.svg``: ``out`` is a stem, so a dot in it stays (``out=figs/lr0.01``
    wrote ``lr0.png``, which ``out=figs/lr0.03`` then overwrote); an ``out`` that already ends in
    ``.png`` or ``.svg`` loses that suffix first (``returns.png`` writes ``returns.png``, not
    ``returns.png.png``)."""
    stem = out.with_suffix("") if out.suffix.lower() in FIGURE_SUFFIXES else out
    return [stem.with_name(stem.name + suffix) for suffix in FIGURE_SUFFIXES]


FIGURE_STARTS = {
    ".png": ("a PNG figure", (b"\x89PNG\r\n\x1a\n",)),
    ".svg": ("an SVG figure", (b"<?xml", b"<svg", b"<!--", b"<!DOCTYPE svg")),
}
"""What a figure file of each suffix is, and how it begins (a PNG's signature; an SVG's XML
declaration, root, comment or document type), leading whitespace and a byte-order mark aside."""


def refuse_other_files(out: Path) -> None:
    """:class:`UserError` where ``<out>.png`` or ``<out>.svg`` (or the file a link there names) holds
    something other than a figure: ``out=notes`` replaced ``notes.png`` holding text, and a link
    ``lnk.png`` to a checkpoint had the checkpoint replaced by the figure. An empty file, or a
    figure (an earlier plot's), is replaced."""
    for path in figure_paths(out):
        if not path.exists():
            continue
        if not path.is_file():  # a pipe (reading it waits), a device: the atomic write would replace it
            raise UserError(
                f"out={out}: {path} is not a regular file; give another out (nothing was written)"
            )
        with suppress(OSError), path.open("rb") as file:  # (unreadable: writing it says why)
            start = file.read(512).removeprefix(b"\xef\xbb\xbf").lstrip()
            kind, starts = FIGURE_STARTS[path.suffix]
            if start and not start.startswith(starts):
                raise UserError(
                    f"out={out} would overwrite {path.resolve()}, which holds other data (not {kind}): "
                    "give another out (nothing was written)"
                )


def plot_runs(
    paths: list[Path], out: Path | None = None, window: int | None = None
) -> tuple[str, list[Path]]:
    """What ``scripts/plot.py`` does: find, load, group, plot; returns the table and the files.

    :param paths: run folders and/or sweep folders (searched recursively for event files).
    :param out: file stem for the figures (:func:`figure_paths`); default ``<first path>/returns``
        (a pattern's first folder).
    :param window: episodes in each curve's moving mean and in the table's final score; None = the
        runs' ``budget.window`` (100 by default), so the table repeats what training reported.
    """
    if window is not None and window < 1:
        raise UserError(f"window={window} must be >= 1 (episodes in the moving mean)")
    if out is not None and out.is_dir():  # it wrote <folder>.png beside the folder
        raise UserError(
            f"out={out} is a folder; give a file stem: out={out / 'returns'} writes returns.png and "
            "returns.svg in it"
        )
    loaded, empty = {}, []  # each folder's events read once (a run that ended no episode: from them too)
    for path in find_run_dirs(paths):
        events = read_events(path)
        loaded[path] = run_from_events(path, events)
        if loaded[path] is None and ended_without_episodes(events):
            empty.append(path)
    runs = [run for run in loaded.values() if run is not None]
    skipped = [path for path, run in loaded.items() if run is None and path not in empty]
    if not runs:
        why = (
            "they finished before any episode ended: raise budget.total_env_steps"
            if empty and not skipped
            else "none logged its final results: still running, stopped, or its event file cut off"
        )
        raise UserError(f"no finished runs below {', '.join(map(str, paths))} ({why})")
    groups, repeats = drop_repeated_seeds(group_runs(runs))
    if window is None:
        window = int(runs[0].hparams.get("budget.window", 100))
    matches = with_globs_expanded(paths[:1])  # runs=[ns3/*]: a folder named "*" was made for the figures
    first = next((path for path in matches if path.is_dir()), matches[0])  # not a README.md it matched
    files = plot_groups(groups, out if out is not None else first / "returns", window)
    skip_line = "\nskipped (no final results: unfinished, or a cut-off event file): "
    note = "".join(f"{skip_line}{item}" for item in skipped_lines(skipped))
    empty_line = "\nskipped (finished before any episode ended: no return to show): "
    note += "".join(f"{empty_line}{item}" for item in skipped_lines(empty))
    summary_line = "\nskipped (a seed_mode=batched run's mean and percentiles over its seeds, not a run): "
    note += "".join(f"{summary_line}{path}" for path in paths if _batched_summary(path))  # named by hand
    tabled = [run for members in groups.values() for run in members]
    note += "".join(f"\nin the table, but {why}: {run.path}" for run in tabled if (why := stopped_early(run)))
    note += "".join(
        f"\nleft out (seed {short_number(str(run.hparams['seed']))} again, with the config of {kept.path}: "
        f"the same run, not another seed): {run.path}"
        for run, kept in repeats
    )
    said = f"curves and table: the mean of each run's last {window} logged episodes (window={window})\n"
    if not all(run.per_episode for run in tabled):  # num_seeds > 1 or many envs log interval means
        curves = "their curves weigh each point by the episodes it is the mean over"
        unweighted = [run for run in tabled if not run.weighted]
        if unweighted:  # logged before charts/episodes_in_mean
            curves += (
                f", but {len(unweighted)} of them (logged before charts/episodes_in_mean, e.g. "
                f"{unweighted[0].path}) average the last {window} points"
            )
        said += (
            f"runs that logged interval means (several seeds or envs): {curves}; "
            "their table scores are their own final mean returns\n"
        )
    return said + final_table(groups, window) + note, files
