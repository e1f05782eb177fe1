"""Evaluate a trained policy: ``python scripts/evaluate.py checkpoint=<run dir> [video=true]``.

A thin Hydra entry point over :func:`agents.runtime.evaluation.evaluate` (which the tests call directly).
"""

from __future__ import annotations

from omegaconf import DictConfig

from agents.runtime.evaluation import evaluate, register_evaluate_config
from agents.tools.cli import hydra_main

register_evaluate_config()


@hydra_main(config_name="evaluate")
def main(cfg: DictConfig) -> float:
    """Returns the greedy policy's mean return."""
    return evaluate(cfg).modes["greedy"].mean


if __name__ == "__main__":
    main()
