"""Benchmark: training speed against the env's own speed, score timing, sample efficiency.

``python scripts/benchmark.py`` prints, measured in this one invocation (each speed row in a
fresh child process so its peak RSS is its own; each speed the best of ``--repeats`` runs, as
``timeit`` does, because other jobs on a shared machine only ever slow a run down):

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
  RSS, 1000 seeds, Acrobot-v1).

``--quick`` measures fewer things for a smoke test.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from agents.tools.benchmarking import (
    POLICY_OVERRIDES,
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
from agents.tools.cli import ArgumentParser, bounded
from agents.tools.startup import measure_startup


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "worker", "seeds-worker"])
    parser.add_argument("--env", default="CartPole-v1", help="worker: env id")
    parser.add_argument("--num-envs", type=bounded(int, 1), default=1, help="worker: number of envs")
    parser.add_argument(
        "--policy", default="linear", choices=list(POLICY_OVERRIDES), help="worker: policy form"
    )
    parser.add_argument(
        "--seed-mode", default="batched", choices=["exact", "batched"], help="seeds-worker: mode"
    )
    parser.add_argument("--preset", default="", help="seeds-worker: an experiment= preset (empty: the env's)")
    parser.add_argument(
        "--repeats", type=bounded(int, 1), default=3, help="speed rows: best of this many runs"
    )
    parser.add_argument(
        "--steps",
        type=bounded(int, 1),
        default=200_000,
        help="training env steps per speed row (the default budget)",
    )
    parser.add_argument(
        "--seeds", type=bounded(int, 1), default=10, help="seeds for the sample-efficiency figure"
    )
    parser.add_argument("--many-seeds", type=bounded(int, 1), default=100, help="seeds trained side by side")
    parser.add_argument(
        "--more-seeds", type=bounded(int, 1), default=1000, help="seeds of the large seed_mode=batched row"
    )
    parser.add_argument(
        "--steps-per-seed", type=bounded(int, 1), default=100_000, help="env steps of each of them"
    )
    parser.add_argument(
        "--quick", action="store_true", help="CartPole only, 1 and 16 envs, 3 seeds; 10 seeds x 10k together"
    )
    args = parser.parse_args()
    if args.mode == "worker":
        print(speed_row_json(measure_speed(args.env, args.num_envs, args.steps, args.repeats, args.policy)))
        return
    if args.mode == "seeds-worker":
        preset = [f"experiment={args.preset}"] if args.preset else []
        seeds = many_seeds(args.env, args.many_seeds, args.steps_per_seed, args.seed_mode, preset)
        print(json.dumps(asdict(seeds)))
        return

    envs = ["CartPole-v1"] if args.quick else ["CartPole-v1", "Acrobot-v1"]
    counts = [1, 16] if args.quick else [1, 16, 256]
    rows = [measure_speed_in_subprocess(env, n, args.steps, args.repeats) for env in envs for n in counts]
    rows += [
        measure_speed_in_subprocess("CartPole-v1", n, args.steps, args.repeats, "mlp64x64") for n in (1, 16)
    ]
    print(f"training speed against the env's own speed (random actions), one row per process, "
          f"best of {args.repeats}")  # fmt: skip
    print(speed_table(rows))
    print("targets: ratio >= 0.5 at 16 and 256 envs (native vector env), >= 0.3 at 1 env; "
          "MLP 64x64 >= 0.25 at 1 env, >= 0.4 at 16\n")  # fmt: skip

    print("raw random-action steps/s: Gymnasium's native vector env against EnvPool (optional extra)")
    for env in envs:
        for n in (16, 256, 1024):
            gymnasium = max(raw_env_steps_per_second(env, n, 1.0) for _ in range(args.repeats))
            pool = envpool_steps_per_second(env, n)
            versus = (
                "envpool not installed"
                if pool is None
                else f"envpool {pool:>12,.0f}  ({pool / gymnasium:.2f}x)"
            )
            print(f"  {env:<12} {n:>5} envs: gymnasium {gymnasium:>12,.0f}   {versus}")
    print()

    if not args.quick:
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

    seeds = list(range(3 if args.quick else args.seeds))
    print(f"CartPole-v1, seeds {seeds[0]}..{seeds[-1]}: env steps until the last-100 mean return >= 475")
    for label, overrides in (("experiment=cartpole", ["experiment=cartpole"]), ("agent defaults", [])):
        solved = solve_times("CartPole-v1", seeds, overrides)
        print(f"  {label:<20}: {solved.summary()}")
    print("  targets: median <= 60k env steps and <= 15 s wall on 2 cores\n")

    num_seeds, steps = (10, 10_000) if args.quick else (args.many_seeds, args.steps_per_seed)
    runs = [("CartPole-v1", num_seeds, steps, "exact"), ("CartPole-v1", num_seeds, steps, "batched"),
            ("CartPole-v1", num_seeds, steps // 10, "batched")]  # fmt: skip
    if not args.quick:
        runs += [
            ("CartPole-v1", args.more_seeds, steps, "batched"),
            ("Acrobot-v1", num_seeds, steps, "batched", "acrobot"),  # its default preset has a value net
        ]
    print("many seeds side by side in one process (one process per row; TensorBoard on, checkpoints written)")
    print(many_seeds_table([many_seeds_in_subprocess(*run) for run in runs]))
    print(
        "  targets: 100 seeds x 100k CartPole-v1 in < 30 s with seed_mode=batched on 2 cores; "
        "peak RSS flat in steps/seed"
    )
    startup_section(args.repeats)


def startup_section(repeats: int) -> None:
    """Start-up (agents/tools/startup.py): fresh processes against ``import torch``, taken in turns."""
    print(f"\nstart-up, fresh processes, best of {repeats} (ratios against import torch, same moment)")
    print(measure_startup(repeats).table())


if __name__ == "__main__":
    main()
