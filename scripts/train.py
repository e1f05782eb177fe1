"""Train a linear softmax policy with REINFORCE: ``python scripts/train.py env=CartPole-v1``.

A thin Hydra entry point over :func:`agents.runtime.run.train` (which the tests call directly).
"""

from __future__ import annotations

from omegaconf import DictConfig

from agents.runtime.config import register_configs
from agents.runtime.run import train
from agents.runtime.trainer import preflight
from agents.tools.cli import hydra_main

register_configs()


@hydra_main(config_name="train", env_presets=True, check_jobs=preflight)  # -m: every job checked first
def main(cfg: DictConfig) -> float:
    """Returns the final mean return, the metric hyperparameter sweepers optimise."""
    return train(cfg).final_mean_return


if __name__ == "__main__":
    main()
