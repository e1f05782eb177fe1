"""From a validated config to the objects a run needs: policy inputs, policy, optimizer, baseline,
update rule. The one place that reads ``agent.*`` names; the core gets objects, never strings.

Shared by the trainer, the evaluation, ``scripts/compare_gradients.py`` and the studies, so that
all of them build exactly the same agent from the same config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from agents.core.baselines import make_baseline
from agents.core.policies import SoftmaxPolicy, make_policy, policy_class
from agents.core.reinforce import Reinforce
from agents.errors import UserError
from agents.features.inputs import PolicyInputs
from agents.features.maps import make_feature_map
from envs.make import EnvInfo

DTYPES = {"float32": torch.float32, "float64": torch.float64}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}
"""``agent.optimizer`` -> torch optimizer class (``sgd`` is the textbook ``theta += alpha g``)."""


def resolve_device(name: str) -> torch.device:
    """``cpu``, ``cuda`` or ``cuda:<index>``; a missing GPU is a one-line :class:`UserError`."""
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise UserError(f"device={name} but torch sees no CUDA GPU on this machine (use device=cpu)")
        if (device.index or 0) >= count:
            raise UserError(f"device={name} but torch sees {count} CUDA GPU(s): cuda:0..cuda:{count - 1}")
    return device


@dataclass
class AgentParts:
    """Everything that maps observations to actions and learns."""

    inputs: PolicyInputs
    policy: SoftmaxPolicy
    learner: Reinforce


def build_policy_inputs(cfg: Any, info: EnvInfo) -> PolicyInputs:
    """The feature map ``x(s)`` and what the policy form reads (``x`` or ``phi``)."""
    feature_map = make_feature_map(cfg.features, info.observation_space)
    form = policy_class(cfg.agent.policy).input_form
    return PolicyInputs(feature_map, form, info.n_actions, info.action_features, info.observation_space)


def build_policy(
    agent: Any, inputs: PolicyInputs, n_actions: int, device: torch.device | str = "cpu"
) -> SoftmaxPolicy:
    """The form named by ``agent.policy`` for these inputs, in ``agent.dtype`` on ``device``."""
    return make_policy(agent.policy, inputs.dim, n_actions, agent, DTYPES[agent.dtype]).to(device)


def build_learner(policy: SoftmaxPolicy, agent: Any, state_dim: int) -> Reinforce:
    """:class:`Reinforce` with the optimizer, baseline and gradient path ``agent`` names."""
    param = policy.param
    return Reinforce(
        policy,
        optimizer=OPTIMIZERS[agent.optimizer]([param], lr=agent.lr),
        baseline=make_baseline(agent.baseline, state_dim, agent, param.dtype, param.device),
        gamma=agent.gamma,
        normalize_returns=agent.normalize_returns,
        discount_weighting=agent.discount_weighting,
        per_step_updates=agent.per_step_updates,
        entropy_coef=agent.entropy_coef,
        max_grad_norm=agent.max_grad_norm,
        gradient_fn=policy.autograd_policy_gradient if agent.score == "autograd" else policy.policy_gradient,
    )


def build_agent(cfg: Any, info: EnvInfo, device: torch.device | str = "cpu") -> AgentParts:
    """Policy inputs, policy (``agent.policy``) and REINFORCE learner for ``info``'s env."""
    inputs = build_policy_inputs(cfg, info)
    policy = build_policy(cfg.agent, inputs, info.n_actions, device)
    return AgentParts(inputs, policy, build_learner(policy, cfg.agent, inputs.feature_map.dim))
