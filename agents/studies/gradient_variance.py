r"""How good is the REINFORCE estimate? Bias and variance against the exact gradient.

On a tabular MDP (:mod:`agents.studies.exact_gradient`) every episode ``i`` of a fixed policy gives one
REINFORCE estimate of ``grad J(theta) = grad v_pi(s_0)`` (S&B p. 328, all ``gamma^t`` kept)::

    g_i = sum_t gamma^t (G_t - b(S_t)) grad log pi(A_t|S_t)

and an ``N``-episode estimate is the mean of ``N`` of them. ``E[g_i] = grad J`` for any ``b``
that ignores the action (``E_pi[grad log pi] = 0``), so the bias is zero for every ``N`` and its
measured value must sit within a few standard errors of zero; the variance falls as ``1/N``, and
the baseline ``b(s) = v_pi(s)`` lowers it. ``scripts/gradient_variance.py`` prints and plots this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import NormalDist

import torch
from torch import Tensor

from agents.core.batch import EpisodeBatch
from agents.core.policies import SoftmaxPolicy
from agents.core.returns import discount_weights, discounted_returns
from agents.errors import UserError
from agents.runtime.checkpoint import write_files_atomically
from agents.runtime.rollout import collect_episodes
from agents.runtime.sizes import refuse_over_limit
from agents.studies.exact_gradient import (
    SHORT_CORRIDOR_BEST_P,
    SHORT_CORRIDOR_BEST_VALUE,
    TabularProblem,
    discounted_visits,
    exact_gradient_autograd,
    short_corridor_start_value,
    state_values,
    tabular_problem,
)
from envs.short_corridor import MAX_EPISODE_STEPS

FIGURE_NAME = "gradient_variance.png"
"""The study's figure, written into its ``out`` folder."""
SHORT_CORRIDOR_P_RANGE = (0.05, 0.97)
"""The ``p`` the study accepts on ShortCorridor-v0. Inside it an episode outlasts the registered
``MAX_EPISODE_STEPS = 1000``-step time limit with probability below 1e-6 (``e_0^T Q^1000 1``, ``Q``
the transitions among the non-goal states: 7e-7 at 0.05, 5e-7 at 0.97), so the episodes REINFORCE
sees estimate the untruncated ``grad J`` of the linear solve. Nearer 0 or 1 the time limit cuts
them (at ``p = 1e-6`` every one: all estimates are equal and have no variance), and the solve
loses its digits (``v_pi(s0) ~ -4/p``; nan by ``p = 1e-300``)."""

STEP_VALUES = 12
"""Values of 8 bytes :func:`run_study` holds per stored step besides the policy's inputs and the
scores: ``S_t``, ``A_t``, ``R_{t+1}``, the done flag (1 byte, counted as 8), ``b(S_t)``, ``G_t``,
``gamma^t``, ``G_t - b``, its product with ``gamma^t`` and three for the episode ids."""
LIST_BYTES_PER_STEP = 96
"""Bytes per step of the Python lists :func:`~agents.runtime.rollout.collect_episodes` grows before
they become arrays: four list slots (8 bytes each, lists over-allocate by up to 1/8), the reward's
float object (24) and the observation's numpy scalar (32)."""


@torch.no_grad()
def episode_gradients(
    policy: SoftmaxPolicy, batch: EpisodeBatch, gamma: float, baseline: Tensor | None = None
) -> Tensor:
    r"""One REINFORCE estimate per episode, ``g_i = sum_{t in i} gamma^t (G_t - b_t) score_t``.

    :param batch: complete episodes laid end to end (``T`` steps, ``M`` episodes).
    :param baseline: ``b(S_t)`` per step ``[T]``, or None for ``b = 0``.
    :return: ``[M, *param.shape]``.
    """
    returns = discounted_returns(batch.rewards, gamma, batch.dones)  # G_t              [T]
    weights = discount_weights(batch.dones, gamma, returns.dtype)  # gamma^t          [T]
    advantages = returns if baseline is None else returns - baseline  # G_t - b(S_t)  [T]
    terms = (weights * advantages).reshape(-1, *[1] * policy.param.dim()) * policy.score(
        batch.inputs, batch.actions
    )  # per-step terms                                                          [T, *param]
    episode = torch.cumsum(batch.dones.long(), 0) - batch.dones.long()  # episode id of each step
    return terms.new_zeros(batch.num_episodes, *policy.param.shape).index_add_(0, episode, terms)


@dataclass
class BatchSizeRow:
    """The ``N``-episode estimator, measured over ``groups`` disjoint batches of ``N`` episodes."""

    episodes: int
    groups: int
    bias: Tensor
    """Mean of the batch estimates minus the exact gradient (flattened)."""
    standard_error: Tensor
    """Standard error of that mean per component, ``sqrt(Var_1 / (groups N))`` with ``Var_1``
    the per-episode variance of all episodes."""
    variance: float
    """Total variance (trace of the covariance) of one ``N``-episode estimate, across batches."""
    rmse: float
    """Root mean squared error ``sqrt(mean ||g_N - grad J||^2)`` of one ``N``-episode estimate."""

    tested: Tensor
    """The components whose ``z`` is tested (bool): those whose mean over the episodes is close
    enough to normal for a ``z`` to mean anything (:func:`normal_enough`)."""

    @property
    def max_z(self) -> float:
        """``max_k |bias_k| / s.e._k`` over the :attr:`tested` components (nan: none is); below
        :attr:`z_limit` the bias is zero within the estimate's error."""
        if not self.tested.any():  # every episode gave the same estimate: no standard error to scale by
            return math.nan
        return float((self.bias[self.tested].abs() / self.standard_error[self.tested]).max())

    @property
    def z_limit(self) -> float:
        """3 standard errors for one component, Bonferroni-corrected for the ``k`` tested: the
        ``|z|`` that an unbiased estimate's largest of ``k`` normal ``z`` exceeds with probability
        0.27% (3.00 for one, 3.21 for ShortCorridor's two, 4.15 for FrozenLake's 64; the maximum of
        64 unbiased components crossed 3 at 3 seeds in 12)."""
        tested = max(1, int(self.tested.sum()))
        return NormalDist().inv_cdf(1 - THREE_SIGMA_TAILS / (2 * tested))


COCHRAN_FACTOR = 25
"""Cochran's rule: the mean of ``n`` samples of skewness ``g`` is close enough to normal for a
test when ``n > 25 g^2``."""


def normal_enough(estimates: Tensor) -> Tensor:
    """Which components of per-episode estimates ``[M, P]`` have a mean a ``z`` test may read
    (bool ``[P]``): a nonzero variance and Cochran's rule. FrozenLake's rare goal makes some
    components' estimates nonzero in a few episodes only (skewness 36-63): at 2000 episodes their
    means' ``z`` reached 5 at 3 seeds in 12 for a zero bias, and 2.3 at 30,000 episodes."""
    centred = estimates - estimates.mean(0)
    variance = centred.square().mean(0)
    positive = variance > 0
    skewness = centred.pow(3).mean(0) / variance.where(positive, 1.0).pow(1.5)
    return positive & (estimates.shape[0] > COCHRAN_FACTOR * skewness.square())


THREE_SIGMA_TAILS = 2 * (1 - NormalDist().cdf(3.0))
"""The probability of ``|z| > 3`` for one normal ``z`` (0.27%)."""


def batch_size_rows(
    estimates: Tensor, exact: Tensor, episode_counts: list[int], min_groups: int = 10
) -> list[BatchSizeRow]:
    """Split per-episode estimates ``[M, P]`` into ``M // N`` batches of ``N`` for each ``N``
    (skipping ``N`` with fewer than ``min_groups`` batches)."""
    exact, per_episode_variance = exact.reshape(-1), estimates.var(0)
    tested = normal_enough(estimates)
    rows = []
    for count in episode_counts:
        groups = estimates.shape[0] // count
        if groups < min_groups:
            continue
        means = estimates[: groups * count].reshape(groups, count, -1).mean(1)  # [groups, P]
        rows.append(
            BatchSizeRow(
                episodes=count,
                groups=groups,
                bias=means.mean(0) - exact,
                standard_error=(per_episode_variance / (groups * count)).sqrt(),
                variance=float(means.var(0).sum()),
                rmse=float((means - exact).square().sum(-1).mean().sqrt()),
                tested=tested,
            )
        )
    return rows


@dataclass
class VarianceStudy:
    """Everything ``scripts/gradient_variance.py`` prints and plots."""

    env_id: str
    param: Tensor
    value: float
    """``v_pi(s_0)`` at ``param``."""
    exact: Tensor
    """``grad J(param)`` by autograd through the linear solve."""
    num_episodes: int
    estimates: dict[str, Tensor]
    """Estimator name (``no baseline``, ``baseline v_pi(s)``) -> per-episode estimates ``[M, P]``."""
    rows: dict[str, list[BatchSizeRow]]
    """Estimator name -> one row per batch size N."""
    prob_right: float | None
    """``pi(right)`` for ShortCorridor-v0 (None for other envs)."""


def expected_episode_steps(problem: TabularProblem) -> float:
    """Mean length of an episode of the problem's policy: ``sum_s eta(s)``, the expected visits to
    each state with ``gamma = 1`` (:func:`discounted_visits`), at most the env's time limit."""
    with torch.no_grad():
        probs = problem.policy.probs(problem.state_inputs)
        visits = discounted_visits(replace(problem.mdp, gamma=1.0), probs)  # E[visits to s]    [S]
    limit = problem.env.spec.max_episode_steps if problem.env.spec else None
    return min(float(visits.sum()), limit or math.inf)


def study_bytes(problem: TabularProblem, num_episodes: int) -> int:
    """Bytes :func:`run_study` holds at once for ``num_episodes`` episodes: for each expected step
    (:func:`expected_episode_steps`) the policy's inputs, the one-hot state, two score-sized
    tensors (the scores and the weighted terms), :data:`STEP_VALUES` and
    :data:`LIST_BYTES_PER_STEP`; for each episode its two estimates. Measured peaks (the process's
    resident memory, from 20,000 to 200,000 episodes) grew about 20% less: 2.85 kB an episode on
    ShortCorridor-v0 at p = 0.5 (12 steps; estimated 3.49 kB), 10.4 kB on FrozenLake-v1 (7.7
    steps; estimated 12.3 kB)."""
    input_values = problem.state_inputs[0].numel() + problem.inputs.feature_map.dim
    param_values = problem.policy.param.numel()
    step_bytes = 8 * (STEP_VALUES + input_values + 2 * param_values) + LIST_BYTES_PER_STEP
    episode_bytes = expected_episode_steps(problem) * step_bytes + 8 * 2 * param_values
    return math.ceil(num_episodes * episode_bytes)


def study_problem(
    env_id: str = "ShortCorridor-v0",
    form: str = "action",
    prob_right: float = 0.5,
    num_episodes: int = 4000,
    gamma: float = 1.0,
    env_kwargs: dict[str, object] | None = None,
) -> TabularProblem:
    """The tabular problem :func:`run_study` estimates on, its policy at the evaluated ``theta``,
    after refusing (:class:`UserError`, before any episode runs) a ``p`` or an episode count it
    cannot use, or whose episodes (:func:`study_bytes`) would not fit in half this machine's
    memory: ``episodes=10**9`` grew by 15 MB/s until the machine ran out."""
    if not 0.0 < prob_right < 1.0:
        raise UserError(f"p={prob_right} must lie strictly between 0 and 1")
    is_corridor = env_id.startswith("ShortCorridor")
    low, high = SHORT_CORRIDOR_P_RANGE
    if is_corridor and not low <= prob_right <= high:
        raise UserError(
            f"p={prob_right} is too close to {0 if prob_right < low else 1}: ShortCorridor-v0's "
            f"{MAX_EPISODE_STEPS}-step time limit would cut the episodes the exact gradient assumes "
            f"complete; use p in [{low}, {high}]"
        )
    if num_episodes < 10:
        raise UserError(f"episodes={num_episodes} is too few to estimate a variance (use >= 10)")
    problem = tabular_problem(env_id, form, gamma, env_kwargs)
    if is_corridor:
        with torch.no_grad():
            problem.policy.param.copy_(
                torch.tensor([math.log(prob_right / (1 - prob_right)), 0.0], dtype=torch.float64)
            )
    needed = study_bytes(problem, num_episodes)
    refuse_over_limit({"the episodes' arrays": (needed, "episodes")}, f"episodes={num_episodes} on {env_id}")
    return problem


def run_study(
    env_id: str = "ShortCorridor-v0",
    form: str = "action",
    prob_right: float = 0.5,
    num_episodes: int = 4000,
    seed: int = 0,
    gamma: float = 1.0,
    env_kwargs: dict[str, object] | None = None,
) -> VarianceStudy:
    """Exact gradient and ``num_episodes`` REINFORCE estimates, with and without baseline.

    ShortCorridor-v0 is evaluated at ``theta = [logit(prob_right), 0]``, ``prob_right`` in
    :data:`SHORT_CORRIDOR_P_RANGE`; other tabular envs at ``theta = 0`` (the uniform policy).
    The arguments are checked first (:func:`study_problem`).
    """
    problem = study_problem(env_id, form, prob_right, num_episodes, gamma, env_kwargs)
    is_corridor = env_id.startswith("ShortCorridor")
    policy, mdp = problem.policy, problem.mdp
    exact = exact_gradient_autograd(policy, mdp, problem.state_inputs)
    with torch.no_grad():
        values = state_values(mdp, policy.probs(problem.state_inputs))
    batch, observations = collect_episodes(problem.env, problem.inputs, policy, num_episodes, seed)
    baseline = values[torch.as_tensor(observations, dtype=torch.int64)]  # b(S_t) = v_pi(S_t)
    counts = [2**k for k in range(int(math.log2(num_episodes)) + 1)]
    estimates = {
        name: episode_gradients(policy, batch, gamma, b).reshape(num_episodes, -1)
        for name, b in (("no baseline", None), ("baseline v_pi(s)", baseline))
    }
    rows = {name: batch_size_rows(per_episode, exact, counts) for name, per_episode in estimates.items()}
    value = float(mdp.start @ values)
    return VarianceStudy(
        env_id, policy.param.detach().clone(), value, exact, num_episodes, estimates, rows,
        prob_right if is_corridor else None,
    )  # fmt: skip


def _vector(values: Tensor) -> str:
    return "[" + ", ".join(f"{v:+.4f}" for v in values.reshape(-1).tolist()) + "]"


def format_study(study: VarianceStudy, max_components: int = 8) -> str:
    """The report as text: exact gradient, then one table per estimator (vectors are printed
    when the parameter has at most ``max_components`` entries, norms always)."""
    where = f"p = pi(right) = {study.prob_right:.4f}, " if study.prob_right is not None else ""
    short = study.exact.numel() <= max_components
    lines = [
        f"{study.env_id}: {where}v_pi(s0) = {study.value:.4f}, {study.num_episodes} episodes per estimator",
        f"exact grad J(theta) = {_vector(study.exact)}, |grad J| = {float(study.exact.norm()):.4g}"
        f" at theta = {_vector(study.param)}"
        if short
        else f"exact grad J(theta): {study.exact.numel()} components (not shown), "
        f"|grad J| = {float(study.exact.norm()):.4g} at theta = 0",
    ]
    for name, rows in study.rows.items():
        all_episodes = rows[0]
        lines += ["", f"REINFORCE, {name}"]
        if short:
            bias, error = _vector(all_episodes.bias), _vector(all_episodes.standard_error)
            lines.append(f"  mean - exact = {bias} +- {error} (1 s.e.)")
        columns = ("N", 6), ("batches", 8), ("|bias|", 9), ("max|z|", 7), ("trace Var", 11), ("Var_1 / N", 11)
        lines.append(" ".join(f"{name:>{width}}" for name, width in columns) + f" {'RMSE':>9}")
        lines += [
            f"{row.episodes:>6} {row.groups:>8} {float(row.bias.norm()):>9.4f} {row.max_z:>7.2f}"
            f" {row.variance:>11.4g} {all_episodes.variance / row.episodes:>11.4g} {row.rmse:>9.4f}"
            for row in rows
        ]
        limit = f"{all_episodes.z_limit:.2f}"
        lines.append(f"  max|z| read over {_tested(all_episodes)}: below {limit} where the bias is 0")
    without, with_baseline = (rows[0].variance for rows in study.rows.values())
    lines += [
        "",
        "|bias| = |mean of the batch estimates - exact|, max|z| = max_k |bias_k| / s.e._k over the",
        f"components whose mean is near normal (Cochran: episodes > {COCHRAN_FACTOR} skewness^2; nan:",
        "none is), below its limit (3 s.e., Bonferroni-corrected) in 99.7% of studies where the bias is 0,",
        "given enough episodes (a few hundred): fewer may meet no rare event (FrozenLake's goal), and",
        "then a zero bias can look large.",
        "trace Var measured across batches vs Var_1 / N predicted from single episodes.",
        f"variance per episode: {without:.4g} without, {with_baseline:.4g} with baseline "
        f"({variance_change(without, with_baseline)})",
    ]
    return "\n".join(lines)


def _tested(row: BatchSizeRow) -> str:
    """``both components``, ``20 of 64 components``."""
    tested, total = int(row.tested.sum()), row.tested.numel()
    if tested == total:
        return "both components" if total == 2 else f"all {total} component{'s' * (total != 1)}"
    return f"{tested} of {total} components"


def variance_change(without: float, with_baseline: float) -> str:
    """How the baseline changed the variance per episode: ``3.2x lower`` (or higher, where it
    raised it: p = 0.05). Where one is 0 there is no ratio (FrozenLake's 10 episodes at theta = 0
    reached the goal in none, so every estimate without the baseline was 0: a ZeroDivisionError
    traceback)."""
    if without == with_baseline == 0:
        return "both 0: every estimate was the same; use more episodes"
    if without == 0:
        return "raised from 0: every estimate without it was the same; use more episodes"
    if with_baseline == 0:
        return "lowered to 0"
    ratio = without / with_baseline
    return f"{ratio:.1f}x lower" if ratio >= 1 else f"{1 / ratio:.1f}x higher"


def plot_study(study: VarianceStudy, out_dir: str | Path) -> Path:
    """Write ``gradient_variance.png``: variance of the N-episode estimate against N; the running
    mean of the first gradient component against the number of episodes, with a 3 s.e. band,
    converging to the exact value; and, for ShortCorridor-v0, ``v(s_0)`` against ``p`` with its
    maximum marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 3 if study.prob_right is not None else 2
    figure, axes = plt.subplots(1, panels, figsize=(5 * panels, 4), constrained_layout=True)
    component = int(study.exact.reshape(-1).abs().argmax())
    episodes = torch.arange(1, study.num_episodes + 1, dtype=torch.float64)
    for name, rows in study.rows.items():
        axes[0].loglog([row.episodes for row in rows], [row.variance for row in rows], "o-", label=name)
        samples = study.estimates[name][:, component]
        running = samples.cumsum(0) / episodes
        band = 3 * samples.std() / episodes.sqrt()
        shown = slice(9, None)  # from 10 episodes on: the first few swing too widely to read
        (line,) = axes[1].plot(episodes[shown], running[shown], label=name)
        axes[1].fill_between(
            episodes[shown],
            (running - band)[shown],
            (running + band)[shown],
            color=line.get_color(),
            alpha=0.2,
        )
    axes[0].set(xlabel="episodes per estimate N", ylabel="trace Var of the N-episode estimate",
                title="REINFORCE variance falls as 1/N")  # fmt: skip
    axes[0].legend()
    exact = float(study.exact.reshape(-1)[component])
    axes[1].axhline(exact, color="black", linestyle="--", label=f"exact = {exact:.4g}")
    axes[1].set(xscale="log", xlabel="episodes", ylabel=f"mean estimate of grad J, component {component}",
                title="running mean +- 3 s.e. vs the exact gradient")  # fmt: skip
    axes[1].legend()
    if study.prob_right is not None:
        low, high = SHORT_CORRIDOR_P_RANGE  # the curve over every p the study takes, and its point in view
        p = torch.linspace(min(low, study.prob_right), max(high, study.prob_right), 361, dtype=torch.float64)
        axes[2].plot(p, short_corridor_start_value(p))
        best = f"max: p = {SHORT_CORRIDOR_BEST_P:.3f}, v = {SHORT_CORRIDOR_BEST_VALUE:.2f}"
        axes[2].plot([SHORT_CORRIDOR_BEST_P], [SHORT_CORRIDOR_BEST_VALUE], "r*", markersize=12, label=best)
        axes[2].plot([study.prob_right], [study.value], "ko", label=f"evaluated: p = {study.prob_right:.2f}")
        axes[2].set(ylim=(min(-45.0, study.value * 1.1), -10), xlabel="p = pi(right)", ylabel="v_pi(s0)",
                    title="ShortCorridor-v0: (2p - 4) / (p (1 - p))")  # fmt: skip
        axes[2].legend()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / FIGURE_NAME
    try:  # a Ctrl-C while saving leaves an earlier figure whole
        write_files_atomically([(path, lambda temporary: figure.savefig(temporary, dpi=120, format="png"))])
    finally:
        plt.close(figure)
    return path
