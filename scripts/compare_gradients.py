"""Closed-form score against autograd: ``python scripts/compare_gradients.py env=CartPole-v1``.

Options (configs/compare.yaml): ``agent.policy=state|action``, ``checkpoint=<run dir>``,
``num_states=256``, ``num_random_states=64``, ``dtypes=[float32,float64]``, ``seed=0``.
Prints one row per dtype; exits 1 when a sample's discrepancy exceeds the dtype's tolerance
(1e-10 float64, 1e-4 float32), 2 with one line for a bad argument. The same program as
``softmax-reinforce compare-gradients``: :func:`agents.tools.commands.compare_gradients` over
:func:`agents.studies.gradient_check.compare_gradients` (which the tests call).
"""

from __future__ import annotations

from agents.tools.commands import compare_gradients as main

if __name__ == "__main__":
    main()
