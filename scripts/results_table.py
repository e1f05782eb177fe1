"""Regenerate the results table: every preset trained with 5 seeds, one markdown row each.

``python scripts/results_table.py [--long] [--seeds 5] [--presets cartpole taxi ...] [--out docs/results.md]``
trains each preset (``configs/experiment/<name>.yaml``) once per seed, in this process, one run
at a time, and prints and writes a table of env steps, wall time per seed and the final mean
return (last ``budget.window`` episodes) as mean +- standard deviation over the seeds. The quick
presets run by default; ``--long`` adds LunarLander (1M steps a seed; needs the ``box2d``
extra). The logic lives in :mod:`agents.tools.results`.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

from agents.tools.cli import ArgumentParser, bounded
from agents.tools.results import LONG_PRESETS, QUICK_PRESETS, results_table, run_preset


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=bounded(int, 1), default=5, help="seeds 0 .. N-1 per preset")
    parser.add_argument("--long", action="store_true", help=f"also run {', '.join(LONG_PRESETS)}")
    parser.add_argument("--presets", nargs="+", help="only these presets (overrides --long)")
    parser.add_argument("--out", type=Path, default=Path("docs/results.md"), help="markdown file to write")
    args = parser.parse_args()

    presets = args.presets or [*QUICK_PRESETS, *(LONG_PRESETS if args.long else ())]
    results = []
    for preset in presets:
        results.append(run_preset(preset, range(args.seeds)))
        print(f"{preset}: {results[-1].mean_return:.2f} +- {results[-1].std_return:.2f}", flush=True)
    table = results_table(results)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, torch threads: {torch.get_num_threads()}"
    text = (
        "# Results\n\n"
        f"Regenerate with `python scripts/results_table.py{' --long' if args.long else ''}` ({machine}). "
        "Final return: mean undiscounted return of the last `budget.window` (100) episodes of each run, "
        f"mean ± standard deviation over {args.seeds} seeds; wall time is per seed, one run at a time.\n\n"
        f"{table}\n"
    )
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
