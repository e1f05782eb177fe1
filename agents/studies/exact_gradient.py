r"""The exact policy gradient ``grad J(theta) = grad v_pi(s_0)`` of a small tabular episodic MDP.

For an env that exposes its transition table ``P[s][a] = [(prob, next_state, reward,
terminated)]`` (Gymnasium's toy-text envs, ``ShortCorridor-v0``) everything REINFORCE estimates
by sampling can be computed in closed form, in float64:

* policy evaluation is a linear solve, ``(I - gamma P_pi) v = r_pi`` (:func:`state_values`);
* ``grad J`` follows either by autograd *through that solve* (:func:`exact_gradient_autograd`)
  or from the policy-gradient theorem (:func:`exact_gradient_pg_theorem`)::

      grad J = sum_s eta(s) sum_a pi(a|s) q_pi(s,a) grad log pi(a|s),
      eta(s) = sum_t gamma^t Pr(S_t = s)   (expected discounted visits from s_0)

The two share nothing but the policy's logits, so their agreement (to ~1e-12) checks both, and
the REINFORCE estimator's mean must converge to them (tests/test_exact_gradient.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor
from torch.func import grad

import envs  # noqa: F401  (registers ShortCorridor-v0)
from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy, SoftmaxPolicy
from agents.core.returns import check_gamma
from agents.errors import UserError
from agents.features.inputs import PolicyInputs
from agents.features.maps import OneHot


@dataclass
class TabularMDP:
    r"""An episodic MDP as tensors. Transitions flagged ``terminated`` add their reward and stop:
    they are left out of ``transitions``, so terminal states need no special row."""

    transitions: Tensor
    """``P[s, a, s']``: probability of moving to ``s'`` *and continuing*; ``[S, A, S]``."""
    rewards: Tensor
    """``r(s, a) = E[R_{t+1} | s, a]``; ``[S, A]``."""
    start: Tensor
    """``mu_0(s)``: start-state distribution; ``[S]``."""
    gamma: float
    """Discount; 1 is fine when every policy of interest ends episodes with probability 1."""

    @property
    def num_states(self) -> int:
        return self.transitions.shape[0]

    @property
    def num_actions(self) -> int:
        return self.transitions.shape[1]


def tabular_mdp(env: gym.Env, gamma: float = 1.0) -> TabularMDP:
    """Read ``env.unwrapped.P`` (and ``initial_state_distrib`` if present, else the reset state)
    into float64 tensors; :class:`UserError` when the env has no transition table."""
    unwrapped = env.unwrapped
    table = getattr(unwrapped, "P", None)
    if not isinstance(table, dict) or not isinstance(env.observation_space, gym.spaces.Discrete):
        raise UserError(
            f"{env.spec.id if env.spec else env} exposes no transition table P with Discrete "
            "observations; exact gradients need a tabular env (ShortCorridor-v0, FrozenLake-v1, ...)"
        )
    num_states, num_actions = int(env.observation_space.n), int(env.action_space.n)
    transitions = torch.zeros(num_states, num_actions, num_states, dtype=torch.float64)
    rewards = torch.zeros(num_states, num_actions, dtype=torch.float64)
    for state, by_action in table.items():
        for action, outcomes in by_action.items():
            for prob, next_state, reward, terminated in outcomes:
                rewards[state, action] += prob * reward
                if not terminated:
                    transitions[state, action, next_state] += prob
    start = getattr(unwrapped, "initial_state_distrib", None)
    if start is None:
        start = np.eye(num_states)[int(env.reset(seed=0)[0])]
    return TabularMDP(transitions, rewards, torch.as_tensor(start, dtype=torch.float64), gamma)


def _policy_matrix(mdp: TabularMDP, probs: Tensor) -> tuple[Tensor, Tensor]:
    """``P_pi[s, s'] = sum_a pi(a|s) P[s, a, s']`` and ``r_pi[s] = sum_a pi(a|s) r(s, a)``."""
    return torch.einsum("sa,sat->st", probs, mdp.transitions), (probs * mdp.rewards).sum(-1)


def state_values(mdp: TabularMDP, probs: Tensor) -> Tensor:
    r"""``v_pi`` from the Bellman equation ``v = r_pi + gamma P_pi v``, i.e. the linear system
    ``(I - gamma P_pi) v = r_pi``; ``probs`` is ``pi(a|s)`` ``[S, A]`` -> ``[S]``.

    Differentiable: autograd goes through ``torch.linalg.solve``
    (``dv = (I - gamma P_pi)^{-1} (dr_pi + gamma dP_pi v)``).
    """
    policy_transitions, policy_rewards = _policy_matrix(mdp, probs)
    eye = torch.eye(mdp.num_states, dtype=probs.dtype)
    return torch.linalg.solve(eye - mdp.gamma * policy_transitions, policy_rewards)


def action_values(mdp: TabularMDP, values: Tensor) -> Tensor:
    r"""``q_pi(s, a) = r(s, a) + gamma sum_s' P[s, a, s'] v_pi(s')``; ``[S, A]``."""
    return mdp.rewards + mdp.gamma * mdp.transitions @ values


def discounted_visits(mdp: TabularMDP, probs: Tensor) -> Tensor:
    r"""``eta(s) = sum_t gamma^t Pr(S_t = s)`` from ``S_0 ~ mu_0``: the row vector
    ``eta^T = mu_0^T (I - gamma P_pi)^{-1}``, solved as ``(I - gamma P_pi)^T eta = mu_0``; ``[S]``.
    (Sutton & Barto's on-policy distribution before normalisation, with the ``gamma^t`` kept.)"""
    policy_transitions, _ = _policy_matrix(mdp, probs)
    eye = torch.eye(mdp.num_states, dtype=probs.dtype)
    return torch.linalg.solve((eye - mdp.gamma * policy_transitions).mT, mdp.start)


def start_value(policy: SoftmaxPolicy, mdp: TabularMDP, state_inputs: Tensor, param: Tensor) -> Tensor:
    r"""``J(theta) = sum_s mu_0(s) v_pi(s)`` as a differentiable function of ``param``.

    :param state_inputs: the policy inputs of every state ``0..S-1`` (``[S, d]`` or
        ``[S, A, d]``, see :func:`tabular_problem`).
    """
    probs = torch.softmax(policy.logits_with(param, state_inputs), -1)
    return mdp.start @ state_values(mdp, probs)


def exact_gradient_autograd(policy: SoftmaxPolicy, mdp: TabularMDP, state_inputs: Tensor) -> Tensor:
    """``grad J(theta)`` by ``torch.func.grad`` of :func:`start_value`; shaped like the parameter."""
    return grad(lambda param: start_value(policy, mdp, state_inputs, param))(policy.param.detach())


@torch.no_grad()
def exact_gradient_pg_theorem(policy: SoftmaxPolicy, mdp: TabularMDP, state_inputs: Tensor) -> Tensor:
    r"""``grad J = sum_{s,a} eta(s) pi(a|s) q_pi(s,a) grad log pi(a|s)`` (policy-gradient theorem,
    S&B eq. 13.5 with ``gamma^t`` kept in ``eta``), the scores from the closed-form
    :meth:`~agents.core.policies.LinearSoftmaxPolicy.score`; shaped like the parameter."""
    probs = policy.probs(state_inputs)  # pi(a|s)                         [S, A]
    weights = discounted_visits(mdp, probs)[:, None] * probs * action_values(mdp, state_values(mdp, probs))
    actions = torch.arange(mdp.num_actions).repeat(mdp.num_states)  # every (s, a) pair, s-major
    inputs = state_inputs.repeat_interleave(mdp.num_actions, dim=0)
    return policy.policy_gradient(inputs, actions, weights.reshape(-1))


@dataclass
class TabularProblem:
    """An env with its MDP tables and a float64 policy reading the inputs the trainer would."""

    env: gym.Env
    mdp: TabularMDP
    inputs: PolicyInputs
    """Observations -> policy inputs (one-hot ``x(s)``, or the env's ``phi(s, .)``)."""
    policy: SoftmaxPolicy
    state_inputs: Tensor
    """``inputs(0..S-1)`` as a float64 tensor."""


TABULAR_FORMS = ("state", "action")
"""The forms :func:`tabular_problem` builds: one-hot ``x(s)`` with ``W[S, A]``, or the env's ``phi``."""


def tabular_problem(
    env_id: str, form: str, gamma: float = 1.0, env_kwargs: dict[str, Any] | None = None
) -> TabularProblem:
    """``ShortCorridor-v0`` with ``form="action"`` (the env's phi), ``FrozenLake-v1`` with
    ``form="state"`` (one-hot x(s), W[S, A]), ...: a zero-initialised (uniform) float64 policy.
    Another form (``"mlp"`` built the action form, which then failed in einsum) or a gamma outside
    ``[0, 1]`` (1.5 gave FrozenLake a start value above the most an episode earns) is refused."""
    if form not in TABULAR_FORMS:
        forms = " or ".join(TABULAR_FORMS)
        raise UserError(f"form={form!r}: the exact gradient takes the linear forms, {forms}")
    check_gamma(gamma)
    env = gym.make(env_id, **(env_kwargs or {}))
    mdp = tabular_mdp(env, gamma)
    action_features = getattr(env.unwrapped, "action_features", None)
    if form == "action" and action_features is None:
        raise UserError(f"agent.policy=action needs env {env_id} to supply action_features(obs)")
    inputs = PolicyInputs(OneHot(mdp.num_states), form, mdp.num_actions, action_features)
    policy: SoftmaxPolicy
    if form == "state":
        policy = LinearSoftmaxPolicy(inputs.dim, mdp.num_actions, dtype=torch.float64)
    else:
        policy = ActionFeatureSoftmaxPolicy(inputs.dim, dtype=torch.float64)
    state_inputs = torch.from_numpy(inputs(np.arange(mdp.num_states)))
    return TabularProblem(env, mdp, inputs, policy, state_inputs)


def short_corridor_start_value(p: Tensor | float) -> Tensor | float:
    r"""Closed form ``v_pi(s_0) = (2p - 4) / (p (1 - p))`` of ``ShortCorridor-v0`` with
    ``gamma = 1`` and ``p = pi(right)`` in (0, 1) (derivation in docs/math.md)."""
    return (2 * p - 4) / (p * (1 - p))


SHORT_CORRIDOR_BEST_P = 2 - math.sqrt(2)
"""``argmax_p v(s_0) = 2 - sqrt(2) ~ 0.5858``."""
SHORT_CORRIDOR_BEST_VALUE = -(6 + 4 * math.sqrt(2))
"""``max_p v(s_0) = -(6 + 4 sqrt(2)) ~ -11.657``."""
