"""softmax-reinforce agents: linear softmax policies, their score functions, returns, REINFORCE."""

from agents.core.policies import ActionFeatureSoftmaxPolicy, LinearSoftmaxPolicy, ScoreFn
from agents.core.returns import discount_weights, discounted_returns

__all__ = [
    "ActionFeatureSoftmaxPolicy",
    "LinearSoftmaxPolicy",
    "ScoreFn",
    "discount_weights",
    "discounted_returns",
]
