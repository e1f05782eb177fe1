"""Evaluate a trained policy: N episodes acting greedily and N sampling, mean +- std, a CSV.

``scripts/evaluate.py checkpoint=<run dir>`` parses the command line and calls :func:`evaluate`.
The agent is rebuilt exactly as the trainer built it (:func:`agents.runtime.build.build_agent` on the
config stored in the checkpoint), then the policy parameters and the feature map's statistics
are loaded (:func:`agents.runtime.checkpoint.load_checkpoint`: no code in the file runs). Episode ``i``
of both modes starts from ``env.reset(seed=seed + i)``, so the two modes face the same starts.
An episode ends when the env ends it (terminated, or truncated by its time limit); an env with
no time limit of its own is cut at :data:`~agents.runtime.config.EPISODE_STEP_CAP` steps, and the
report says how many episodes were. An env that raises is one line naming the episode and step.

``video=true`` records the first episode of each mode as an MP4 with Gymnasium's
``RecordVideo``: rendering needs pygame and writing needs moviepy (``pip install -e '.[video]'``).
"""

from __future__ import annotations

import csv
import importlib.util
import io
import math
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from omegaconf import DictConfig, OmegaConf

from agents.core.policies import SoftmaxPolicy
from agents.errors import RunInterrupted, UserError, describe, folder_problem
from agents.features.inputs import ActionFeaturesFault, PolicyInputs
from agents.runtime.acting import Actor
from agents.runtime.checkpoint import write_text_atomically
from agents.runtime.config import (
    EPISODE_STEP_CAP,
    TrainConfig,
    check_known_keys,
)
from agents.runtime.env_failures import env_named, spaces_problem
from agents.runtime.evaluation_config import CSV_HEADER, EvaluateConfig, validate_evaluate_config
from agents.runtime.restore import TrainedAgent, load_agent
from agents.runtime.return_stats import counted, shown_return, spread
from agents.runtime.rollout import BadObservation, EnvFault, play_episode
from agents.runtime.sweep_stop import StopRequest
from envs.make import EnvInfo, close_quietly, dependency_message, make_env, registered_time_limit

MODES = ("greedy", "sampled")
VIDEO_EXTRA = "pip install -e '.[video]'"


@dataclass
class ModeSummary:
    """Returns and lengths of one mode's episodes."""

    returns: list[float]
    lengths: list[int]
    capped: int = 0
    """Episodes stopped by the step cap (:func:`episode_step_cap`), not by the env: their
    returns are partial."""

    @property
    def mean(self) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # huge returns: the note says why
            return float(np.mean(self.returns))

    @property
    def std(self) -> float:
        """Population standard deviation (``ddof=0``) of the episode returns (of returns so large
        that their squares overflow, computed on the returns scaled by the largest)."""
        return spread(self.returns)

    @property
    def nonfinite(self) -> int:
        """Episodes whose return is nan or inf (the env returned such rewards, or too large ones)."""
        return sum(not math.isfinite(value) for value in self.returns)


@dataclass
class EvaluationResult:
    """What :func:`evaluate` measured and where it wrote it."""

    checkpoint: Path
    env_id: str
    modes: dict[str, ModeSummary] = field(default_factory=dict)
    csv_path: Path | None = None
    videos: list[Path] = field(default_factory=list)
    step_cap: int | None = None
    """The cap on an episode's steps where the env has no time limit (:func:`episode_step_cap`)."""
    notes: list[str] = field(default_factory=list)
    """What the report says about the evaluation as a whole (a time limit raised above the env's)."""


class Episode(NamedTuple):
    """What :func:`run_episode` measured."""

    episode_return: float
    """Undiscounted return."""
    length: int
    capped: bool = False
    """``max_steps`` stopped it before the env ended it."""


def run_episode(
    env: gym.Env,
    agent: TrainedAgent,
    greedy: bool,
    seed: int,
    max_steps: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> Episode:
    """One episode from ``env.reset(seed=seed)``, at most ``max_steps`` steps; ``stop()`` true
    (checked after every step) ends it at once (a signal during training's evaluation).

    :raises EnvFault: the env raised in ``reset`` or ``step``.
    """
    rewards, ended = [], False
    check = agent.observation_check

    def act(obs: np.ndarray) -> int:
        batch = np.asarray(obs)[None]
        if not check.fits(batch):  # the env's fault, not a misuse of predict
            raise BadObservation(check.problem("returned", batch))
        if batch.dtype.kind == "f" and not np.isfinite(batch).all():
            raise BadObservation("returned nan/inf observations")
        return int(agent.action_index(obs, greedy))

    for _, _, reward, done in play_episode(env, act, seed, max_steps):
        rewards.append(reward)
        ended = done
        if stop is not None and stop():
            break
    return Episode(float(sum(rewards)), len(rewards), not ended and len(rewards) == max_steps)


def run_episodes(
    env: gym.Env,
    agent: TrainedAgent,
    greedy: bool,
    seeds: Sequence[int],
    max_steps: int | None,
    stop: Callable[[], bool] | None = None,
) -> ModeSummary:
    """Episode ``i`` from ``env.reset(seed=seeds[i])`` (:func:`run_episode`); once ``stop()`` is
    true, the episodes played so far.

    :raises EnvFault: the env raised; its ``episode`` is the index ``i``.
    """
    episodes = []
    for index, seed in enumerate(seeds):
        try:
            episodes.append(run_episode(env, agent, greedy, seed, max_steps, stop))
        except EnvFault as fault:
            fault.episode = index
            raise
        if stop is not None and stop():
            break
    return ModeSummary(
        [episode.episode_return for episode in episodes],
        [episode.length for episode in episodes],
        sum(episode.capped for episode in episodes),
    )


def episode_step_cap(env: gym.Env, cap: int) -> int | None:
    """None when the env's time limit (``spec.max_episode_steps``: registered, or set by
    ``max_episode_steps=``) ends its episodes, else ``cap``: an env that never ends an episode
    cannot hang an evaluation or fill its memory."""
    spec = env.spec
    return None if spec is not None and spec.max_episode_steps is not None else cap


def capped_note(summary: ModeSummary, cap: int | None, what: str, key: str) -> str:
    """One line on the episodes of ``summary`` that the step cap stopped (``key`` sets the cap)."""
    return (
        f"{summary.capped} of {len(summary.returns)} {what} episodes were cut at {cap:,} steps: "
        f"the env has no time limit and did not end them, so their returns are partial ({key}=N sets the cap)"
    )


EVAL_STREAM = 0xE7A1
"""Middle entry of evaluation ``k``'s seed ``(seed, EVAL_STREAM, k)``: its episodes start apart
from the training env's (seeded with ``seed``) and a resumed run repeats them."""


def next_multiple(env_steps: int, every: int) -> int:
    """The first multiple of ``every`` after ``env_steps``: evaluations and periodic checkpoints keep
    a fixed cadence (SB3's callbacks count calls), where ``env_steps + every`` drifted by the steps
    each vector step passes a multiple by (1,002, 2,003, 3,005, ...: 5 of 6 evaluations in 6,002)."""
    return (env_steps // every + 1) * every


class TrainingEvaluation:
    """Evaluation during training, as SB3's ``EvalCallback``: at the first env step at or past each
    multiple of ``eval.every_steps``, ``eval.episodes`` episodes of the current policy on an env of
    its own (greedy unless ``eval.deterministic=false``). Evaluation ``k`` draws its episodes'
    reset seeds and its sampling noise from ``default_rng((seed, EVAL_STREAM, k))``: nothing of
    training's generators is used, so training follows the same path with evaluation on or off.

    :param config: the run's config (``eval``, the env, its kwargs and wrappers, ``seed``).
    :param info: the (wrapped) env's spaces, which the evaluation env must have too (a policy of 2
        actions was evaluated on an env of 4 without a word).
    :param inputs: the trainer's policy inputs (its feature map, read only).
    :param policy: the trainer's policy, read at each evaluation.

    An episode lasts at most ``eval.max_episode_steps`` steps when the env has no time limit of
    its own (:func:`episode_step_cap`); the summary counts the episodes cut there.
    """

    def __init__(
        self, config: TrainConfig, info: EnvInfo, inputs: PolicyInputs, policy: SoftmaxPolicy
    ) -> None:
        self.config, self.observation_space, self.inputs, self.policy = (
            config,
            info.observation_space,
            inputs,
            policy,
        )
        self.env = evaluation_made(config, config.env_kwargs)
        named = f"{env_named(config.env, config.env_wrappers)} (for the evaluation)"
        problem = spaces_problem(named, self.env.observation_space, self.env.action_space, info)
        if problem is not None:
            close_quietly(self.env)
            raise UserError(problem)
        self.step_cap = episode_step_cap(self.env, config.eval.max_episode_steps)
        self.count = 0
        self.next_step = config.eval.every_steps

    def __call__(self, env_steps: int, stop: Callable[[], bool] | None = None) -> ModeSummary | None:
        """Evaluate now; schedule the next at the next multiple of ``eval.every_steps``.

        :param stop: checked after every step; once true (a stop signal: the run is about to
            save and exit) the evaluation ends at once, returns None and counts for nothing.
        :raises EnvFault: the evaluation env raised.
        """
        rng = np.random.default_rng([self.config.seed, EVAL_STREAM, self.count])
        actor = Actor.for_policy(self.policy, rng)  # reads the current parameters
        agent = TrainedAgent(self.config, self.observation_space, self.inputs, actor)
        seeds = rng.integers(2**31, size=self.config.eval.episodes).tolist()
        greedy = self.config.eval.deterministic
        summary = run_episodes(self.env, agent, greedy, seeds, self.step_cap, stop)
        if stop is not None and stop():
            return None
        self.count += 1
        self.next_step = next_multiple(env_steps, self.config.eval.every_steps)
        return summary

    def state_dict(self) -> dict[str, int]:
        return {"count": self.count, "next_step": self.next_step}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.count, self.next_step = int(state["count"]), int(state["next_step"])

    def resume_from(self, state: dict[str, int] | None, saved_every: int | None, env_steps: int) -> None:
        """Continue a run saved at ``env_steps`` with ``state`` (None: it did not evaluate), which
        evaluated every ``saved_every`` steps: on its schedule (an evaluation a signal cut short
        is made again at once), or, where the resume turns evaluation on or changes
        ``eval.every_steps``, at the next multiple of the new one (it evaluated at once, and at
        3,000 of a new 2,000 after 2,500 steps of 1,000)."""
        if state is not None:
            self.load_state_dict(state)
        if state is None or saved_every != self.config.eval.every_steps:
            self.next_step = next_multiple(env_steps, self.config.eval.every_steps)

    def close(self) -> None:
        close_quietly(self.env)


def require_video_dependencies() -> None:
    """pygame renders the frames, moviepy writes the MP4: a one-line error names the extra."""
    for module, role in (("pygame", "render frames"), ("moviepy", "write MP4 files")):
        if importlib.util.find_spec(module) is None:
            raise UserError(f"video=true needs {module} to {role}; install it with {VIDEO_EXTRA}")


def evaluation_env(config: TrainConfig, cfg: EvaluateConfig, mode: str, video_dir: Path | None) -> gym.Env:
    """The trained env; with ``video_dir``, ``RecordVideo`` writes the first episode to
    ``<video_dir>/<mode>/<mode>-episode-0.mp4``."""
    kwargs = dict(config.env_kwargs)
    if cfg.max_episode_steps is not None:
        kwargs["max_episode_steps"] = cfg.max_episode_steps
    if video_dir is None:
        return evaluation_made(config, kwargs)
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # rgb_array frames are drawn off-screen
    try:
        env = evaluation_made(config, kwargs, render_mode="rgb_array")
    except gym.error.DependencyNotInstalled as error:
        raise UserError(
            f"video=true cannot render {config.env}: {dependency_message(error)} (or {VIDEO_EXTRA})"
        ) from None
    if env.render_mode != "rgb_array":
        env.close()
        raise UserError(f"env={config.env} cannot render rgb_array frames, so video=true is not available")
    return gym.wrappers.RecordVideo(
        env, str(video_dir / mode), episode_trigger=lambda episode: episode == 0, name_prefix=mode
    )


def evaluation_made(config: TrainConfig, kwargs: Mapping[str, Any], **make_kwargs: Any) -> gym.Env:
    """The run's env made again for an evaluation (``make_env``); its constructor or a wrapper that
    raises or calls ``sys.exit`` there (a limit on instances, a port in use) is one line, as where
    the first env is made (a missing optional dependency is raised as it is, for video=true)."""
    try:
        return make_env(config.env, kwargs, config.env_wrappers, **make_kwargs)
    except gym.error.DependencyNotInstalled:
        raise
    except (Exception, SystemExit) as error:
        named = env_named(config.env, config.env_wrappers)
        raise UserError(f"{named} could not be made for the evaluation: {describe(error)}") from None


def check_evaluation(cfg: EvaluateConfig) -> TrainedAgent:
    """Everything :func:`evaluate` checks before its first episode (also each job of ``evaluate
    -m`` before the first runs): the keys, the video extra, the checkpoint, which it loads."""
    validate_evaluate_config(cfg)
    if cfg.video:
        require_video_dependencies()
    return load_agent(cfg.checkpoint, cfg.which, cfg.seed, cfg.trust_code)


def write_csv(path: Path, modes: dict[str, ModeSummary]) -> Path:
    """Columns ``episode, mode, return, length``; one row per episode. Written atomically: an
    interrupted write leaves the previous file (or none), never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(CSV_HEADER.split(","))
    for mode, summary in modes.items():
        rows = zip(summary.returns, summary.lengths, strict=True)
        for episode, (episode_return, length) in enumerate(rows):
            writer.writerow([episode, mode, episode_return, length])
    write_text_atomically(path, text.getvalue())
    return path


def evaluate(cfg: EvaluateConfig | DictConfig) -> EvaluationResult:
    """Run ``cfg.episodes`` greedy and sampled episodes; print mean +- std, write the CSV."""
    if isinstance(cfg, DictConfig):
        check_known_keys(cfg, EvaluateConfig)  # +epsiodes=1 composes (Hydra adds the key); nothing reads it
        cfg = OmegaConf.to_object(cfg)
    agent = check_evaluation(cfg)
    path, run_dir = agent.checkpoint, agent.checkpoint.parent
    video_dir = Path(cfg.video_dir or run_dir / "videos") if cfg.video else None
    result = EvaluationResult(path, agent.config.env)
    own_limit = agent.config.env_kwargs.get("max_episode_steps") or registered_time_limit(agent.config.env)
    if cfg.max_episode_steps is not None and own_limit is not None and cfg.max_episode_steps > own_limit:
        result.notes.append(
            f"max_episode_steps={cfg.max_episode_steps} replaced the env's time limit of {own_limit} steps "
            "(gymnasium.make's max_episode_steps), so episodes could run longer than in training"
        )
    seeds = range(cfg.seed, cfg.seed + cfg.episodes)
    with StopRequest() as stop:  # a signal (or the sweep's stop) ends the episodes; a second, at once
        for mode in MODES:
            env = evaluation_env(agent.config, cfg, mode, video_dir)
            result.step_cap = episode_step_cap(env, EPISODE_STEP_CAP)
            try:
                result.modes[mode] = run_episodes(
                    env, agent, mode == "greedy", seeds, result.step_cap, stop=lambda: stop.heard
                )
            except (EnvFault, ActionFeaturesFault) as fault:  # the env's step or reset, or its phi(s, .)
                if isinstance(fault, EnvFault) and isinstance(fault.error, gym.error.DependencyNotInstalled):
                    missing = dependency_message(fault.error)  # RecordVideo renders in step
                    raise UserError(f"video=true: {missing} (or {VIDEO_EXTRA})") from None
                seed = f" (reset seed {seeds[fault.episode or 0]})" if isinstance(fault, EnvFault) else ""
                raise UserError(
                    f"{env_named(agent.config.env, agent.config.env_wrappers)} failed in {mode} evaluation: "
                    f"{fault}{seed}; nothing was written: fix the env and evaluate again"
                ) from None
            finally:
                close_quietly(env)  # a broken env may not close cleanly
            if stop.signum is not None:
                name = signal.Signals(stop.signum).name
                raise RunInterrupted(
                    f"{name}: stopped evaluating {path} during its {mode} episodes; no csv was written "
                    "(run the same command again to evaluate it)",
                    128 + stop.signum,
                )
        result.csv_path = Path(cfg.csv or run_dir / f"evaluation_{datetime.now():%Y-%m-%d_%H-%M-%S-%f}.csv")
        if video_dir is not None:
            result.videos = sorted(video_dir.glob("*/*.mp4"))
        print(report(result), flush=True)  # the results first: an unwritable csv loses nothing
        try:  # a signal now lets the csv be written: the evaluation is complete
            write_csv(result.csv_path, result.modes)
        except OSError as error:
            raise UserError(
                f"cannot write csv={result.csv_path}: {folder_problem(result.csv_path.parent, error)} "
                "(results above)"
            ) from None
    print(f"csv:     {result.csv_path}")  # once it is written
    return result


def report(result: EvaluationResult) -> str:
    """The lines :func:`evaluate` prints (then the csv's path, once it is written)."""
    lines = [f"{result.env_id} from {result.checkpoint}", *(f"{'note':>8}: {note}" for note in result.notes)]
    for mode, summary in result.modes.items():
        lines.append(
            f"{mode:>8}: return {shown_return(summary.mean)} +- {shown_return(summary.std)} over "
            f"{counted(len(summary.returns), 'episode')} (mean length {np.mean(summary.lengths):.1f})"
        )
        if summary.nonfinite:
            lines.append(
                f"{'note':>8}: {summary.nonfinite} of {len(summary.returns)} {mode} episodes have a nan or "
                f"inf return: env={result.env_id} returned nan/inf rewards, or rewards too large to add up "
                "in float64 (fix the env, or filter them with env_wrappers)"
            )
        if summary.capped:
            lines.append(f"{'note':>8}: {capped_note(summary, result.step_cap, mode, 'max_episode_steps')}")
    lines.extend(f"video:   {video}" for video in result.videos)
    return "\n".join(lines)
