"""Train a softmax policy with REINFORCE: ``python scripts/train.py env=CartPole-v1 [key=value ...]``.

The same program as ``softmax-reinforce train``: :func:`agents.tools.commands.train`, a thin Hydra
entry point over :func:`agents.runtime.run.train` (which the tests call directly).
"""

from __future__ import annotations

from agents.tools.commands import train as main

if __name__ == "__main__":
    main()
