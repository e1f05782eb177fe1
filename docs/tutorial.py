# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # REINFORCE with a softmax policy, step by step
#
# This notebook derives the score function of a linear softmax policy, checks the formula against
# autograd on a batch, trains CartPole in a few seconds with it, plots the learning curve and shows
# how to open TensorBoard. It is `docs/tutorial.py` (a Jupytext percent script) and
# `docs/tutorial.ipynb` (the same cells; `tests/test_tutorial.py` keeps them in sync and runs it).
# Run it from the repository after `make install` with the kernel of `.venv`.

# %% [markdown]
# ## 1. The policy and its score
#
# A linear softmax policy scores each action with preferences `h(s, a) = x(s)^T W[:, a]`, where
# `x(s)` is a feature vector of length `d` and `W` a `d x A` matrix, and turns them into
# probabilities:
#
# $$\pi(a \mid s) = \frac{e^{h(s,a)}}{\sum_b e^{h(s,b)}}, \qquad
#   \log \pi(a \mid s) = h(s,a) - \log \sum_b e^{h(s,b)}.$$
#
# Differentiate with respect to the column `W[:, c]`: the first term gives `x(s)` when `c = a`, the
# log-sum-exp gives `pi(c|s) x(s)`. Stacking the columns,
#
# $$\nabla_W \log \pi(a \mid s) = x(s)\,\big(e_a - \pi(\cdot \mid s)\big)^\top ,$$
#
# an outer product of the features with "what was taken minus what was expected". REINFORCE moves
# `W` along the return-weighted sum of these scores, `W <- W + alpha sum_t G_t grad log pi(A_t|S_t)`.

# %%
from datetime import datetime

import gymnasium as gym
import matplotlib.pyplot as plt
import numpy as np
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import agents

torch.manual_seed(0)
batch, d, n_actions = 256, 5, 3
policy = agents.LinearSoftmaxPolicy(d, n_actions, dtype=torch.float64)
with torch.no_grad():
    policy.weight.normal_()  # a random policy, so that pi is not uniform
features = torch.randn(batch, d, dtype=torch.float64)  # x(s) for 256 states
actions = torch.multinomial(policy.probs(features), 1).squeeze(-1)  # A ~ pi(.|s)

# the formula, written out: x (e_a - pi)^T for every sample of the batch
residual = torch.eye(n_actions, dtype=torch.float64)[actions] - policy.probs(features)  # e_a - pi  [B, A]
by_hand = features[:, :, None] * residual[:, None, :]  # x (e_a - pi)^T  [B, d, A]
print("score shape:", tuple(by_hand.shape))  # [B, d, A]

# %% [markdown]
# ## 2. Check it against autograd
#
# The project's closed-form `policy.score` implements that line; `policy.autograd_score`
# differentiates `log pi` with `torch.func.vmap(torch.func.grad(...))`. In float64 they agree to
# rounding error (float32 agrees to about 1e-6 per entry). A long training run still drifts apart
# between the two paths, as any two computations in a different order do: once a last-bit
# difference flips one sampled action, the episodes differ (after a few thousand CartPole steps
# in float32, tens of thousands in float64).

# %%
closed_form = policy.score(features, actions)
autograd = policy.autograd_score(features, actions)
print("max |by hand - closed form|:", (by_hand - closed_form).abs().max().item())
print("max |closed form - autograd|:", (closed_form - autograd).abs().max().item())
assert torch.allclose(closed_form, autograd, atol=1e-12, rtol=0)

# the expected score is zero: E_pi[grad log pi] = sum_a pi(a|s) x (e_a - pi)^T = 0
probs = policy.probs(features)
expected = sum(probs[:, a, None, None] * policy.score(features, torch.full((batch,), a)) for a in range(3))
print("max |E_pi[score]|:", expected.abs().max().item())

# %% [markdown]
# ## 3. Train CartPole in seconds
#
# `agents.train` runs the same training as `python scripts/train.py env=CartPole-v1`, with
# overrides in the command line's `key=value` form. For the linear policy CartPole runs on the
# generic defaults (`configs/env_presets.yaml` lists `none` first; `"experiment=cartpole"` would
# add its tuned preset); the run stops once the mean of the last 100 returns reaches 475. Each
# run of this cell gets its own folder under `runs/tutorial/`. The defaults are not section 1's
# plain rule: they step with Adam on standardised returns of 2 episodes at a time (gamma 0.97,
# the step size decaying linearly to 0); `agent.optimizer=sgd agent.normalize_returns=false
# agent.lr_schedule=constant agent.discount_weighting=true` is Sutton & Barto's update, batched.

# %%
run_dir = f"runs/tutorial/{datetime.now():%Y%m%d-%H%M%S-%f}"
result = agents.train("CartPole-v1", "seed=0", "logging.progress_bar=false", f"run_dir={run_dir}")
print(f"{result.env_steps} env steps in {result.seconds:.1f} s; last-100 mean {result.final_mean_return:.1f}")

agent = agents.load(result.run_dir)
env = gym.make("CartPole-v1")
obs, _ = env.reset(seed=123)
total, done = 0.0, False
while not done:
    obs, reward, terminated, truncated, _ = env.step(agent.predict(obs, deterministic=True))
    total, done = total + reward, terminated or truncated
print("greedy episode return:", total)

# %% [markdown]
# ## 4. The learning curve
#
# Every finished episode's return is in the run's TensorBoard event file under
# `charts/episodic_return`, against env steps.

# %%
events = EventAccumulator(str(result.run_dir)).Reload()
points = events.Scalars("charts/episodic_return")
steps = np.array([p.step for p in points])
returns = np.array([p.value for p in points])
window = 20
smoothed = np.convolve(returns, np.ones(window) / window, mode="valid")
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(steps, returns, alpha=0.3, label="episode return")
ax.plot(steps[window - 1 :], smoothed, label=f"mean of the last {window} episodes")
ax.set_xlabel("env steps")
ax.set_ylabel("return")
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# ## 5. TensorBoard
#
# Every scalar, the config (Text tab) and the final metrics (HParams tab) are in the run folder:
#
# ```bash
# tensorboard --logdir runs/tutorial      # then open http://127.0.0.1:6006
# ```
#
# or, inside Jupyter, `%load_ext tensorboard` and `%tensorboard --logdir runs/tutorial`. The tags
# are listed in the README (`charts/`, `losses/`, `policy/`, `eval/` with `eval.every_steps=N`).
