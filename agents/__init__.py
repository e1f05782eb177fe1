"""softmax-reinforce agents: softmax policies (linear and MLP), their score functions, returns, REINFORCE."""

from agents.core.policies import (
    ActionFeatureSoftmaxPolicy,
    LinearSoftmaxPolicy,
    MLPSoftmaxPolicy,
    ScoreFn,
)
from agents.core.returns import discount_weights, discounted_returns

__all__ = [
    "ActionFeatureSoftmaxPolicy",
    "LinearSoftmaxPolicy",
    "MLPSoftmaxPolicy",
    "ScoreFn",
    "discount_weights",
    "discounted_returns",
]
