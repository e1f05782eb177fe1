"""The REINFORCE estimate against the exact policy gradient: bias, variance, and v(s0) vs p.

``python scripts/gradient_variance.py [--env ShortCorridor-v0] [--p 0.5] [--episodes 4000]
[--seed 0] [--out outputs/gradient_variance]`` prints the exact ``grad J(theta)`` of a tabular
MDP, the bias (within standard errors) and variance of the REINFORCE estimate against the number
of episodes N, with and without the baseline ``b(s) = v_pi(s)``, and writes
``<out>/gradient_variance.png`` (with ``v(s0)`` against ``p = pi(right)`` and its maximum for
ShortCorridor-v0). ``--env FrozenLake-v1`` runs the non-slippery lake with a uniform tabular
policy. The logic is :mod:`agents.studies.gradient_variance` (which the tests call).
"""

from __future__ import annotations

from agents.studies.gradient_variance import format_study, plot_study, run_study
from agents.tools.cli import ArgumentParser, bounded, run_or_exit

ENVS = {  # env id -> (policy form, gymnasium.make kwargs)
    "ShortCorridor-v0": ("action", {}),
    "FrozenLake-v1": ("state", {"is_slippery": False}),
}


def main() -> None:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="ShortCorridor-v0", choices=sorted(ENVS))
    parser.add_argument(
        "--p", type=bounded(float, 0, 1), default=0.5, help="pi(right) on ShortCorridor-v0, in (0, 1)"
    )
    parser.add_argument("--episodes", type=bounded(int, 1), default=4000, help="episodes per estimator")
    parser.add_argument("--seed", type=bounded(int, 0, 2**32 - 1), default=0)
    parser.add_argument("--out", default="outputs/gradient_variance", help="folder for the PNG")
    args = parser.parse_args()
    form, env_kwargs = ENVS[args.env]

    def report() -> None:
        study = run_study(args.env, form, args.p, args.episodes, args.seed, env_kwargs=env_kwargs)
        print(format_study(study))
        print(f"plot: {plot_study(study, args.out)}")

    run_or_exit(report)


if __name__ == "__main__":
    main()
