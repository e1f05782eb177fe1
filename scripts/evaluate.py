"""Evaluate a trained policy: ``python scripts/evaluate.py checkpoint=<run dir> [video=true]``.

The same program as ``softmax-reinforce evaluate``: :func:`agents.tools.commands.evaluate` over
:func:`agents.runtime.evaluation.evaluate` (which the tests call directly).
"""

from __future__ import annotations

from agents.tools.commands import evaluate as main

if __name__ == "__main__":
    main()
