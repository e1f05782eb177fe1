"""Closed-form score against autograd: ``python scripts/compare_gradients.py env=CartPole-v1``.

Options (configs/compare.yaml): ``agent.policy=state|action``, ``checkpoint=<run dir>``,
``num_states=256``, ``num_random_states=64``, ``dtypes=[float32,float64]``, ``seed=0``.
Prints one row per dtype; exits 1 when a sample's discrepancy exceeds the dtype's tolerance
(1e-10 float64, 1e-4 float32), 2 with one line for a bad argument. The logic is
:func:`agents.gradient_check.compare_gradients` (which the tests call).
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from agents.cli import run_or_exit
from agents.config import register_configs
from agents.gradient_check import compare_gradients, format_report, register_compare_config

register_configs()
register_compare_config()


@hydra.main(version_base="1.3", config_path="../configs", config_name="compare")
def main(cfg: DictConfig) -> None:
    report = run_or_exit(lambda: compare_gradients(cfg))
    print(format_report(report))
    if not report.passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
