"""softmax-reinforce: REINFORCE with softmax policies whose score functions are derived by hand.

The Python API (imported on first use, so ``import agents`` stays fast)::

    import agents
    result = agents.train("CartPole-v1", "seed=1", "agent.lr=0.05")
    agent = agents.load(result.run_dir)
    action = agent.predict(obs, deterministic=True)

``agents.compose`` builds the config ``train`` would run; the policy classes and the returns are
here too (``agents.LinearSoftmaxPolicy``, ``agents.discounted_returns``, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "train": "agents.tools.api",
    "load": "agents.tools.api",
    "compose": "agents.tools.api",
    "TrainedAgent": "agents.runtime.restore",
    "TrainConfig": "agents.runtime.config",
    "RunResult": "agents.runtime.trainer",
    "TrainResult": "agents.runtime.trainer",
    "MultiSeedResult": "agents.runtime.multi_seed",
    "UserError": "agents.errors",
    "RunInterrupted": "agents.errors",
    "SoftmaxPolicy": "agents.core.policies",
    "ActionFeatureSoftmaxPolicy": "agents.core.policies",
    "LinearSoftmaxPolicy": "agents.core.policies",
    "MLPSoftmaxPolicy": "agents.core.policies",
    "ScoreFn": "agents.core.policies",
    "discount_weights": "agents.core.returns",
    "discounted_returns": "agents.core.returns",
}
"""Public name -> the module that defines it (imported when the name is first read)."""

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    """The API and the module's dunders (not its own imports)."""
    return sorted({*_PUBLIC, *(name for name in globals() if name.startswith("__"))})
