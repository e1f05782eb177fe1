r"""Sutton & Barto (2nd ed.) Figures 13.1 and 13.2: REINFORCE on the short corridor, 100 runs at once.

The book's setup (Example 13.1, p. 323; figures on pp. 328 and 330):

* reward -1 on every step, the last one included, ``gamma = 1``: the return is minus the length;
* action features ``phi(s, right) = [1, 0]``, ``phi(s, left) = [0, 1]`` in every state (the env's
  own ``action_features``) and the policy :class:`~agents.core.policies.ActionFeatureSoftmaxPolicy`, so
  ``pi(right) = sigmoid(theta_0 - theta_1)``;
* ``theta_0 = [ln(0.05 / 0.95), 0]``: ``pi(right) = 0.05`` and the first episodes score about
  ``v = (2p - 4) / (p (1 - p)) = -82``;
* the per-step rule of the pseudocode: generate an episode with the current ``theta``; then, for
  ``t = 0 .. T-1``, with ``G_t`` from :func:`agents.core.returns.discounted_returns` and the score at
  the *current* ``theta`` (changed by the steps before ``t``)::

      delta   = G_t - v(S_t, w)                     v(s, w) = w x(s), x(s) = 1   (Fig. 13.2)
      w      <- w + alpha_w delta x(S_t)
      theta  <- theta + alpha_theta gamma^t delta grad log pi(A_t|S_t, theta)

  Without a baseline ``alpha_w = 0`` and ``w`` stays 0, so ``delta = G_t``: plain REINFORCE. The
  theta step is :func:`agents.core.reinforce.reinforce_gradient` (``M = 1``, one term) mapped over the
  runs with ``torch.func.vmap`` around the policy's own ``score_with``.

Runs are batched: every run of every curve is one row of ``theta [N, 2]``. A run's episodes do
not wait for the others: each run walks through its own episode one update step per iteration and
a new episode is generated (in numpy, from the env's transition table ``P``) as soon as it has
finished its last one, so the number of iterations is about the longest run's total step count,
not the sum over episodes of the longest episode.

An episode that has not ended after :data:`EPISODE_CAP` steps is cut there (its return is then
``-EPISODE_CAP``): a few dozen of a curve's 100,000 episodes, nearly all early on (the count is
printed). Without the cap some runs run away (see :data:`EPISODE_CAP`).
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.func import vmap

from agents.core.policies import ActionFeatureSoftmaxPolicy
from agents.core.reinforce import reinforce_gradient
from agents.core.returns import discounted_returns
from agents.runtime.checkpoint import write_files_atomically
from agents.runtime.sizes import refuse_over_limit
from envs.short_corridor import RIGHT, START, ShortCorridorEnv

OPTIMAL_VALUE = -(6 + 4 * math.sqrt(2))
"""``v* = -(6 + 4 sqrt 2) ~ -11.657``, reached at ``pi(right) = p* = 2 - sqrt 2``."""
INITIAL_PROB_RIGHT = 0.05
"""The figures' starting policy."""
EPISODE_CAP = 300
"""Steps after which an episode is cut (its return is then -300). Without a cap a few runs at the
largest step size run away: a long episode's large ``|G_t|`` times the score of a rare ``right``
pushes ``pi(right)`` towards 0, where episodes get longer still and the run never comes back. With
alpha = 2^-12 and 100 runs, caps of 400, 600 and 1000 steps left 1-2, 2-4 and 5-6 runs stuck at
the cap for good (a numpy re-implementation of this rule, 2-3 seeds each); 300 left none. At the
start, ``pi(right) = 0.05``, an episode outlasts 300 steps with probability 1.6%; at ``p*``, 1e-14."""
GENERATE_EVERY = 8
"""Runs that have finished their episode wait up to this many update steps so that new episodes
are generated for many runs in one numpy call (waiting changes nothing: no run's theta moves)."""
GAMMA = 1.0
"""The figures are undiscounted."""
OUTPUT_NAMES = ("figure_13_1.png", "figure_13_2.png", "curves.csv")
"""The files :func:`reproduce` writes into its folder, in this order."""


@dataclass(frozen=True)
class Curve:
    """One line of a figure: REINFORCE with step size ``alpha_theta``, with a baseline when
    ``alpha_w > 0``."""

    label: str
    alpha_theta: float
    alpha_w: float = 0.0


FIGURE_13_1 = (
    Curve("alpha=2^-12", 2**-12),
    Curve("alpha=2^-13", 2**-13),
    Curve("alpha=2^-14", 2**-14),
)
FIGURE_13_2 = (
    Curve("with baseline alpha_theta=2^-9 alpha_w=2^-6", 2**-9, 2**-6),
    Curve("alpha=2^-13", 2**-13),
)


@dataclass
class Tables:
    """A deterministic tabular MDP as arrays indexed ``[state, action]``."""

    next_state: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray


def transition_tables(transitions: dict[int, dict[int, list[tuple[float, int, float, bool]]]]) -> Tables:
    """Gymnasium's ``P[s][a] = [(prob, next_state, reward, terminated)]`` -> :class:`Tables`.

    :raises ValueError: if a transition is stochastic (the vectorised step assumes one outcome).
    """
    shape = (len(transitions), len(transitions[0]))
    tables = Tables(np.zeros(shape, np.int64), np.zeros(shape), np.zeros(shape, bool))
    for state, row in transitions.items():
        for action, outcomes in row.items():
            if len(outcomes) != 1 or outcomes[0][0] != 1.0:
                raise ValueError(
                    f"P[{state}][{action}] is {outcomes}; expected one outcome with probability 1"
                )
            _, next_state, reward, terminal = outcomes[0]
            tables.next_state[state, action], tables.reward[state, action] = next_state, reward
            tables.terminal[state, action] = terminal
    return tables


@dataclass
class Episodes:
    """Episodes of several runs, zero-padded to the longest: ``[n, T]`` each."""

    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    """True on each episode's last step (the terminal one, or the cap)."""
    lengths: np.ndarray
    """``[n]`` steps per episode."""
    truncated: np.ndarray
    """``[n]`` True where the episode was cut at the cap."""


def generate_episodes(
    tables: Tables, probs: np.ndarray, rng: np.random.Generator, cap: int = EPISODE_CAP
) -> Episodes:
    """One episode per row of ``probs [n, A]`` (a fixed, state-independent policy per run, as in
    the short corridor), all started in :data:`START` and stepped together until each ends or
    reaches ``cap`` steps."""
    count = probs.shape[0]
    cdf = probs.cumsum(1)
    state = np.full(count, START)
    alive = np.ones(count, bool)
    actions, rewards, dones = [], [], []
    for _ in range(cap):
        action = np.minimum((cdf < rng.random((count, 1)) * cdf[:, -1:]).sum(1), probs.shape[1] - 1)
        ended = alive & tables.terminal[state, action]
        actions.append(np.where(alive, action, 0))
        rewards.append(np.where(alive, tables.reward[state, action], 0.0))
        dones.append(ended)
        state, alive = tables.next_state[state, action], alive & ~ended
        if not alive.any():
            break
    dones[-1] = dones[-1] | alive  # cut the runaway episodes at the cap
    done = np.stack(dones, 1)
    return Episodes(np.stack(actions, 1), np.stack(rewards, 1), done, done.argmax(1) + 1, alive)


@dataclass
class CurveResult:
    """The total reward of every episode of every run of one curve."""

    curve: Curve
    returns: np.ndarray
    """``[runs, episodes]`` undiscounted returns."""
    truncated: int
    """Episodes cut at :data:`EPISODE_CAP`."""

    def mean(self) -> np.ndarray:
        """Mean return over runs per episode, ``[episodes]``."""
        return self.returns.mean(0)

    def standard_error(self) -> np.ndarray:
        """``std over runs / sqrt(runs)`` per episode (nan for a single run: one run has no spread,
        and 0 would claim an exact mean)."""
        runs = self.returns.shape[0]
        return (
            self.returns.std(0, ddof=1) / math.sqrt(runs)
            if runs > 1
            else np.full(self.returns.shape[1], np.nan)
        )

    def final(self, last: int = 100) -> tuple[float, float]:
        """Mean over runs of each run's mean return over its ``last`` episodes, and its standard
        error (nan for a single run)."""
        per_run = self.returns[:, -last:].mean(1)
        error = per_run.std(ddof=1) / math.sqrt(per_run.size) if per_run.size > 1 else math.nan
        return float(per_run.mean()), float(error)


def per_step_update(
    policy: ActionFeatureSoftmaxPolicy,
    theta: Tensor,
    weight: Tensor,
    features: Tensor,
    actions: Tensor,
    returns: Tensor,
    discounts: Tensor,
    alpha_theta: Tensor,
    alpha_w: Tensor,
) -> tuple[Tensor, Tensor]:
    r"""One textbook step for every run ``r`` (S&B p. 330, with ``x(s) = 1``)::

        delta = G_t - w;  w <- w + alpha_w delta;  theta <- theta + alpha_theta gamma^t delta score

    :param theta: ``[N, d]`` policy parameters; ``weight``: ``[N]`` baseline weights ``w``.
    :param features: ``phi(S_t, .)`` ``[N, A, d]``; ``actions``: ``A_t`` ``[N]`` int64.
    :param returns: ``G_t`` ``[N]``; ``discounts``: ``gamma^t`` ``[N]``.
    :param alpha_theta: ``[N]`` step sizes (0 freezes a run); ``alpha_w``: ``[N]`` (0 = no baseline).
    :return: the new ``(theta, weight)``.
    """
    delta = returns - weight  # G_t - v(S_t, w)                          [N]
    weight = weight + alpha_w * delta  # w += alpha_w delta grad v, grad v = x(s) = 1
    gradient = _run_gradients(policy)(
        theta, features[:, None], actions[:, None], delta[:, None], discounts[:, None]
    )
    return theta + alpha_theta[:, None] * gradient, weight  # ascent: theta += alpha g


def _run_gradients(policy: ActionFeatureSoftmaxPolicy) -> Callable[..., Tensor]:
    """``reinforce_gradient`` of one run, mapped over the leading (run) axis of every argument."""

    def one_run(
        theta: Tensor, inputs: Tensor, actions: Tensor, advantages: Tensor, weights: Tensor
    ) -> Tensor:
        return reinforce_gradient(
            partial(policy.policy_gradient_with, theta), inputs, actions, advantages, weights, 1
        )

    return vmap(one_run)


def run_curves(
    curves: Sequence[Curve], runs: int = 100, episodes: int = 1000, seed: int = 0, cap: int = EPISODE_CAP
) -> list[CurveResult]:
    """``runs`` independent runs of ``episodes`` episodes for every curve, all stepped together.

    Runs torch on one thread (restored afterwards): the tensors hold a few hundred numbers, and
    fanning each op out to threads costs ten times more than it saves on a busy machine.

    :return: one :class:`CurveResult` per curve, in order.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_curves(curves, runs, episodes, seed, cap)
    finally:
        torch.set_num_threads(threads)


def _run_curves(curves: Sequence[Curve], runs: int, episodes: int, seed: int, cap: int) -> list[CurveResult]:
    env = ShortCorridorEnv()
    tables = transition_tables(env.P)
    phi = torch.from_numpy(env.action_features(np.zeros(1, np.int64))[0])  # [A, d], the same in every state
    if not (phi[RIGHT] == torch.tensor([1.0, 0.0], dtype=phi.dtype)).all():
        raise ValueError(
            f"expected phi(s, right) = [1, 0] (the initial theta relies on it), got {phi[RIGHT]}"
        )
    policy = ActionFeatureSoftmaxPolicy(phi.shape[1], dtype=torch.float64)
    probs = vmap(policy.probs_with, in_dims=(0, None))  # pi(.|s) of every run
    rng = np.random.default_rng(seed)
    total = len(curves) * runs
    alpha_theta = torch.tensor([c.alpha_theta for c in curves for _ in range(runs)], dtype=torch.float64)
    alpha_w = torch.tensor([c.alpha_w for c in curves for _ in range(runs)], dtype=torch.float64)
    theta = torch.zeros(total, phi.shape[1], dtype=torch.float64)
    theta[:, 0] = math.log(INITIAL_PROB_RIGHT / (1 - INITIAL_PROB_RIGHT))  # pi(right) = 0.05
    weight = torch.zeros(total, dtype=torch.float64)  # baseline v(s, w) = w
    features = phi.expand(total, *phi.shape)
    discounts = GAMMA ** torch.arange(cap + 1, dtype=torch.float64)  # gamma^t

    # Each run's current episode, padded to the cap (+ 1: a finished run reads one past its end).
    actions = torch.zeros(total, cap + 1, dtype=torch.long)
    returns = torch.zeros(total, cap + 1, dtype=torch.float64)
    lengths = torch.zeros(total, dtype=torch.long)
    position = torch.zeros(total, dtype=torch.long)  # t within it
    episode = np.zeros(total, np.int64)  # its index
    waiting = np.ones(total, bool)  # finished its episode; the next one is not generated yet
    complete = np.zeros(total, bool)  # all episodes done
    returns_log = np.zeros((total, episodes))
    truncated = np.zeros(total, np.int64)
    rows = torch.arange(total)

    for iteration in itertools.count():
        if waiting.any() and (iteration % GENERATE_EVERY == 0 or (waiting | complete).all()):
            new = np.flatnonzero(waiting)  # fresh episodes at the current theta
            batch = generate_episodes(tables, probs(theta[new], phi[None])[:, 0].numpy(), rng, cap)
            width = batch.actions.shape[1]
            actions[new, :width] = torch.from_numpy(batch.actions)
            rewards, dones = torch.from_numpy(batch.rewards), torch.from_numpy(batch.dones)
            returns[new, :width] = discounted_returns(rewards, GAMMA, dones)  # G_t
            lengths[new], position[new] = torch.from_numpy(batch.lengths), 0
            returns_log[new, episode[new]] = batch.rewards.sum(1)
            truncated[new] += batch.truncated
            waiting[new] = False
        stepping = ~(waiting | complete)
        if not stepping.any():
            break
        mask = torch.from_numpy(stepping.astype(np.float64))  # runs that take a step now
        theta, weight = per_step_update(
            policy, theta, weight, features, actions[rows, position],
            returns[rows, position], discounts[position], alpha_theta * mask, alpha_w * mask,
        )  # fmt: skip
        position += mask.long()
        finished = ((position == lengths).numpy()) & stepping
        episode += finished
        complete |= finished & (episode >= episodes)
        waiting |= finished & ~complete

    shaped = returns_log.reshape(len(curves), runs, episodes)
    per_curve = truncated.reshape(len(curves), runs).sum(1)
    return [CurveResult(c, shaped[i], int(per_curve[i])) for i, c in enumerate(curves)]


def unique_curves(*figures: Sequence[Curve]) -> list[Curve]:
    """The curves of several figures, each once (the alpha = 2^-13 line is in both)."""
    return list(dict.fromkeys(curve for figure in figures for curve in figure))


def write_csv(results: Sequence[CurveResult], path: Path) -> None:
    """Columns ``config, episode, mean_return, standard_error``; episodes count from 1."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["config", "episode", "mean_return", "standard_error"])
        for result in results:
            for index, (mean, error) in enumerate(zip(result.mean(), result.standard_error(), strict=True)):
                writer.writerow([result.curve.label, index + 1, f"{mean:.4f}", f"{error:.4f}"])


def plot_figure(results: Sequence[CurveResult], title: str, path: Path) -> None:
    """Mean return per episode for each curve, with the optimum ``v*`` as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.0), dpi=90)
    for result in results:
        axes.plot(
            np.arange(1, result.returns.shape[1] + 1), result.mean(), linewidth=1.0, label=result.curve.label
        )
    axes.axhline(
        OPTIMAL_VALUE, color="grey", linestyle="--", linewidth=1.0, label=f"v*(s0) = {OPTIMAL_VALUE:.2f}"
    )
    axes.set(
        xlabel="Episode", ylabel=f"Total reward on episode\n(mean of {results[0].returns.shape[0]} runs)"
    )
    axes.set_ylim(-90, -10)
    axes.set_title(title)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, format="png")  # path may be a temporary name
    plt.close(figure)


@dataclass
class Reproduction:
    """What :func:`reproduce` made."""

    figure_13_1: list[CurveResult]
    figure_13_2: list[CurveResult]
    files: list[Path]


def format_finals(made: Reproduction, last: int = 100) -> str:
    """Each figure's curves: the mean return of the last ``last`` episodes over the runs, +- its
    standard error (none for a single run), and the episodes cut at :data:`EPISODE_CAP`."""
    runs = made.figure_13_1[0].returns.shape[0]
    lines = []
    for name, results in (("Figure 13.1", made.figure_13_1), ("Figure 13.2", made.figure_13_2)):
        lines.append(
            f"{name}: mean return of the last {last} episodes, {runs} run{'s' if runs > 1 else ''} "
            f"(v* = {OPTIMAL_VALUE:.3f})"
        )
        for result in results:
            mean, error = result.final(last)
            spread = f"+- {error:.3f}" if runs > 1 else "(1 run: no standard error)"
            count = result.truncated
            cut = f"  ({count} episode{'s' if count > 1 else ''} cut at the cap)" if count else ""
            lines.append(f"  {result.curve.label:<45} {mean:8.3f} {spread}{cut}")
    return "\n".join(lines)


def check_memory(runs: int, episodes: int) -> None:
    """Refuse, before anything runs (and before the command creates its folder), ``runs x
    episodes`` whose arrays would not fit in half this machine's memory: each run of each curve
    keeps an episode's actions and returns (``EPISODE_CAP`` steps) and its return per episode,
    twice over for the means and errors."""
    num_curves = len(unique_curves(FIGURE_13_1, FIGURE_13_2))
    book = "(the book's figures average 100 runs of 1000 episodes)"
    parts = {  # the largest names the key to lower: episodes=10**9 blamed runs
        "the runs' current episodes": (num_curves * runs * 16 * (EPISODE_CAP + 1), f"runs {book}"),
        "the returns of every episode": (num_curves * runs * 3 * 8 * episodes, f"episodes or runs {book}"),
    }
    refuse_over_limit(parts, f"runs={runs} x episodes={episodes} for {num_curves} curves")


def reproduce(out_dir: Path, runs: int = 100, episodes: int = 1000, seed: int = 0) -> Reproduction:
    """Run both figures' curves (shared ones once), save ``figure_13_1.png``, ``figure_13_2.png``
    and ``curves.csv`` into ``out_dir``, the three replacing an earlier set together
    (:func:`~agents.runtime.checkpoint.write_files_atomically`)."""
    curves = unique_curves(FIGURE_13_1, FIGURE_13_2)
    check_memory(runs, episodes)
    by_curve = dict(zip(curves, run_curves(curves, runs, episodes, seed), strict=True))
    figure_13_1 = [by_curve[curve] for curve in FIGURE_13_1]
    figure_13_2 = [by_curve[curve] for curve in FIGURE_13_2]
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / name for name in OUTPUT_NAMES]
    write_files_atomically(  # a Ctrl-C while plotting leaves the folder's earlier set whole
        [
            (files[0], partial(plot_figure, figure_13_1, "Figure 13.1: REINFORCE on the short corridor")),
            (files[1], partial(plot_figure, figure_13_2, "Figure 13.2: REINFORCE with baseline")),
            (files[2], partial(write_csv, list(by_curve.values()))),
        ]
    )
    return Reproduction(figure_13_1, figure_13_2, files)
