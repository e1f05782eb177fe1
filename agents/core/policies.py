"""The softmax policy family in one import: the base class, the registry and every registered form.

Importing this module registers the forms (``agent.policy=state|action``); :func:`make_policy`
builds one by name.
"""

from agents.core.linear import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy
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
    "POLICIES",
    "ActionFeatureSoftmaxPolicy",
    "GradientFn",
    "LinearSoftmaxPolicy",
    "ScoreFn",
    "SoftmaxPolicy",
    "entropy_of",
    "make_policy",
    "policy_class",
    "register_policy",
]
