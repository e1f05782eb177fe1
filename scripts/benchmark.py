"""Benchmark: training speed against the env's own speed, score timing, sample efficiency.

``python scripts/benchmark.py`` prints, measured in this one invocation (each speed row in a
fresh child process so its peak RSS is its own; each speed the best of ``--repeats`` runs, as
``timeit`` does, because other jobs on a shared machine only ever slow a run down):

* for CartPole-v1 and Acrobot-v1 at 1, 16 and 256 envs: raw random-action env steps/s, the
  share of it left with the ``RecordEpisodeStatistics`` wrapper training uses (RES/raw: the
  ceiling for the ratio), training env steps/s (acting + updates + TensorBoard logging), their
  ratio, the same without TensorBoard, updates/s, peak RSS;
* peak RSS of a 100k-step and a 1M-step run (the buffers must not grow with total steps);
* ``score`` against ``autograd_score`` on a float64 batch;
* env steps and wall seconds until CartPole-v1's last-100 mean reaches 475, over 10 seeds, for
  the tuned preset (``experiment=cartpole``) and for the agent defaults;
* wall seconds of 100 seeds x 100k CartPole-v1 steps trained side by side in this process.

``--quick`` measures fewer things for a smoke test.
"""

from __future__ import annotations

from agents.tools.benchmarking import (
    many_seeds,
    measure_speed,
    measure_speed_in_subprocess,
    solve_times,
    speed_row_json,
    speed_table,
    time_scores,
)
from agents.tools.cli import ArgumentParser, bounded
from agents.tools.startup import measure_startup


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "worker"])
    parser.add_argument("--env", default="CartPole-v1", help="worker: env id")
    parser.add_argument("--num-envs", type=bounded(int, 1), default=1, help="worker: number of envs")
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
        "--steps-per-seed", type=bounded(int, 1), default=100_000, help="env steps of each of them"
    )
    parser.add_argument(
        "--quick", action="store_true", help="CartPole only, 1 and 16 envs, 3 seeds; 10 seeds x 10k together"
    )
    args = parser.parse_args()
    if args.mode == "worker":
        print(speed_row_json(measure_speed(args.env, args.num_envs, args.steps, args.repeats)))
        return

    envs = ["CartPole-v1"] if args.quick else ["CartPole-v1", "Acrobot-v1"]
    counts = [1, 16] if args.quick else [1, 16, 256]
    rows = [measure_speed_in_subprocess(env, n, args.steps, args.repeats) for env in envs for n in counts]
    print(f"training speed against the env's own speed (random actions), one row per process, "
          f"best of {args.repeats}")  # fmt: skip
    print(speed_table(rows))
    print("targets: ratio >= 0.5 at 16 and 256 envs (native vector env), >= 0.3 at 1 env\n")

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

    seeds = list(range(3 if args.quick else args.seeds))
    print(f"CartPole-v1, seeds {seeds[0]}..{seeds[-1]}: env steps until the last-100 mean return >= 475")
    for label, overrides in (("experiment=cartpole", ["experiment=cartpole"]), ("agent defaults", [])):
        solved = solve_times("CartPole-v1", seeds, overrides)
        print(f"  {label:<20}: {solved.summary()}")
    print("  targets: median <= 60k env steps and <= 15 s wall on 2 cores\n")

    num_seeds, steps = (10, 10_000) if args.quick else (args.many_seeds, args.steps_per_seed)
    together = many_seeds("CartPole-v1", num_seeds, steps)
    print(f"{num_seeds} seeds x {steps:,} CartPole-v1 env steps side by side in one process")
    print(f"  {together.seconds:.1f} s wall, trainers built and logging on "
          f"({together.microseconds_per_step:.2f} us per env step)")  # fmt: skip
    print("  target: 100 seeds x 100k in < 120 s on 2 cores")
    startup_section(args.repeats)


def startup_section(repeats: int) -> None:
    """Start-up (agents/tools/startup.py): fresh processes against ``import torch``, taken in turns."""
    print(f"\nstart-up, fresh processes, best of {repeats} (ratios against import torch, same moment)")
    print(measure_startup(repeats).table())


if __name__ == "__main__":
    main()
