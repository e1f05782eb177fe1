r"""Action sampling in the hot path: one numpy call per vector step, for one run or N seeds.

A torch call costs microseconds of dispatch whatever its size; for a small policy that dominates
the env step (measured: a per-step torch loop reaches 0.15x of raw CartPole speed, the same math
in numpy 0.54x). So acting reads the policy parameters through a numpy view that shares their
memory (CPU) or a host copy refreshed after each update (CUDA), computes the logits with the
form's :meth:`~agents.core.policy.SoftmaxPolicy.acting_logits`, and samples with the Gumbel-max
trick, exact for a softmax and free of exponentials::

    A = argmax_a (h(s, a) + g_a),   g_a ~ Gumbel(0, 1) i.i.d.   =>   P(A = a) = softmax(h)_a

:class:`Actor` does this for ``N`` runs side by side (``N = 1`` for a single run): parameters
``[N, *param]``, inputs ``[N, B, ...]``, one noise array ``[N, rows, B, A]`` in which run ``n``'s
slice is drawn from run ``n``'s own generator, a block of steps at a time (numpy draws a block's
values in the same order as separate calls would, so the actions do not depend on the block
size). :class:`SeedActor` is one run's handle on it: what a trainer acts and checkpoints with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

from agents.core.policy import SoftmaxPolicy

NOISE_BLOCK_VALUES = 4096
"""Gumbel values drawn per generator call (at least one step's worth)."""


def fill_gumbel(rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
    r"""Fill ``out`` (C-contiguous float64) with the values ``rng.gumbel(size=out.shape)`` draws,
    3x faster: one ``random`` call and two vectorised logs instead of a C loop of two ``log`` calls.

    numpy's ``gumbel`` takes the next double ``r`` of the generator for each value and returns
    ``-log(-log(U))`` with ``U = 1 - r`` (exact in float64), drawing again when ``U = 1`` (``r = 0``);
    here the same doubles give the same ``U``, and a zero is dropped and the rest moved up, as that
    redraw does. numpy's vectorised ``log`` may round the last bit differently from the C
    library's (0.4% of values differ, by at most 1e-15 here): an action changes only when two
    noisy logits tie to that precision.
    """
    flat = out.reshape(-1)  # a view: out is contiguous
    rng.random(out=flat)
    while True:
        zeros = np.flatnonzero(flat == 0.0)  # probability 2^-53 per value
        if not zeros.size:
            break
        kept = np.delete(flat, zeros)
        flat[: kept.size] = kept
        rng.random(out=flat[kept.size :])
    np.subtract(1.0, flat, out=flat)  # U = 1 - r
    np.log(flat, out=flat)
    np.negative(flat, out=flat)  # -log U ~ Exp(1)
    np.log(flat, out=flat)
    return np.negative(flat, out=flat)  # g = -log(-log U) ~ Gumbel(0, 1)


def noise_block_rows(shape: tuple[int, ...]) -> int:
    """Steps of noise drawn per generator call for actions of ``shape``."""
    return max(1, NOISE_BLOCK_VALUES // max(1, int(np.prod(shape))))


class Actor:
    """Samples ``A ~ pi(.|s)`` for ``N`` runs of one policy form, each with its own generator.

    :param policy: any of the runs' policies (it supplies the form's ``acting_logits``).
    :param params: ``[N, *param.shape]`` parameters, read through a numpy view (never copied on CPU).
    :param rngs: one generator per run, for its Gumbel noise.
    """

    def __init__(self, policy: SoftmaxPolicy, params: Tensor, rngs: Sequence[np.random.Generator]) -> None:
        if params.shape[0] != len(rngs):
            raise ValueError(f"{params.shape[0]} parameter rows but {len(rngs)} generators")
        self.policy, self.params_tensor, self.rngs = policy, params, list(rngs)
        self.noise = np.zeros((len(self.rngs), 0, 0))
        self.cursor = 0
        """Next row of :attr:`noise` (the runs that act step in lockstep, so one counter serves them)."""
        self.used = np.zeros(len(self.rngs), dtype=np.int64)
        """Rows of :attr:`noise` each run has used (a run that stopped keeps its own count)."""
        self.refresh()

    @classmethod
    def for_policy(cls, policy: SoftmaxPolicy, rng: np.random.Generator) -> SeedActor:
        """One run's actor: its own parameter, its own generator."""
        return SeedActor(cls(policy, policy.param.detach()[None], [rng]), 0)

    def refresh(self) -> None:
        """Re-read the parameters (needed only when they live on an accelerator)."""
        self.params = self.params_tensor.detach().cpu().numpy()
        self.first_params = self.params[0]  # a view: the single-run fast path reads it every step

    def sample_first(self, inputs: np.ndarray) -> np.ndarray:
        """:meth:`__call__` for an actor of one run on ``[B, ...]`` inputs -> ``[B]``: the same
        numbers without the leading run axis (a 2-D matmul is 2x faster than the batched one)."""
        logits = self.policy.acting_logits(self.first_params, inputs)  # h(s, .)   [B, A]
        row = self.cursor
        if row == self.noise.shape[1] or logits.shape != self.noise.shape[2:]:
            return (logits + self._next_noise(logits.shape, None)[0]).argmax(-1)
        self.cursor = row + 1  # the runs' used count is read from the cursor (state_dict)
        return (logits + self.noise[0, row]).argmax(-1)

    def __call__(self, inputs: np.ndarray, runs: Sequence[int] | None = None) -> np.ndarray:
        """Sampled actions ``[n, B]`` (int64) for ``inputs`` ``[n, B, ...]`` of ``runs`` (None: all)."""
        logits = self.logits(inputs, runs)  # h(s, .)   [n, B, A]
        return np.argmax(logits + self._next_noise(logits.shape[1:], runs), axis=-1)

    def logits(self, inputs: np.ndarray, runs: Sequence[int] | None = None) -> np.ndarray:
        """``[n, B, A]`` preferences of ``runs`` (None: all) in numpy."""
        params = self.params if runs is None else self.params[runs]
        return self.policy.acting_logits(params, inputs)

    def _next_noise(self, shape: tuple[int, ...], runs: Sequence[int] | None) -> np.ndarray:
        """The next ``[n, *shape]`` Gumbel values; each run draws its next block from its own
        generator when the block is used up (only the runs that act draw)."""
        if self.cursor == self.noise.shape[1] or shape != self.noise.shape[2:]:
            rows = noise_block_rows(shape)
            if self.noise.shape[1:] != (rows, *shape):  # first use, a new shape, or after a resume
                self.noise = np.empty((len(self.rngs), rows, *shape))
            for run in range(len(self.rngs)) if runs is None else runs:
                fill_gumbel(self.rngs[run], self.noise[run])
            self.cursor = 0
        row = self.cursor
        self.cursor += 1
        if runs is None:
            self.used.fill(self.cursor)
            return self.noise[:, row]
        self.used[runs] = self.cursor
        return self.noise[runs, row]

    def state_dict(self, run: int) -> dict[str, Any]:
        """Run ``run``'s generator and unused noise (so a resumed run samples the same actions)."""
        return {
            "rng": self.rngs[run].bit_generator.state,
            "unused_noise": self.noise[run, self.cursor if len(self.rngs) == 1 else self.used[run] :].copy(),
        }

    def load_state_dict(self, run: int, state: dict[str, Any]) -> None:
        """Restore run ``run``'s generator and unused noise (all runs continue from row 0)."""
        self.rngs[run].bit_generator.state = state["rng"]
        unused = np.asarray(state["unused_noise"])
        if len(self.rngs) == 1 or unused.shape[1:] != self.noise.shape[2:]:
            self.noise = np.zeros((len(self.rngs), *unused.shape))
        self.noise[run, : len(unused)] = unused
        self.cursor = 0
        self.used[:] = 0


class SeedActor:
    """One run's view of an :class:`Actor`: acts on ``[B, ...]`` inputs and checkpoints that run only.

    :param actor: the actor of all runs.
    :param run: this run's row.
    """

    def __init__(self, actor: Actor, run: int) -> None:
        self.actor, self.run = actor, run
        self.runs = [run]
        self.single = len(actor.rngs) == 1

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """Sampled actions ``[B]`` (int64)."""
        if self.single:
            return self.actor.sample_first(inputs)
        return self.actor(inputs[None], self.runs)[0]

    def give_back(self) -> None:
        """Return the noise this run drew for its last step (the env step failed, or, with other
        runs, it was not taken): its saved state is then the one before that step, and a resumed
        run draws the same noise for the step it takes there. The rows stay in the block, or,
        when that call drew a new block, the generator is past it and the whole block is unused:
        the same actions either way. With other runs only this run's count moves (the others
        took the step)."""
        if self.single:
            self.actor.cursor = max(0, self.actor.cursor - 1)
        else:
            self.actor.used[self.run] = max(0, self.actor.used[self.run] - 1)

    def logits(self, inputs: np.ndarray) -> np.ndarray:
        """This run's preferences ``h(s, .)`` for ``[B, ...]`` inputs; ``[B, A]`` (their argmax: the
        greedy actions)."""
        return self.actor.logits(inputs[None], None if len(self.actor.rngs) == 1 else self.runs)[0]

    @property
    def param(self) -> np.ndarray:
        """This run's parameter as the actor reads it (numpy)."""
        return self.actor.params[self.run]

    @property
    def rng(self) -> np.random.Generator:
        """This run's generator."""
        return self.actor.rngs[self.run]

    def refresh(self) -> None:
        """Re-read the parameters (after an update on an accelerator)."""
        self.actor.refresh()

    def state_dict(self) -> dict[str, Any]:
        return self.actor.state_dict(self.run)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(self.run, state)
