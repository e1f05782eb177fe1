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
import importlib.util
import os
from pathlib import Path
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


def _check_envs_package() -> None:
    """The project's env package is the top-level ``envs``, beside this one. Another ``envs``
    earlier on ``sys.path`` hid it, and every run failed inside the project with ``No module named
    'envs.make'``: a user's package or module of that name (an ``envs/`` package beside their
    script, as many RL projects have), or, with the editable install, even a plain folder named
    ``envs`` in the working folder (Python imports it as a namespace package; the project's
    ``__init__`` never runs, and ShortCorridor-v0 was "not a registered Gymnasium id"). Say so
    as the package is imported (found without importing either); a checkout of symbolic links
    is ours (compared by real path)."""
    ours = Path(__file__).parent.parent / "envs"
    try:
        spec = importlib.util.find_spec("envs")
    except (ImportError, ValueError):  # an envs module in sys.modules without a spec
        return
    if spec is None or not (ours / "__init__.py").is_file():
        return
    if spec.origin not in (None, "namespace"):  # a regular package or a module
        if os.path.realpath(spec.origin) == os.path.realpath(ours / "__init__.py"):
            return
        found = Path(spec.origin)
        where = f"the package envs at {found.parent if found.name == '__init__.py' else found}"
    else:
        folders = [os.path.realpath(folder) for folder in spec.submodule_search_locations or []]
        if os.path.realpath(ours) in folders:
            return
        where = (
            f"the folder {folders[0] if folders else 'envs'} (no __init__.py: Python imports it as a package)"
        )
    raise ImportError(
        f"{where} hides softmax-reinforce's own envs package ({ours}), which agents imports: rename "
        "yours (e.g. my_envs), or run from another folder, or take its folder off sys.path"
    )


_check_envs_package()

__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'agents' has no attribute {name!r}")
    from agents.runtime.interrupts import imports_finish_first

    with imports_finish_first():  # a Ctrl-C in torch's import left it broken for the whole process
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later reads skip this function
    return value


def __dir__() -> list[str]:
    """The API and the module's dunders (not its own imports)."""
    return sorted({*_PUBLIC, *(name for name in globals() if name.startswith("__"))})
