"""Regenerate the results table: every preset trained with 5 seeds, one markdown row each.

``python scripts/results_table.py [long=true] [seeds=5] [presets=[cartpole,taxi]] [out=docs/results.md]``;
without ``out`` the table goes to a new folder under ``outputs/results_table/``. The same program as
``softmax-reinforce results-table``: :func:`agents.tools.commands.results_table` over
:mod:`agents.tools.results`. ``--help`` lists the keys.
"""

from __future__ import annotations

from agents.tools.commands import results_table as main

if __name__ == "__main__":
    main()
