"""Plot learning curves of runs and sweeps: ``python scripts/plot.py runs=[multirun/CartPole-v1/<time>,...]``.

The same program as ``softmax-reinforce plot``: :func:`agents.tools.commands.plot` over
:func:`agents.tools.plotting.plot_runs` (which the tests call). ``--help`` lists the keys.
"""

from __future__ import annotations

from agents.tools.commands import plot as main

if __name__ == "__main__":
    main()
