"""Closed-form score against autograd: ``python scripts/compare_gradients.py env=CartPole-v1``.

Options (configs/compare.yaml): ``agent.policy=state|action``, ``checkpoint=<run dir>``,
``num_states=256``, ``num_random_states=64``, ``dtypes=[float32,float64]``, ``seed=0``.
Prints one row per dtype; exits 1 when a sample's discrepancy exceeds the dtype's tolerance
(1e-10 float64, 1e-4 float32), 2 with one line for a bad argument (agents.tools.cli.hydra_main). The logic is
:func:`agents.studies.gradient_check.compare_gradients` (which the tests call).
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig

from agents.runtime.config import register_configs
from agents.studies.gradient_check import compare_gradients, format_report, register_compare_config
from agents.tools.cli import hydra_main

register_configs()
register_compare_config()


@hydra_main(config_name="compare")
def main(cfg: DictConfig) -> None:
    report = compare_gradients(cfg)
    print(format_report(report))
    if not report.passed:
        sys.exit(1)


if __name__ == "__main__":
    main()
