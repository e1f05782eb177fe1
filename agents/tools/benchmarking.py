"""Measurements behind ``scripts/benchmark.py``: env speed, training speed, score timing.

Every figure a report compares is measured in the same process, back to back, so the ratios
are meaningful on a shared, noisy machine even when the absolute numbers are not.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gymnasium as gym
import torch

from agents.core.policies import LinearSoftmaxPolicy
from agents.runtime.trainer import Trainer, TrainResult
from agents.studies.timing import best_of_seconds
from agents.tools.cli import compose_train_config
from envs.make import make_vector_env

BENCHMARK_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"


def raw_env_steps_per_second(
    env_id: str, num_envs: int, seconds: float = 2.0, with_stats: bool = False
) -> float:
    """Random-action steps/s of the env itself: ``gym.make`` for one env (resetting by hand),
    Gymnasium's native vector env (else sync) for several; no agent code at all. ``with_stats``
    keeps the ``RecordEpisodeStatistics`` wrapper that training uses on vector envs (the floor
    for training speed there)."""
    if num_envs == 1:
        env = gym.make(env_id)
        env.reset(seed=0)
        env.action_space.seed(0)
        steps, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            for _ in range(1000):
                _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                if terminated or truncated:
                    env.reset()
            steps += 1000
        return steps / (time.perf_counter() - start)
    envs = make_vector_env(env_id, num_envs, "native")
    if with_stats:
        envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            envs.step(envs.action_space.sample())
        steps += 100 * num_envs
    envs.close()
    return steps / (time.perf_counter() - start)


def training_run(overrides: list[str]) -> TrainResult:
    """A full training run (acting, updates, TensorBoard logging) into a temporary folder."""
    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_train_config(["logging.progress_bar=false", f"run_dir={run_dir}", *overrides])
        return Trainer(cfg).run()


@dataclass
class ScoreTiming:
    closed_form_seconds: float
    autograd_seconds: float

    @property
    def speedup(self) -> float:
        return self.autograd_seconds / self.closed_form_seconds


def time_scores(
    batch: int = 4096, state_dim: int = 5, n_actions: int = 2, repeats: int = 20, seed: int = 0
) -> ScoreTiming:
    """Best-of-``repeats`` seconds of ``score`` and ``autograd_score`` on one float64 batch, on
    one torch thread as training uses (two threads spin-wait for each other on a busy machine)."""
    torch.set_num_threads(1)
    generator = torch.Generator().manual_seed(seed)
    policy = LinearSoftmaxPolicy(state_dim, n_actions, dtype=torch.float64)
    with torch.no_grad():
        policy.weight.normal_(generator=generator)
    features = torch.randn(batch, state_dim, dtype=torch.float64, generator=generator)
    actions = torch.randint(n_actions, (batch,), generator=generator)
    with torch.no_grad():
        closed = best_of_seconds(lambda: policy.score(features, actions), repeats)
        autograd = best_of_seconds(lambda: policy.autograd_score(features, actions), repeats)
    return ScoreTiming(closed, autograd)


@dataclass
class SpeedRow:
    """Training speed against the env's own speed, measured back to back in one process."""

    env: str
    num_envs: int
    raw_steps_per_second: float
    stats_steps_per_second: float
    """Random-action steps/s with the ``RecordEpisodeStatistics`` wrapper training uses (vector
    envs; one env counts its episodes in the runner, so this equals the raw figure there)."""
    train_steps_per_second: float
    untracked_steps_per_second: float
    """Training steps/s with ``logging.tensorboard=false``: what the event writer costs."""
    updates_per_second: float
    peak_rss_mb: float
    env_steps: int

    @property
    def ratio(self) -> float:
        return self.train_steps_per_second / self.raw_steps_per_second

    @property
    def untracked_ratio(self) -> float:
        return self.untracked_steps_per_second / self.raw_steps_per_second


def speed_overrides(env_id: str, num_envs: int, steps: int) -> list[str]:
    """A fixed-length run; one update per ``num_envs`` finished episodes."""
    return [f"env={env_id}", f"vector.num_envs={num_envs}", f"agent.episodes_per_update={num_envs}",
            f"budget.total_env_steps={steps}", "budget.stop_at_target=false"]  # fmt: skip


def measure_speed(env_id: str, num_envs: int, steps: int, repeats: int = 3) -> SpeedRow:
    """Raw env steps/s, then training steps/s on the same env, each the best of ``repeats``
    (tracked and untracked runs alternate), since a shared machine only ever slows a run down.
    Call in a fresh process so that the peak RSS is this process's own."""
    raw = max(raw_env_steps_per_second(env_id, num_envs, seconds=1.0) for _ in range(repeats))
    with_stats = raw
    if num_envs > 1:
        with_stats = max(
            raw_env_steps_per_second(env_id, num_envs, 1.0, with_stats=True) for _ in range(repeats)
        )
    overrides = speed_overrides(env_id, num_envs, steps)
    tracked, untracked = [], []
    for _ in range(repeats):
        tracked.append(training_run(overrides))
        untracked.append(training_run([*overrides, "logging.tensorboard=false"]))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB
    best, best_untracked = (min(runs, key=lambda result: result.seconds) for runs in (tracked, untracked))
    return SpeedRow(env_id, num_envs, raw, with_stats, best.env_steps / best.seconds,
                    best_untracked.env_steps / best_untracked.seconds, best.updates / best.seconds,
                    peak_mb, best.env_steps)  # fmt: skip


def measure_speed_in_subprocess(env_id: str, num_envs: int, steps: int, repeats: int = 3) -> SpeedRow:
    """:func:`measure_speed` in a child process (``scripts/benchmark.py worker``)."""
    command = [sys.executable, str(BENCHMARK_SCRIPT), "worker", "--env", env_id, "--num-envs",
               str(num_envs), "--steps", str(steps), "--repeats", str(repeats)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return SpeedRow(**json.loads(completed.stdout.strip().splitlines()[-1]))


def speed_row_json(row: SpeedRow) -> str:
    return json.dumps(asdict(row))


def speed_table(rows: list[SpeedRow]) -> str:
    header = (
        f"{'env':<12} {'envs':>5} {'raw steps/s':>12} {'RES/raw':>7} {'train steps/s':>14} "
        f"{'ratio':>6} {'no-TB steps/s':>14} {'ratio':>6} {'updates/s':>10} {'peak RSS MB':>12}"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"{row.env:<12} {row.num_envs:>5} {row.raw_steps_per_second:>12,.0f} "
            f"{row.stats_steps_per_second / row.raw_steps_per_second:>7.2f} "
            f"{row.train_steps_per_second:>14,.0f} {row.ratio:>6.2f} "
            f"{row.untracked_steps_per_second:>14,.0f} {row.untracked_ratio:>6.2f} "
            f"{row.updates_per_second:>10,.1f} {row.peak_rss_mb:>12,.0f}"
        )
    return "\n".join(lines)


@dataclass
class SolveTimes:
    """Env steps and wall seconds until the last-100 mean return reached the target, per seed."""

    env_steps: list[int | None]
    seconds: list[float]

    def summary(self) -> str:
        solved = [(s, t) for s, t in zip(self.env_steps, self.seconds, strict=True) if s is not None]
        if not solved:
            return f"0/{len(self.env_steps)} seeds reached the target"
        steps, seconds = [s for s, _ in solved], [t for _, t in solved]
        return (
            f"{len(solved)}/{len(self.env_steps)} seeds reached the target; env steps median "
            f"{statistics.median(steps):,.0f} (range {min(steps):,}-{max(steps):,}); wall seconds median "
            f"{statistics.median(seconds):.1f} (range {min(seconds):.1f}-{max(seconds):.1f})"
        )


def solve_times(env_id: str, seeds: list[int], overrides: list[str] | None = None) -> SolveTimes:
    """``overrides`` (e.g. ``experiment=cartpole``) with each seed, one after the other (so each
    wall time is that run's own), stopping at the env's threshold or the config's budget."""
    steps: list[int | None] = []
    seconds: list[float] = []
    for seed in seeds:
        result = training_run([f"env={env_id}", *(overrides or []), f"seed={seed}",
                               "budget.stop_at_target=true", "logging.tensorboard=false"])  # fmt: skip
        steps.append(result.env_steps if result.reached_target else None)
        seconds.append(result.seconds)
    return SolveTimes(steps, seconds)


@dataclass
class ManySeeds:
    """One process training ``num_seeds`` seeds side by side (``num_seeds=N``)."""

    num_seeds: int
    steps_per_seed: int
    seconds: float
    """Wall seconds, building the trainers included."""

    @property
    def microseconds_per_step(self) -> float:
        return self.seconds / (self.num_seeds * self.steps_per_seed) * 1e6


def many_seeds(
    env_id: str, num_seeds: int, steps_per_seed: int, overrides: list[str] | None = None
) -> ManySeeds:
    """Wall time of ``num_seeds`` x ``steps_per_seed`` env steps in this process, default logging."""
    from agents.runtime.multi_seed import MultiSeedTrainer

    with tempfile.TemporaryDirectory() as run_dir:
        cfg = compose_train_config(["logging.progress_bar=false", f"run_dir={run_dir}", f"env={env_id}",
                                    f"num_seeds={num_seeds}", f"budget.total_env_steps={steps_per_seed}",
                                    "budget.stop_at_target=false", *(overrides or [])])  # fmt: skip
        start = time.perf_counter()
        MultiSeedTrainer(cfg).run()
        return ManySeeds(num_seeds, steps_per_seed, time.perf_counter() - start)
