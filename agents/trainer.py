"""The training loop: act in vector envs, collect complete episodes, update, log, checkpoint.

Reads top to bottom: :func:`train` validates the config and the env id (user mistakes become
one-line :class:`~agents.errors.UserError`s before anything runs), builds the agent, then loops
``step -> store -> finish episodes -> update`` until the env-step budget is spent or the mean of
the last ``budget.window`` returns reaches the target. No math lives here.
"""

from __future__ import annotations

import random
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from agents import tags
from agents.acting import Actor
from agents.buffer import EpisodeBuffer
from agents.build import AgentParts, build_agent, resolve_device
from agents.checkpoint import CHECKPOINT_NAME, save_checkpoint
from agents.config import validate
from agents.errors import UserError
from agents.reinforce import EpisodeBatch, NumericalError, UpdateStats
from envs.make import EnvInfo, check_env_id
from envs.runners import Finished, make_runner


@dataclass
class TrainResult:
    """What :func:`train` returns (and what sweeps summarise)."""

    run_dir: Path
    env_steps: int
    episodes: int
    updates: int
    seconds: float
    final_mean_return: float
    """Mean undiscounted return over the last ``budget.window`` episodes (nan if none ended)."""
    reached_target: bool
    recent_returns: list[float] = field(default_factory=list)


def seed_everything(seed: int) -> None:
    """One visible seeding block: python, numpy and torch global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_run_dir(cfg: DictConfig) -> Path:
    """``run_dir`` if set, else Hydra's output dir, else a fresh ``runs/<env>__<seed>__<time>``."""
    if cfg.run_dir:
        return Path(cfg.run_dir)
    from hydra.core.hydra_config import HydraConfig

    if HydraConfig.initialized():
        return Path(HydraConfig.get().runtime.output_dir)
    return Path("runs") / f"{cfg.env}__seed{cfg.seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def target_return(cfg: DictConfig, info: EnvInfo) -> float | None:
    """``budget.target_return``, else the env's registered ``reward_threshold``."""
    return cfg.budget.target_return if cfg.budget.target_return is not None else info.reward_threshold


def hyperparameter_table(cfg: DictConfig) -> str:
    """The resolved config as a markdown table for TensorBoard's text tab."""
    flat = _flatten(OmegaConf.to_container(cfg, resolve=True))
    rows = "\n".join(f"|{key}|{value}|" for key, value in flat.items())
    return f"|parameter|value|\n|-|-|\n{rows}"


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(_flatten(value, f"{prefix}{key}." if isinstance(value, dict) else f"{prefix}{key}"))
    return flat


class Logger:
    """TensorBoard scalars against env steps (a no-op writer when ``logging.tensorboard=false``)."""

    def __init__(self, run_dir: Path, enabled: bool, cfg: DictConfig) -> None:
        self.writer = SummaryWriter(str(run_dir)) if enabled else None
        if self.writer is not None:
            self.writer.add_text(tags.HPARAMS_TEXT, hyperparameter_table(cfg))

    def scalar(self, tag: str, value: float, env_steps: int) -> None:
        if self.writer is not None:
            self.writer.add_scalar(tag, value, env_steps)

    def update(self, stats: UpdateStats, lr: float, steps_per_second: float, env_steps: int) -> None:
        for tag, value in (
            (tags.POLICY_OBJECTIVE, stats.policy_objective),
            (tags.BATCH_RETURN, stats.mean_return),
            (tags.ENTROPY, stats.entropy),
            (tags.GRAD_NORM, stats.grad_norm),
            (tags.LEARNING_RATE, lr),
            (tags.STEPS_PER_SECOND, steps_per_second),
        ):
            self.scalar(tag, value, env_steps)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()


class Trainer:
    """One run: owns the envs, the agent, the buffer, the counters and the logger."""

    def __init__(self, cfg: DictConfig) -> None:
        validate(cfg)
        self.config = cfg  # the DictConfig, for saving; plain dataclasses below are fast to read
        cfg = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
        self.cfg = cfg
        self.info = check_env_id(cfg.env, cfg.env_kwargs)
        self.device = resolve_device(cfg.device)
        self.target = target_return(cfg, self.info)
        self.run_dir = resolve_run_dir(cfg)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "config.yaml").write_text(OmegaConf.to_yaml(self.config, resolve=True))

        seed_everything(cfg.seed)
        self.agent: AgentParts = build_agent(cfg, self.info, self.device)
        self.dtype = self.agent.policy.param.dtype
        self.actor = Actor(self.agent.policy, np.random.default_rng(cfg.seed))
        self.envs = make_runner(cfg.env, cfg.vector.num_envs, cfg.vector.mode, cfg.env_kwargs)
        space = self.envs.single_observation_space
        self.buffer = EpisodeBuffer(cfg.vector.num_envs, space.shape, space.dtype)
        self.logger = Logger(self.run_dir, cfg.logging.tensorboard, self.config)
        self.recent_returns: deque[float] = deque(maxlen=cfg.budget.window)
        self.env_steps = self.episodes = self.updates = 0
        self.next_checkpoint = cfg.checkpoint.every_steps or None

    # -- the loop ---------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg, envs, buffer = self.cfg, self.envs, self.buffer
        total = cfg.budget.total_env_steps
        obs = envs.reset(seed=cfg.seed)
        start = time.perf_counter()
        bar = tqdm(total=total, unit="step", disable=not cfg.logging.progress_bar, dynamic_ncols=True)
        reached = False
        try:
            while self.env_steps < total and not reached:
                actions = self.actor(self.agent.inputs(obs))
                next_obs, rewards, active, finished = envs.step(actions)
                buffer.store(obs, actions, rewards, active)
                self.env_steps += int(active.sum())
                if finished.env_ids.size:
                    buffer.finish(finished.env_ids)
                    self._log_episodes(finished)
                obs = next_obs
                if buffer.num_finished >= cfg.agent.episodes_per_update:
                    self._update(time.perf_counter() - start)
                    reached = self._target_reached()
                    bar.update(self.env_steps - bar.n)
                    bar.set_postfix(mean_return=f"{self.mean_return():.1f}", refresh=False)
                if self.next_checkpoint is not None and self.env_steps >= self.next_checkpoint:
                    self.save()
                    self.next_checkpoint += cfg.checkpoint.every_steps
        except NumericalError as error:
            self.save()
            raise UserError(
                f"numerical failure at env step {self.env_steps}: {error}; the last good state is in "
                f"{self.run_dir / CHECKPOINT_NAME} (try a lower agent.lr or agent.normalize_returns=true)"
            ) from None
        finally:
            bar.close()
            envs.close()
        self.save()
        self.logger.close()
        return TrainResult(
            self.run_dir, self.env_steps, self.episodes, self.updates, time.perf_counter() - start,
            self.mean_return(), reached, list(self.recent_returns),
        )  # fmt: skip

    def _log_episodes(self, finished: Finished) -> None:
        for episode_return, length in zip(finished.returns.tolist(), finished.lengths.tolist()):
            self.recent_returns.append(episode_return)
            self.logger.scalar(tags.EPISODIC_RETURN, episode_return, self.env_steps)
            self.logger.scalar(tags.EPISODIC_LENGTH, length, self.env_steps)
        self.episodes += finished.env_ids.size

    def _update(self, elapsed: float) -> None:
        obs, actions, rewards, dones = self.buffer.get()
        inputs = self.agent.inputs
        batch = EpisodeBatch(
            inputs=self._tensor(inputs(obs)),
            states=self._tensor(inputs.state(obs)),
            actions=torch.from_numpy(actions).to(self.device),
            rewards=self._tensor(rewards),
            dones=torch.from_numpy(dones).to(self.device),
        )
        inputs.feature_map.update(obs)
        learner = self.agent.learner
        learner.set_progress(self.env_steps / self.cfg.budget.total_env_steps)
        stats = learner.update(batch)
        if self.device.type != "cpu":
            self.actor.refresh()
        self.updates += 1
        lr = learner.optimizer.param_groups[0]["lr"]
        self.logger.update(stats, lr, self.env_steps / max(elapsed, 1e-9), self.env_steps)

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(device=self.device, dtype=self.dtype)

    def mean_return(self) -> float:
        return float(np.mean(self.recent_returns)) if self.recent_returns else float("nan")

    def _target_reached(self) -> bool:
        full = len(self.recent_returns) == self.recent_returns.maxlen
        return bool(
            self.cfg.budget.stop_at_target and self.target is not None and full
            and self.mean_return() >= self.target
        )  # fmt: skip

    # -- persistence --------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "policy": self.agent.policy.state_dict(),
            "learner": self.agent.learner.state_dict(),
            "features": self.agent.inputs.feature_map.state_dict(),
            "counters": {"env_steps": self.env_steps, "episodes": self.episodes, "updates": self.updates},
            "recent_returns": list(self.recent_returns),
            "config": OmegaConf.to_container(self.config, resolve=True),
        }

    def save(self) -> Path:
        return save_checkpoint(self.run_dir / CHECKPOINT_NAME, self.state_dict())


def train(cfg: DictConfig) -> TrainResult:
    """Train one agent as configured; the function ``scripts/train.py`` and the tests call."""
    result = Trainer(cfg).run()
    run_dir = result.run_dir
    print(
        f"\nfinished: {result.env_steps} env steps, {result.episodes} episodes, {result.updates} updates "
        f"in {result.seconds:.1f} s; mean return over the last {len(result.recent_returns)} episodes: "
        f"{result.final_mean_return:.2f}{' (target reached)' if result.reached_target else ''}\n"
        f"run folder:  {run_dir}\n"
        f"checkpoint:  {run_dir / CHECKPOINT_NAME}\n"
        f"config:      {run_dir / 'config.yaml'}\n"
        f"tensorboard: tensorboard --logdir {run_dir}"
    )
    return result
