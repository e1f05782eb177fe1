"""Reproduce Sutton & Barto's Figures 13.1 and 13.2 (REINFORCE on the short corridor).

``python scripts/reproduce_sutton_barto.py [runs=100] [episodes=1000] [seed=0] [out=outputs/sutton_barto]``.
The same program as ``softmax-reinforce reproduce-sutton-barto``:
:func:`agents.tools.commands.reproduce_sutton_barto` over :mod:`agents.studies.sutton_barto`.
``--help`` lists the keys.
"""

from __future__ import annotations

from agents.tools.commands import reproduce_sutton_barto as main

if __name__ == "__main__":
    main()
