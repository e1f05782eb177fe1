"""The math: softmax policies and their scores, returns, baselines, the REINFORCE update and the
score comparison. Imports only torch, numpy and :mod:`agents.errors`."""
