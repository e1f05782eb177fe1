"""The global generators (python's ``random``, ``numpy.random``, torch): seeded once per run, and
kept in checkpoints. The agent draws only from its own generators; an env may draw from these,
so a resumed run restores them to continue it exactly.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def seed_everything(seed: int) -> None:
    """One visible seeding block: python, numpy and torch global generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def global_rng_states() -> dict[str, Any]:
    """The global generators' states (python's ``random``, ``numpy.random``, torch), as a
    checkpoint holds them: nothing here draws from them, an env may."""
    return {
        "python": list(random.getstate()[1]),
        "numpy": np.random.get_state(legacy=False),
        "torch": torch.get_rng_state(),
    }


def set_global_rng_states(states: dict[str, Any]) -> None:
    """Restore :func:`global_rng_states`' output."""
    python_state = random.getstate()
    random.setstate((python_state[0], tuple(int(v) for v in states["python"]), python_state[2]))
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])


def drew_between(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether anything drew from a global generator between two :func:`global_rng_states`."""
    numpy_states = [(state["numpy"]["state"]["key"].tobytes(), state["numpy"]["state"]["pos"],
                     state["numpy"]["has_gauss"]) for state in (before, after)]  # fmt: skip
    return (
        before["python"] != after["python"]
        or numpy_states[0] != numpy_states[1]
        or not torch.equal(before["torch"], after["torch"])
    )
