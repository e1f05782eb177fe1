"""Plot learning curves of runs and sweeps: ``python scripts/plot.py multirun/CartPole-v1/<time> ...``.

Groups runs by config (seeds aggregated: mean and 95% bootstrap CI), saves ``<out>.png`` and
``<out>.svg`` and prints the final-performance table. A thin parser over
:func:`agents.tools.plotting.plot_runs` (which the tests call).
"""

from __future__ import annotations

from pathlib import Path

from agents.tools.cli import ArgumentParser, bounded, run_or_exit
from agents.tools.plotting import plot_runs


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="run or sweep folders (searched for event files)")
    parser.add_argument(
        "--out", type=Path, default=None, help="figure path stem (default: <first path>/returns)"
    )
    parser.add_argument(
        "--window", type=bounded(int, 1), default=20, help="episodes in each curve's moving mean"
    )
    args = parser.parse_args()
    table, files = run_or_exit(lambda: plot_runs(args.paths, args.out, args.window))
    print(table)
    print("figures: " + "  ".join(map(str, files)))


if __name__ == "__main__":
    main()
