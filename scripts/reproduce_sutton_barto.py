"""Reproduce Sutton & Barto's Figures 13.1 and 13.2 (REINFORCE on the short corridor).

``python scripts/reproduce_sutton_barto.py [--runs 100] [--episodes 1000] [--seed 0] [--out DIR]``
saves ``figure_13_1.png``, ``figure_13_2.png`` and ``curves.csv`` (config, episode, mean return,
standard error) into ``--out`` (default ``docs/sutton_barto``) and prints, per curve, the mean
return of the last 100 episodes with its standard error over runs. The logic lives in
:mod:`agents.studies.sutton_barto`.
"""

from __future__ import annotations

import time
from pathlib import Path

from agents.studies.sutton_barto import OPTIMAL_VALUE, reproduce
from agents.tools.cli import ArgumentParser, bounded


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=bounded(int, 1), default=100, help="independent runs per curve")
    parser.add_argument("--episodes", type=bounded(int, 1), default=1000, help="episodes per run")
    parser.add_argument("--seed", type=bounded(int, 0, 2**32 - 1), default=0)
    parser.add_argument("--out", type=Path, default=Path("docs/sutton_barto"), help="output folder")
    args = parser.parse_args()

    start = time.perf_counter()
    made = reproduce(args.out, args.runs, args.episodes, args.seed)
    seconds = time.perf_counter() - start
    last = min(100, args.episodes)
    for name, results in (("Figure 13.1", made.figure_13_1), ("Figure 13.2", made.figure_13_2)):
        print(f"{name}: mean return of the last {last} episodes, {args.runs} runs (v* = {OPTIMAL_VALUE:.3f})")
        for result in results:
            mean, error = result.final(last)
            cut = f"  ({result.truncated} episodes cut at the cap)" if result.truncated else ""
            print(f"  {result.curve.label:<45} {mean:8.3f} +- {error:.3f}{cut}")
    print(f"wrote {', '.join(str(path) for path in made.files)} in {seconds:.1f} s")


if __name__ == "__main__":
    main()
