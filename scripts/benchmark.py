"""Benchmark: ``python scripts/benchmark.py [quick=true] [repeats=3] [steps=200000] ...``.

Training speed against the env's own speed, score timing, sample efficiency, many seeds side by
side and start-up, each figure measured in this one invocation (configs/benchmark.yaml lists the
keys; ``--help`` prints them). The same program as ``softmax-reinforce benchmark``:
:func:`agents.tools.commands.benchmark` over :mod:`agents.tools.benchmark_report`.
"""

from __future__ import annotations

from agents.tools.commands import benchmark as main

if __name__ == "__main__":
    main()
