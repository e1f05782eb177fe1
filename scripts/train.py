"""Train a linear softmax policy with REINFORCE: ``python scripts/train.py env=CartPole-v1``.

A thin Hydra entry point over :func:`agents.trainer.train` (which the tests call directly).
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from agents.cli import run_or_exit
from agents.config import register_configs
from agents.trainer import train

register_configs()


@hydra.main(version_base="1.3", config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> float:
    """Returns the final mean return, the metric hyperparameter sweepers optimise."""
    return run_or_exit(lambda: train(cfg).final_mean_return)


if __name__ == "__main__":
    main()
