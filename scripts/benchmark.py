"""Benchmark: training speed against the env's own speed, and score vs autograd_score.

``python scripts/benchmark.py [--env CartPole-v1] [--steps 50000]`` prints, measured in this one
run: raw random-action env steps/s, training env steps/s (acting + updates + TensorBoard
logging), their ratio, and the time of ``score`` against ``autograd_score`` on a float64 batch.
"""

from __future__ import annotations

import argparse

from agents.benchmarking import raw_env_steps_per_second, time_scores, training_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=50_000, help="training env steps")
    parser.add_argument("--batch", type=int, default=4096, help="score timing batch size")
    args = parser.parse_args()

    raw = raw_env_steps_per_second(args.env, 1)
    overrides = [f"env={args.env}", f"budget.total_env_steps={args.steps}", "budget.stop_at_target=false"]
    result = training_run(overrides)
    trained = result.env_steps / result.seconds
    print(f"{args.env}, 1 env, {result.env_steps} training steps ({result.updates} updates)")
    print(f"  raw random-action env steps/s : {raw:12,.0f}")
    print(f"  training env steps/s          : {trained:12,.0f}")
    print(f"  training / raw                : {trained / raw:12.3f}   (target >= 0.30)")
    timing = time_scores(batch=args.batch)
    print(f"score vs autograd_score, batch {args.batch}, float64 (best of 20)")
    print(f"  score (closed form)           : {timing.closed_form_seconds * 1e3:9.3f} ms")
    print(f"  autograd_score (vmap o grad)  : {timing.autograd_seconds * 1e3:9.3f} ms")
    print(f"  autograd / closed form        : {timing.speedup:9.1f}x  (target >= 5x)")


if __name__ == "__main__":
    main()
