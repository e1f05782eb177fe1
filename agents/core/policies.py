"""The softmax policy family in one import: the base class, the registry and every registered form.

Importing this module registers the forms (``agent.policy=state|action|mlp``); :func:`make_policy`
builds one by name.
"""

from agents.core.linear import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy
from agents.core.mlp import ACTIVATIONS, MLPSoftmaxPolicy
from agents.core.policy import (
    POLICIES,
    GradientFn,
    ScoreFn,
    SoftmaxPolicy,
    entropy_of,
    make_policy,
    policy_class,
    register_policy,
)

__all__ = [
    "ACTIVATIONS",
    "POLICIES",
    "ActionFeatureSoftmaxPolicy",
    "GradientFn",
    "LinearSoftmaxPolicy",
    "MLPSoftmaxPolicy",
    "ScoreFn",
    "SoftmaxPolicy",
    "entropy_of",
    "make_policy",
    "policy_class",
    "register_policy",
]
