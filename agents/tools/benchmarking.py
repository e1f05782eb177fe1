"""Measurements behind ``scripts/benchmark.py``: env speed, training speed, score timing.

Every figure a report compares is measured in the same process, back to back, so the ratios
are meaningful on a shared, noisy machine even when the absolute numbers are not.
"""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.core.mlp import MLPSoftmaxPolicy
from agents.core.policies import LinearSoftmaxPolicy
from agents.errors import USER_ERROR_EXIT_CODE, RunInterrupted, UserError, describe
from agents.runtime import interrupts
from agents.runtime.config import batched_refusal
from agents.runtime.sweep_stop import StopRequest, signals_heard_by_children
from agents.runtime.trainer import Trainer, TrainResult, signal_line
from agents.studies.timing import best_of_seconds
from agents.tools.composing import compose_train_config
from envs.make import make_vector_env

BENCHMARK_COMMAND = [sys.executable, "-m", "agents.tools.console", "benchmark"]
"""``softmax-reinforce benchmark`` in a child process (in the repo and from an installed wheel)."""


def peak_rss_mb() -> float:
    """This process's peak resident set size in MB: ``VmHWM`` of ``/proc/self/status`` (Linux).
    Not ``ru_maxrss``: a child started by ``subprocess`` inherits its parent's value across the
    exec, so a small worker would report its parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # no /proc: kB on Linux


def raw_env_steps_per_second(env_id: str, num_envs: int, seconds: float = 2.0) -> float:
    """Random-action steps/s of the env itself: ``gym.make`` for one env (resetting by hand),
    Gymnasium's native vector env (else sync) for several; no agent code at all. A user's env that
    raises is a one-line :class:`UserError` (as in training), not a traceback."""
    try:
        return _raw_env_steps_per_second(env_id, num_envs, seconds)
    except Exception as error:
        raise UserError(
            f"env={env_id} failed while stepping it with random actions: {describe(error)}"
        ) from None


def _raw_env_steps_per_second(env_id: str, num_envs: int, seconds: float) -> float:
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
    return vector_steps_per_second(make_vector_env(env_id, num_envs, "native"), seconds)


def vector_steps_per_second(envs: Any, seconds: float) -> float:
    """Random-action steps/s of a vector env (Gymnasium's or EnvPool's), which it then closes."""
    envs.reset()
    rng = np.random.default_rng(0)
    n_actions, num_envs = int(envs.single_action_space.n), envs.num_envs
    actions = [rng.integers(0, n_actions, num_envs).astype(np.int32) for _ in range(16)]
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for index in range(100):
            envs.step(actions[index % 16])
        steps += 100 * num_envs
    envs.close()
    return steps / (time.perf_counter() - start)


@contextmanager
def scratch_run_dir() -> Iterator[str]:
    """A temporary run folder, removed afterwards unless the run failed with a :class:`UserError`
    after writing there, whose line names the folder's checkpoints and ``train.log`` (they stay for
    the user to read; a refusal before the run wrote anything leaves no empty folder); a signal's
    stop removes it too (its "resume with" line would name a measurement's folder) and prints only
    the benchmark's own line (:func:`~agents.runtime.trainer.signal_line`: nothing is kept)."""
    run_dir = tempfile.mkdtemp(prefix="benchmark-run-")
    try:
        with signal_line(None):  # one line for a signal, this one's: nothing is kept
            yield run_dir
    except RunInterrupted as stopped:  # a measurement, not a run to resume: nothing to keep
        shutil.rmtree(run_dir, ignore_errors=True)
        raise RunInterrupted(
            "benchmark stopped by a signal; its scratch run was removed", stopped.exit_code
        ) from None
    except UserError:
        with suppress(OSError):  # not empty: what the error's line names stays
            os.rmdir(run_dir)
        raise
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    shutil.rmtree(run_dir, ignore_errors=True)


WORKER_STOP_SECONDS = 30.0
"""How long a worker may take to stop after a signal (its run saves, its scratch folder goes)."""


class _ForwardedStop(StopRequest):
    """The first SIGINT/SIGTERM of this process, passed on to a worker."""

    def __init__(self, worker: subprocess.Popen[str]) -> None:
        super().__init__()
        self.worker = worker

    def on_stop(self, signum: int, why: str) -> None:
        self.worker.send_signal(signum)


def run_worker(command: list[str]) -> str:
    """Run a benchmark worker (``mode=worker`` / ``mode=seeds-worker``); return its last line of output.

    The worker has its own session, so a terminal's Ctrl-C reaches it once, through this process:
    the first SIGINT/SIGTERM here is passed on, and the worker stops its training run and removes
    its scratch folder (:func:`scratch_run_dir`); it is killed when that takes longer than
    :data:`WORKER_STOP_SECONDS`, or at a second signal (which quits at once).

    :raises RunInterrupted: a signal stopped it (exit 130/143; the line says whether the scratch
        folder went).
    :raises UserError: the worker's one line for a mistake (exit 2: a config file that is not YAML).
    :raises subprocess.CalledProcessError: the worker failed.
    """
    deadline, killed, worker = math.inf, False, None
    try:
        # a signal as it starts waits until it is ours to kill (raised inside Popen, once it had
        # started the worker, it left that worker training on, orphaned), and the worker hears the
        # signal passed on in a background job too (:func:`signals_heard_by_children`)
        with interrupts.held(), signals_heard_by_children():
            worker = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
            )
        with _ForwardedStop(worker) as stop:
            while True:
                try:
                    output, errors = worker.communicate(timeout=StopRequest.POLL_SECONDS)
                    break
                except subprocess.TimeoutExpired:
                    if stop.heard and deadline == math.inf:
                        deadline = time.monotonic() + WORKER_STOP_SECONDS
                    if time.monotonic() > deadline and not killed:
                        worker.kill()
                        killed = True
    finally:
        if worker is not None and worker.poll() is None:  # this process quits at once (a second
            worker.kill()  # signal, an error)
            worker.wait()
    if stop.signum is not None:
        removed = "its scratch run was removed"
        if killed:
            removed = (
                f"its worker did not stop within {WORKER_STOP_SECONDS:g} s and was killed (its scratch run "
                f"may remain in {tempfile.gettempdir()}/benchmark-run-*)"
            )
        raise RunInterrupted(f"benchmark stopped by a signal; {removed}", 128 + stop.signum)
    said = errors.strip().splitlines()[-1:]
    if worker.returncode == USER_ERROR_EXIT_CODE and said and said[0].startswith("error: "):
        raise UserError(said[0].removeprefix("error: "))  # not a traceback of this process
    if worker.returncode:
        raise subprocess.CalledProcessError(worker.returncode, command, output, errors)
    return output.strip().splitlines()[-1]


def training_run(overrides: list[str]) -> TrainResult:
    """A full training run (acting, updates, TensorBoard logging) into a temporary folder."""
    with scratch_run_dir() as run_dir:
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


def time_policy_gradients(
    hidden_sizes: tuple[int, ...] = (64, 64), batch: int = 4096, state_dim: int = 5, n_actions: int = 2,
    repeats: int = 20, seed: int = 0,
) -> ScoreTiming:  # fmt: skip
    """Best-of-``repeats`` seconds of an MLP's hand-derived batch ``policy_gradient`` (what
    training calls) and of ``autograd_policy_gradient`` on one float32 batch (training's dtype)."""
    torch.manual_seed(seed)
    policy = MLPSoftmaxPolicy(state_dim, n_actions, hidden_sizes)
    generator = torch.Generator().manual_seed(seed)
    features = torch.randn(batch, state_dim, generator=generator)
    actions = torch.randint(n_actions, (batch,), generator=generator)
    coefficients = torch.randn(batch, generator=generator)
    with torch.no_grad():
        closed = best_of_seconds(lambda: policy.policy_gradient(features, actions, coefficients), repeats)
        autograd = best_of_seconds(
            lambda: policy.autograd_policy_gradient(features, actions, coefficients), repeats
        )
    return ScoreTiming(closed, autograd)


@dataclass
class SpeedRow:
    """Training speed against the env's own speed, measured back to back in one process."""

    env: str
    num_envs: int
    policy: str
    """``linear`` (the default form) or ``mlp64x64``."""
    raw_steps_per_second: float
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


POLICY_OVERRIDES = {
    "linear": [],
    "mlp64x64": ["experiment=none", "agent.policy=mlp", "agent.hidden_sizes=[64,64]", "agent.lr=0.003"],
}
"""Speed-row policy forms: the default linear form and a 64x64 tanh MLP policy (without the
``cartpole_mlp`` preset's value network: the row measures the policy's own cost)."""


def speed_overrides(env_id: str, num_envs: int, steps: int, policy: str = "linear") -> list[str]:
    """A fixed-length run; one update per ``num_envs`` finished episodes."""
    return [f"env={env_id}", f"vector.num_envs={num_envs}", f"agent.episodes_per_update={num_envs}",
            f"budget.total_env_steps={steps}", "budget.stop_at_target=false",
            *POLICY_OVERRIDES[policy]]  # fmt: skip


def measure_speed(
    env_id: str, num_envs: int, steps: int, repeats: int = 3, policy: str = "linear"
) -> SpeedRow:
    """Raw env steps/s and training steps/s on the same env, each the best of ``repeats``, since a
    shared machine only ever slows a run down. Raw, tracked and untracked measurements take turns
    (a machine whose speed drifts over a minute then slows both sides of the ratio alike). Call in
    a fresh process so that the peak RSS is this process's own."""
    overrides = speed_overrides(env_id, num_envs, steps, policy)
    raws, tracked, untracked = [], [], []
    for _ in range(repeats):
        raws.append(raw_env_steps_per_second(env_id, num_envs, seconds=1.0))
        tracked.append(training_run(overrides))
        untracked.append(training_run([*overrides, "logging.tensorboard=false"]))
    raw = max(raws)
    peak_mb = peak_rss_mb()
    best, best_untracked = (min(runs, key=lambda result: result.seconds) for runs in (tracked, untracked))
    return SpeedRow(env_id, num_envs, policy, raw, best.env_steps / best.seconds,
                    best_untracked.env_steps / best_untracked.seconds, best.updates / best.seconds,
                    peak_mb, best.env_steps)  # fmt: skip


def measure_speed_in_subprocess(
    env_id: str, num_envs: int, steps: int, repeats: int = 3, policy: str = "linear"
) -> SpeedRow:
    """:func:`measure_speed` in a child process (``scripts/benchmark.py mode=worker``)."""
    command = [*BENCHMARK_COMMAND, "mode=worker", f"env={env_id}", f"num_envs={num_envs}", f"steps={steps}",
               f"repeats={repeats}", f"policy={policy}"]  # fmt: skip
    return SpeedRow(**json.loads(run_worker(command)))


def speed_row_json(row: SpeedRow) -> str:
    return json.dumps(asdict(row))


def speed_table(rows: list[SpeedRow]) -> str:
    header = (
        f"{'env':<12} {'envs':>5} {'policy':>9} {'raw steps/s':>12} {'train steps/s':>14} {'ratio':>6} "
        f"{'no-TB steps/s':>14} {'ratio':>6} {'updates/s':>10} {'peak RSS MB':>12}"
    )
    lines = [header]
    for row in rows:
        lines.append(
            f"{row.env:<12} {row.num_envs:>5} {row.policy:>9} {row.raw_steps_per_second:>12,.0f} "
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

    env: str
    mode: str
    """``seed_mode``: ``exact`` or ``batched``."""
    num_seeds: int
    steps_per_seed: int
    seconds: float
    """Wall seconds, building the trainers and writing the checkpoints included."""
    peak_rss_mb: float
    policy: str = "linear"
    """A key of :data:`POLICY_OVERRIDES`."""
    device: str = "cpu"
    """``device``: where the policy updates ran."""

    @property
    def microseconds_per_step(self) -> float:
        return self.seconds / (self.num_seeds * self.steps_per_seed) * 1e6

    @property
    def steps_per_second(self) -> float:
        return self.num_seeds * self.steps_per_seed / self.seconds


def many_seeds(
    env_id: str, num_seeds: int, steps_per_seed: int, mode: str = "exact", preset: str = "",
    policy: str = "linear", device: str = "cpu",
) -> ManySeeds:  # fmt: skip
    """Wall time of ``num_seeds`` x ``steps_per_seed`` env steps in this process, default logging
    (TensorBoard on); call in a fresh process for its own peak RSS. ``preset``: an ``experiment=``
    name instead of the env's own; ``policy``: a key of :data:`POLICY_OVERRIDES` (which sets its
    own preset); ``device``: where the updates run."""
    from agents.runtime.run import train

    if preset and POLICY_OVERRIDES[policy]:
        raise UserError(f"preset={preset} and policy={policy} both choose the agent: give one of them")
    with scratch_run_dir() as run_dir:
        cfg = compose_train_config(["logging.progress_bar=false", f"run_dir={run_dir}", f"env={env_id}",
                                    f"num_seeds={num_seeds}", f"seed_mode={mode}",
                                    f"budget.total_env_steps={steps_per_seed}", "budget.stop_at_target=false",
                                    *([f"experiment={preset}"] if preset else []), *POLICY_OVERRIDES[policy],
                                    f"device={device}"])  # fmt: skip
        refusal = batched_refusal(cfg) if mode == "batched" else None
        if refusal is not None:  # training's line names its own keys (agent.baseline=none), not ours
            chosen = f"preset={preset}" if preset else f"env={env_id}'s own preset"
            raise UserError(
                f"seed_mode=batched does not support {refusal[0]}, which {chosen} sets: give "
                "seed_mode=exact, or preset=none (the generic defaults)"
            )
        start = time.perf_counter()
        train(cfg, summary=False)
        seconds = time.perf_counter() - start
    peak_mb = peak_rss_mb()
    return ManySeeds(env_id, mode, num_seeds, steps_per_seed, seconds, peak_mb, policy, device)


def many_seeds_in_subprocess(
    env_id: str, num_seeds: int, steps_per_seed: int, mode: str, preset: str = "",
    policy: str = "linear", device: str = "cpu",
) -> ManySeeds:  # fmt: skip
    """:func:`many_seeds` in a child process (``scripts/benchmark.py mode=seeds-worker``)."""
    command = [*BENCHMARK_COMMAND, "mode=seeds-worker", f"env={env_id}", f"many_seeds={num_seeds}",
               f"steps_per_seed={steps_per_seed}", f"seed_mode={mode}", f"preset={preset or 'null'}",
               f"policy={policy}", f"device={device}"]  # fmt: skip
    return ManySeeds(**json.loads(run_worker(command)))


def many_seeds_table(rows: list[ManySeeds]) -> str:
    """One line per run; ``vs exact`` divides by the exact mode's us/step of the same env and
    seeds count where the table has it."""
    exact = {(r.env, r.num_seeds): r.microseconds_per_step for r in rows if r.mode == "exact"}
    lines = [f"{'env':<12} {'mode':>8} {'seeds':>6} {'steps/seed':>10} {'wall s':>8} {'us/step':>8} "
             f"{'vs exact':>8} {'peak RSS MB':>12}"]  # fmt: skip
    for row in rows:
        baseline = exact.get((row.env, row.num_seeds))
        speedup = f"{baseline / row.microseconds_per_step:7.1f}x" if baseline else f"{'':>8}"
        lines.append(
            f"{row.env:<12} {row.mode:>8} {row.num_seeds:>6} {row.steps_per_seed:>10,} {row.seconds:>8.1f} "
            f"{row.microseconds_per_step:>8.2f} {speedup} {row.peak_rss_mb:>12,.0f}"
        )
    return "\n".join(lines)


def device_table(rows: list[ManySeeds]) -> str:
    """``device=cuda`` against ``device=cpu``: one line per (seeds, steps/seed), the two runs'
    env steps/s and their ratio (cuda over cpu; above 1 the GPU is faster)."""
    runs = {(row.num_seeds, row.steps_per_seed, row.device): row for row in rows}
    lines = [f"{'seeds':>6} {'steps/seed':>10} {'cpu steps/s':>12} {'cuda steps/s':>13} {'cuda/cpu':>9} "
             f"{'cpu s':>7} {'cuda s':>7}"]  # fmt: skip
    for num_seeds, steps in dict.fromkeys((row.num_seeds, row.steps_per_seed) for row in rows):
        cpu, cuda = runs[num_seeds, steps, "cpu"], runs[num_seeds, steps, "cuda"]
        lines.append(
            f"{num_seeds:>6} {steps:>10,} {cpu.steps_per_second:>12,.0f} {cuda.steps_per_second:>13,.0f} "
            f"{cuda.steps_per_second / cpu.steps_per_second:>8.2f}x {cpu.seconds:>7.1f} {cuda.seconds:>7.1f}"
        )
    return "\n".join(lines)


def envpool_steps_per_second(env_id: str, num_envs: int, seconds: float = 1.0) -> float | None:
    """Random-action steps/s of EnvPool's C++ vector env for ``env_id``; None when the optional
    ``envpool`` package is not installed (it is no dependency: see the README's speed section)."""
    try:
        import envpool
    except ImportError:
        return None
    envs = envpool.make(env_id, env_type="gymnasium", num_envs=num_envs, seed=0)
    return vector_steps_per_second(envs, seconds)
