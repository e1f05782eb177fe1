"""From a validated config to the objects a run needs: features, policy, update rule.

Shared by the trainer, ``scripts/compare_gradients.py`` and ``scripts/evaluate.py`` so that all
three build exactly the same agent from the same config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy, SoftmaxPolicy
from agents.core.reinforce import Reinforce
from agents.errors import UserError
from agents.features.maps import PolicyInputs, make_feature_map
from envs.make import EnvInfo

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_device(name: str) -> torch.device:
    """``cpu`` or ``cuda``; a missing GPU is a one-line :class:`UserError`."""
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("device=cuda but torch sees no CUDA GPU on this machine (use device=cpu)")
    return torch.device(name)


@dataclass
class AgentParts:
    """Everything that maps observations to actions and learns."""

    inputs: PolicyInputs
    policy: SoftmaxPolicy
    learner: Reinforce


def build_agent(cfg: Any, info: EnvInfo, device: torch.device | str = "cpu") -> AgentParts:
    """Feature map, policy (``agent.policy``) and REINFORCE learner for ``info``'s env."""
    feature_map = make_feature_map(cfg.features, info.observation_space)
    inputs = PolicyInputs(feature_map, cfg.agent.policy, info.n_actions, info.action_features)
    dtype = DTYPES[cfg.agent.dtype]
    policy: SoftmaxPolicy
    if cfg.agent.policy == "state":
        policy = LinearSoftmaxPolicy(inputs.dim, info.n_actions, dtype=dtype)
    else:
        policy = ActionFeatureSoftmaxPolicy(inputs.dim, dtype=dtype)
    policy = policy.to(device)
    learner = Reinforce(policy, cfg.agent, feature_map.dim)
    return AgentParts(inputs, policy, learner)
