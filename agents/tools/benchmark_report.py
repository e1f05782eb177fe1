"""The benchmark's options (:class:`BenchmarkConfig`, the schema of ``configs/benchmark.yaml``) and
the report it prints; the measurements themselves are :mod:`agents.tools.benchmarking`.

``python scripts/benchmark.py`` (or ``softmax-reinforce benchmark``) prints, measured in this one
invocation (each speed row in a fresh child process so its peak RSS is its own; each speed the
best of ``repeats`` runs, as ``timeit`` does, because other jobs on a shared machine only ever slow
a run down):

* for CartPole-v1 and Acrobot-v1 at 1, 16 and 256 envs (and an MLP 64x64 policy on CartPole at 1
  and 16): raw random-action env steps/s, training env steps/s (acting + updates + TensorBoard
  logging), their ratio, the same without TensorBoard, updates/s, peak RSS;
* raw steps/s of Gymnasium's native vector env against EnvPool's (when ``envpool`` is installed)
  at 16, 256 and 1024 envs;
* peak RSS of a 100k-step and a 1M-step run (the buffers must not grow with total steps);
* ``score`` against ``autograd_score`` on a float64 batch, and an MLP's hand-derived
  ``policy_gradient`` against ``autograd_policy_gradient``;
* env steps and wall seconds until CartPole-v1's last-100 mean reaches 475, over 10 seeds, for
  the tuned preset (``experiment=cartpole``) and for the agent defaults;
* wall seconds of 100 seeds x 100k CartPole-v1 steps trained side by side in one process, with
  ``seed_mode=exact`` and ``seed_mode=batched`` (and batched: a tenth of the steps for the peak
  RSS, 1000 seeds, Acrobot-v1);
* with a CUDA GPU (else one line saying it was skipped): ``seed_mode=batched`` with the 64x64 MLP
  policy, ``device=cuda`` against ``device=cpu``, 100 seeds x 100k and 1000 seeds x 10k CartPole-v1
  steps (``mode=gpu`` prints this section alone);
* start-up: ``train.py --help`` and the first env step against ``import torch``.

``quick=true`` measures fewer things for a smoke test. ``mode=worker`` and ``mode=seeds-worker``
are the child processes: one speed row or one many-seeds row, printed as JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch
from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig

from agents.errors import UserError
from agents.runtime.config import (
    ENV_STEPS_WHY,
    MAX_ENV_STEPS,
    SEED_MODES,
    check_at_least,
    check_choice,
    check_device,
    check_known_keys,
)
from agents.runtime.sizes import MAX_NUM_ENVS, MAX_NUM_SEEDS, NUM_ENVS_WHY, NUM_SEEDS_WHY, check_at_most
from agents.tools.benchmarking import (
    POLICY_OVERRIDES,
    device_table,
    envpool_steps_per_second,
    many_seeds,
    many_seeds_in_subprocess,
    many_seeds_table,
    measure_speed,
    measure_speed_in_subprocess,
    raw_env_steps_per_second,
    solve_times,
    speed_row_json,
    speed_table,
    time_policy_gradients,
    time_scores,
)
from agents.tools.presets import check_preset, override_text
from agents.tools.startup import measure_startup
from agents.tools.usage import CONFIG_DIR
from envs.make import check_env_id

MODES = ("all", "gpu", "worker", "seeds-worker")
"""``all``: the whole report; ``gpu``: its ``device=cuda`` against ``device=cpu`` section alone;
``worker``: one speed row; ``seeds-worker``: one many-seeds row."""


@dataclass
class BenchmarkConfig:
    """``python scripts/benchmark.py [quick=true] [repeats=3] [steps=200000] ...``."""

    mode: str = "all"
    """all (the report) | gpu (its device=cuda vs cpu section) | worker (one speed row, JSON) |
    seeds-worker (one many-seeds row, JSON)."""
    quick: bool = False
    """CartPole only, 1 and 16 envs, 3 seeds; 10 seeds x 10k steps side by side."""
    repeats: int = 3
    """Speed rows and start-up: the best of this many runs (>= 1)."""
    steps: int = 200_000
    """Training env steps per speed row (>= 1)."""
    seeds: int = 10
    """Seeds 0 .. N-1 of the sample-efficiency figure (>= 1)."""
    many_seeds: int = 100
    """Seeds trained side by side in one process (>= 1)."""
    more_seeds: int = 1000
    """Seeds of the large seed_mode=batched row (>= 1)."""
    steps_per_seed: int = 100_000
    """Env steps of each of the seeds side by side (>= 1)."""
    env: str = "CartPole-v1"
    """Workers: the Gymnasium id."""
    num_envs: int = 1
    """mode=worker: sub-environments (>= 1)."""
    policy: str = "linear"
    """Workers: policy form, linear | mlp64x64."""
    seed_mode: str = "batched"
    """mode=seeds-worker: exact | batched."""
    preset: str | None = None
    """mode=seeds-worker: an experiment= preset; null = the env's own (or policy's)."""
    device: str = "cpu"
    """mode=seeds-worker: where the updates run, cpu | cuda | cuda:<index>."""


def register_benchmark_config() -> None:
    """Store :class:`BenchmarkConfig` as ``benchmark_schema`` for ``configs/benchmark.yaml``."""
    ConfigStore.instance().store(name="benchmark_schema", node=BenchmarkConfig)


MODE_KEYS = {
    "all": ("quick", "repeats", "steps", "seeds", "many_seeds", "more_seeds", "steps_per_seed"),
    "gpu": ("many_seeds", "more_seeds", "steps_per_seed"),
    "worker": ("env", "num_envs", "policy", "steps", "repeats"),
    "seeds-worker": ("env", "many_seeds", "steps_per_seed", "seed_mode", "preset", "policy", "device"),
}
"""The keys each mode reads; another key set away from its default would be ignored, so it is refused."""

QUICK_SIZES = ("seeds", "many_seeds", "more_seeds", "steps_per_seed")
"""The sizes ``quick=true`` fixes (it reads ``repeats`` and ``steps``)."""

COUNTS = ("repeats", "steps", "seeds", "many_seeds", "more_seeds", "steps_per_seed", "num_envs")
"""The keys that count something: each must be >= 1."""

UPPER_BOUNDS = {
    "num_envs": (MAX_NUM_ENVS, NUM_ENVS_WHY),
    "many_seeds": (MAX_NUM_SEEDS, NUM_SEEDS_WHY),
    "more_seeds": (MAX_NUM_SEEDS, NUM_SEEDS_WHY),
    "seeds": (MAX_NUM_SEEDS, "seeds 0 .. N-1, one run each"),
    "steps": (MAX_ENV_STEPS, ENV_STEPS_WHY),
    "steps_per_seed": (MAX_ENV_STEPS, ENV_STEPS_WHY),
}
"""The counts that size what a run allocates (sub-envs, seeds side by side, the list of seeds), with
the training config's own bounds (:mod:`agents.runtime.sizes`), checked before anything is built:
the raw-speed measurement made ``num_envs=10**8`` sub-envs before a training run refused them.
``steps``, ``steps_per_seed`` and ``repeats`` size only the time (peak RSS stays flat in the steps,
as the report's own row shows), as ``budget.total_env_steps`` does for training; the steps stay in
its range (the env-step counters are int64)."""


def check_benchmark_config(cfg: DictConfig) -> None:
    """One :class:`UserError` line for an unknown key (``+stpes=5``: Hydra adds it), a count below 1
    or an unknown choice, before anything runs."""
    check_known_keys(cfg, BenchmarkConfig)
    for key in COUNTS:
        check_at_least(key, cfg[key], 1)
    for key, (limit, why) in UPPER_BOUNDS.items():
        check_at_most(key, cfg[key], limit, why)
    for key, options in (("mode", MODES), ("policy", tuple(POLICY_OVERRIDES)), ("seed_mode", SEED_MODES)):
        check_choice(key, cfg[key], options)
    check_device(cfg.device)
    if cfg.preset:  # (composed as experiment=, whose line named a key the user did not type)
        check_preset(cfg.preset, CONFIG_DIR, key="preset")
    if cfg.mode == "gpu" and not torch.cuda.is_available():
        raise UserError("mode=gpu compares device=cuda with device=cpu, and torch sees no CUDA GPU here")
    defaults = BenchmarkConfig()
    ignored = [field.name for field in fields(BenchmarkConfig)
               if field.name not in ("mode", *MODE_KEYS[cfg.mode])
               and cfg[field.name] != getattr(defaults, field.name)]  # fmt: skip
    if ignored:
        given = " ".join(f"{key}={override_text(cfg[key])}" for key in ignored)
        readers = [mode for mode, keys in MODE_KEYS.items() if any(key in keys for key in ignored)]
        hint = (
            "; the report measures its own list (CartPole-v1 and Acrobot-v1): for one env's speed row "
            "run mode=worker env=<id> num_envs=<n>"
            if cfg.mode == "all"
            else ""
        )
        raise UserError(
            f"{given}: mode={cfg.mode} does not read {'it' if len(ignored) == 1 else 'them'} (read by "
            f"mode={' / mode='.join(readers)}){hint}"
        )
    fixed = [key for key in QUICK_SIZES if cfg.quick and cfg[key] != getattr(defaults, key)]
    if fixed:
        given = " ".join(f"{key}={override_text(cfg[key])}" for key in fixed)
        raise UserError(
            f"{given}: quick=true runs its own small sizes (seeds 0..2, 10 seeds x 10,000 steps, no "
            f"more_seeds row) and does not read {'it' if len(fixed) == 1 else 'them'}: leave quick=true out"
        )


def run_benchmark(cfg: DictConfig) -> None:
    """The report (``mode=all``) or one worker's row, printed."""
    check_benchmark_config(cfg)
    if cfg.mode == "worker":
        check_env_id(cfg.env)  # an unknown id: one line (the raw env measurement makes it by hand)
        print(speed_row_json(measure_speed(cfg.env, cfg.num_envs, cfg.steps, cfg.repeats, cfg.policy)))
        return
    if cfg.mode == "seeds-worker":
        seeds = many_seeds(cfg.env, cfg.many_seeds, cfg.steps_per_seed, cfg.seed_mode, cfg.preset or "",
                           cfg.policy, cfg.device)  # fmt: skip
        print(json.dumps(asdict(seeds)))
        return
    if cfg.mode == "gpu":
        gpu_section(cfg.many_seeds, cfg.more_seeds, cfg.steps_per_seed)
        return

    envs = ["CartPole-v1"] if cfg.quick else ["CartPole-v1", "Acrobot-v1"]
    counts = [1, 16] if cfg.quick else [1, 16, 256]
    rows = [measure_speed_in_subprocess(env, n, cfg.steps, cfg.repeats) for env in envs for n in counts]
    rows += [
        measure_speed_in_subprocess("CartPole-v1", n, cfg.steps, cfg.repeats, "mlp64x64") for n in (1, 16)
    ]
    print(f"training speed against the env's own speed (random actions), one row per process, "
          f"best of {cfg.repeats}")  # fmt: skip
    print(speed_table(rows))
    print("targets: ratio >= 0.5 at 16 and 256 envs (native vector env), >= 0.3 at 1 env; "
          "MLP 64x64 >= 0.25 at 1 env, >= 0.4 at 16\n")  # fmt: skip

    print("raw random-action steps/s: Gymnasium's native vector env against EnvPool (optional extra)")
    for env in envs:
        for n in (16, 256, 1024):
            gymnasium = max(raw_env_steps_per_second(env, n, 1.0) for _ in range(cfg.repeats))
            pool = envpool_steps_per_second(env, n)
            versus = (
                "envpool not installed"
                if pool is None
                else f"envpool {pool:>12,.0f}  ({pool / gymnasium:.2f}x)"
            )
            print(f"  {env:<12} {n:>5} envs: gymnasium {gymnasium:>12,.0f}   {versus}")
    print()

    if not cfg.quick:
        memory = [measure_speed_in_subprocess("CartPole-v1", 16, steps, 1) for steps in (100_000, 1_000_000)]
        print("peak RSS against run length (CartPole-v1, 16 envs)")
        for row in memory:
            print(f"  {row.env_steps:>9,} env steps: {row.peak_rss_mb:8.1f} MB")
        growth = memory[1].peak_rss_mb / memory[0].peak_rss_mb - 1
        print(f"  1M-step run / 100k-step run: {growth:+.1%}  (target within 10%)\n")

    timing = time_scores()
    print("score vs autograd_score, batch 4096, float64, CartPole shapes (d=5, A=2), best of 20")
    print(f"  score (closed form)           : {timing.closed_form_seconds * 1e3:9.3f} ms")
    print(f"  autograd_score (vmap o grad)  : {timing.autograd_seconds * 1e3:9.3f} ms")
    print(f"  autograd / closed form        : {timing.speedup:9.1f}x  (target >= 5x)\n")
    mlp = time_policy_gradients()
    print("MLP 64x64: policy_gradient (backward pass by hand) vs autograd_policy_gradient, batch 4096")
    print(f"  policy_gradient (by hand)     : {mlp.closed_form_seconds * 1e3:9.3f} ms")
    print(f"  autograd_policy_gradient      : {mlp.autograd_seconds * 1e3:9.3f} ms")
    print(f"  autograd / by hand            : {mlp.speedup:9.1f}x  (target > 1x)\n")

    seeds = list(range(3 if cfg.quick else cfg.seeds))
    print(f"CartPole-v1, seeds {seeds[0]}..{seeds[-1]}: env steps until the last-100 mean return >= 475")
    for label, overrides in (("experiment=cartpole", ["experiment=cartpole"]), ("agent defaults", [])):
        solved = solve_times("CartPole-v1", seeds, overrides)
        print(f"  {label:<20}: {solved.summary()}")
    print("  targets: median <= 60k env steps and <= 15 s wall on 2 cores\n")

    num_seeds, steps = (10, 10_000) if cfg.quick else (cfg.many_seeds, cfg.steps_per_seed)
    runs = [("CartPole-v1", num_seeds, steps, "exact"), ("CartPole-v1", num_seeds, steps, "batched"),
            ("CartPole-v1", num_seeds, steps // 10, "batched")]  # fmt: skip
    if not cfg.quick:
        runs += [
            ("CartPole-v1", cfg.more_seeds, steps, "batched"),
            ("Acrobot-v1", num_seeds, steps, "batched", "acrobot"),  # its default preset has a value net
        ]
    print("many seeds side by side in one process (one process per row; TensorBoard on, checkpoints written)")
    print(many_seeds_table([many_seeds_in_subprocess(*run) for run in runs]))
    print(
        "  targets: 100 seeds x 100k CartPole-v1 in < 30 s with seed_mode=batched on 2 cores; "
        "peak RSS flat in steps/seed"
    )
    if not cfg.quick:
        if torch.cuda.is_available():
            gpu_section(cfg.many_seeds, cfg.more_seeds, cfg.steps_per_seed)
        else:
            print("\ndevice=cuda against device=cpu: skipped, torch sees no CUDA GPU on this machine")
    startup_section(cfg.repeats)


def gpu_section(num_seeds: int, more_seeds: int, steps_per_seed: int) -> None:
    """``seed_mode=batched`` with the 64x64 MLP policy on CartPole-v1, ``device=cuda`` against
    ``device=cpu`` (one process per run, the two devices in turns), at ``num_seeds`` x
    ``steps_per_seed`` and ``more_seeds`` x a tenth of it. Acting reads a host copy of the
    parameters on either device; only the updates move."""
    name = torch.cuda.get_device_name()
    print(f"\ndevice=cuda ({name}) against device=cpu: seed_mode=batched, MLP 64x64 policy, CartPole-v1, "
          "one process per run")  # fmt: skip
    runs = [(num_seeds, steps_per_seed), (more_seeds, max(1, steps_per_seed // 10))]
    rows = [many_seeds_in_subprocess("CartPole-v1", seeds, steps, "batched", policy="mlp64x64", device=device)
            for seeds, steps in runs for device in ("cpu", "cuda")]  # fmt: skip
    print(device_table(rows))


def startup_section(repeats: int) -> None:
    """Start-up (agents/tools/startup.py): fresh processes against ``import torch``, taken in turns."""
    print(f"\nstart-up, fresh processes, best of {repeats} (ratios against import torch, same moment)")
    print(measure_startup(repeats).table())
