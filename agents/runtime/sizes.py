"""Bounded sizes: what a run will allocate, counted before anything is allocated.

A typo such as ``features.num_centers=1000`` (1000^4 RBF centres on CartPole), ``vector.num_envs=10**12``
or an env observing ``Discrete(10**12)`` states must be one line before training, not a
``MemoryError`` after allocating for seconds. :func:`check_sizes` bounds the counts that have no
use beyond a limit (threads, sub-envs, seeds) and estimates, in float64 values, the memory each
part of one run holds, times the seeds:

* the feature map's own arrays and one acting step's features for every sub-env
  (:func:`~agents.features.maps.feature_sizes`),
* the policy parameter with its gradient and Adam's two moments (4 copies),
* the episode buffer's first rows (512 per sub-env) and one update batch
  (``episodes_per_update`` episodes of the env's step limit, features and their torch copy).

Over :func:`memory_limit` (half this machine's memory), the error names the largest part and
the key to lower.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import gymnasium as gym
import numpy as np

from agents.errors import UserError
from agents.features.maps import feature_sizes
from agents.runtime.config import AgentConfig
from envs.make import EnvInfo, registered_time_limit

MAX_NUM_ENVS = 65_536
"""Most sub-envs ``vector.num_envs`` accepts (sync/native vector envs)."""
NUM_ENVS_WHY = "the largest vector env this project steps"
MAX_ASYNC_ENVS = 1024
"""Most sub-envs with ``vector.mode=async`` (one process each)."""
MAX_NUM_SEEDS = 100_000
"""Most runs ``num_seeds`` steps side by side."""
NUM_SEEDS_WHY = "runs side by side in one process"
BUFFER_ROWS = 512
"""Rows the episode buffer starts with (:class:`~agents.runtime.buffer.EpisodeBuffer`)."""
EXACT_SEED_BYTES = 256 * 2**10
"""What each seed of ``seed_mode=exact`` holds beside its agent and buffers: a whole run's objects."""
ASSUMED_EPISODE_STEPS = 1000
"""Episode length assumed for the update batch when the env registers no step limit."""
FEATURE_KNOBS = {"rbf": "features.num_centers", "fourier": "features.degree",
                 "polynomial": "features.degree", "tile": "features.hash_size"}  # fmt: skip


def memory_limit() -> int:
    """Half the physical memory (bytes); 8 GiB where the system does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def check_at_most(name: str, value: int, limit: int, why: str) -> None:
    """:class:`UserError` ``name=value must be <= limit (why)`` when ``value`` exceeds ``limit``."""
    if value > limit:
        raise UserError(f"{name}={value} must be <= {limit} ({why})")


def check_counts(cfg: Any) -> None:
    """Upper bounds on counts: more threads than CPUs, or more sub-envs and seeds than any machine
    steps, are mistakes."""
    cpus = os.cpu_count() or 1
    check_at_most("torch_threads", cfg.torch_threads, cpus, "this machine's CPUs")
    check_at_most("vector.num_envs", cfg.vector.num_envs, MAX_NUM_ENVS, NUM_ENVS_WHY)
    if cfg.vector.mode == "async":  # every seed's sub-envs are processes of this one
        check_at_most(
            "vector.num_envs x num_seeds" if cfg.num_seeds > 1 else "vector.num_envs",
            cfg.vector.num_envs * cfg.num_seeds, MAX_ASYNC_ENVS, "one process per sub-env with mode=async",
        )  # fmt: skip
    check_at_most("num_seeds", cfg.num_seeds, MAX_NUM_SEEDS, NUM_SEEDS_WHY)


def _episode_steps(env_id: str) -> int:
    return registered_time_limit(env_id) or ASSUMED_EPISODE_STEPS


def agent_parts(features: Any, agent: Any, info: EnvInfo, envs: int = 1) -> dict[str, tuple[int, str]]:
    """Bytes the agent alone holds (its feature map acting on ``envs`` observations at once, its
    parameters with their gradient and Adam's moments), with the key that shrinks each: what
    building the agent allocates, for training, loading a checkpoint or comparing gradients."""
    dim, fixed, per_obs = feature_sizes(features, info.observation_space)
    actions = info.n_actions
    inputs = dim * actions if agent.policy == "action" else dim
    widths = [inputs, *agent.hidden_sizes, actions] if agent.policy == "mlp" else [dim, actions]
    params = sum(a * b + b for a, b in itertools.pairwise(widths))
    knob = feature_knob(features, info)
    param_knob = "agent.hidden_sizes" if agent.policy == "mlp" else knob
    if actions > max([dim, *agent.hidden_sizes]) if agent.policy == "mlp" else actions > dim:  # [] too
        param_knob = f"the env's number of actions ({actions:,}; the policy holds weights for each)"
    parts = {
        "the feature map": (8 * (fixed + envs * (per_obs + inputs)), knob),
        "the policy parameters and Adam's moments": (8 * 4 * params, param_knob),
    }
    if agent.baseline == "value":  # v(s, w) on x(s): [dim, *value_hidden_sizes, 1] (a huge one allocated)
        value_widths = [dim, *agent.value_hidden_sizes, 1]
        value_params = sum(a * b + b for a, b in itertools.pairwise(value_widths))
        parts["the value baseline's parameters and optimizer state"] = (
            8 * 4 * value_params, "agent.value_hidden_sizes" if agent.value_hidden_sizes else knob
        )  # fmt: skip
    return parts


def feature_knob(features: Any, info: EnvInfo) -> str:
    """The key that shrinks the feature map."""
    if isinstance(info.observation_space, gym.spaces.Discrete):
        return "the env's number of states (features=onehot holds an n x n identity)"
    return FEATURE_KNOBS.get(features.name, "features (a smaller map)")


def batch_knob(cfg: Any, info: EnvInfo) -> str:
    """The keys that shrink an update batch, the one raised above its default first (episodes per
    update times the features per step)."""
    features = feature_knob(cfg.features, info)
    if cfg.agent.episodes_per_update > AgentConfig.episodes_per_update:
        return f"agent.episodes_per_update (or {features})"
    return f"{features} (or agent.episodes_per_update)"


def memory_parts(cfg: Any, info: EnvInfo) -> dict[str, tuple[int, str]]:
    """Bytes each part of the run holds (all seeds), with the key that shrinks it."""
    envs, seeds = cfg.vector.num_envs, cfg.num_seeds
    dim, _, _ = feature_sizes(cfg.features, info.observation_space)
    inputs = dim * info.n_actions if cfg.agent.policy == "action" else dim
    obs_values = int(np.prod(info.observation_space.shape or (1,)))
    batch_rows = cfg.agent.episodes_per_update * _episode_steps(info.env_id)
    values = {
        **agent_parts(cfg.features, cfg.agent, info, envs),
        "the episode buffer": (8 * BUFFER_ROWS * envs * (obs_values + 2), "vector.num_envs"),
        "one update batch": (8 * 2 * batch_rows * inputs, batch_knob(cfg, info)),
    }
    if cfg.num_seeds > 1 and cfg.seed_mode == "batched":  # a ring per seed, made at once (a deque grows)
        values["the window of recent returns"] = (8 * cfg.budget.window, "budget.window")
    elif cfg.num_seeds > 1:  # measured: 218 KB per seed between 50 and 500 CartPole seeds
        values["each seed's own run (its trainer, env, logger and TensorBoard writer)"] = (
            EXACT_SEED_BYTES, "num_seeds",
        )  # fmt: skip
    return {part: (seeds * size, key) for part, (size, key) in values.items()}


def check_sizes(cfg: Any, info: EnvInfo) -> None:
    """:func:`check_counts`, then refuse a run whose :func:`memory_parts` exceed
    :func:`memory_limit`, naming the largest part and what to lower."""
    check_counts(cfg)
    refuse_over_limit(memory_parts(cfg, info), "this run", cfg.num_seeds)


def check_agent_size(features: Any, agent: Any, info: EnvInfo, what: str) -> None:
    """Refuse to build an agent (``what`` names whose: a checkpoint's, whose config may have been
    edited, or one to compare gradients with) whose :func:`agent_parts` exceed :func:`memory_limit`."""
    refuse_over_limit(agent_parts(features, agent, info), what)


def refuse_over_limit(parts: dict[str, tuple[int, str]], what: str, num_seeds: int = 1) -> None:
    """:class:`UserError` naming the largest part and its key when ``parts`` (bytes and the key
    that shrinks each) exceed :func:`memory_limit`; ``what`` names what would need them."""
    total, limit = sum(size for size, _ in parts.values()), memory_limit()
    if total > limit:
        part, (size, key) = max(parts.items(), key=lambda item: item[1][0])
        seeds = f" ({num_seeds} seeds)" if num_seeds > 1 else ""
        fewer = " or num_seeds" if num_seeds > 1 and key != "num_seeds" else ""
        raise UserError(
            f"{what} would need about {total / 2**30:.3g} GiB, over the {limit / 2**30:.3g} GiB limit "
            f"(half this machine's memory), {size / 2**30:.3g} GiB of it for {part}{seeds}: "
            f"lower {key}{fewer}"
        )
