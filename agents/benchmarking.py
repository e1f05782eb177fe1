"""Measurements behind ``scripts/benchmark.py``: env speed, training speed, score timing.

Every figure a report compares is measured in the same process, back to back, so the ratios
are meaningful on a shared, noisy machine even when the absolute numbers are not.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from agents.config import register_configs
from agents.policies import LinearSoftmaxPolicy
from agents.trainer import Trainer, TrainResult
from envs.make import make_vector_env

CONFIG_DIR = str(__import__("pathlib").Path(__file__).resolve().parent.parent / "configs")


def compose_train_config(overrides: list[str]) -> DictConfig:
    """``configs/train.yaml`` with ``overrides``, composed without running Hydra's app."""
    register_configs()
    with initialize_config_dir(version_base="1.3", config_dir=CONFIG_DIR):
        return compose("train", overrides=overrides)


def raw_env_steps_per_second(env_id: str, num_envs: int, seconds: float = 2.0) -> float:
    """Random-action steps/s of the env itself: ``gym.make`` for one env (resetting by hand),
    Gymnasium's native vector env (else sync) for several; no agent code at all."""
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
    envs = make_vector_env(env_id, num_envs, "native").unwrapped
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


def _best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up (vmap tracing, allocator)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_scores(
    batch: int = 4096, state_dim: int = 5, n_actions: int = 2, repeats: int = 20, seed: int = 0
) -> ScoreTiming:
    """Best-of-``repeats`` seconds of ``score`` and ``autograd_score`` on one float64 batch."""
    generator = torch.Generator().manual_seed(seed)
    policy = LinearSoftmaxPolicy(state_dim, n_actions, dtype=torch.float64)
    with torch.no_grad():
        policy.weight.normal_(generator=generator)
    features = torch.randn(batch, state_dim, dtype=torch.float64, generator=generator)
    actions = torch.randint(n_actions, (batch,), generator=generator)
    with torch.no_grad():
        closed = _best_time(lambda: policy.score(features, actions), repeats)
        autograd = _best_time(lambda: policy.autograd_score(features, actions), repeats)
    return ScoreTiming(closed, autograd)
