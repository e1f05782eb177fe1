"""Time limits: ``agent.bootstrap_truncated`` (an episode cut at ``S_T`` gets ``gamma^(T-t) v(S_T)``
added to its returns, a terminated one nothing; agents/core/reinforce.py) and ``agent.baseline=time``
(the other episodes' mean return at the same step; agents/core/baselines.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from toy_envs import StepCounter

from agents.core.baselines import TimeBaseline, ValueBaseline
from agents.core.batch import EpisodeBatch
from agents.core.policies import LinearSoftmaxPolicy
from agents.core.reinforce import Reinforce
from agents.core.returns import discounted_returns
from agents.errors import UserError
from agents.runtime.buffer import EpisodeBuffer
from agents.runtime.config import validate
from agents.runtime.runners import make_runner
from agents.runtime.trainer import Trainer
from agents.tools.composing import compose_train_config


def ramp(length: int = 100) -> StepCounter:
    """Reward -1 a step; the obs is the step index; terminates after ``length`` steps."""
    return StepCounter(length, constant_reward=-1.0)


gym.register("test/RampCut-v0", entry_point=ramp, max_episode_steps=3)  # truncated at step 3
gym.register("test/RampEnd-v0", entry_point=ramp, kwargs={"length": 3})  # terminated at step 3
gym.register("test/RampBoth-v0", entry_point=ramp, kwargs={"length": 3}, max_episode_steps=3)


@pytest.mark.parametrize(("num_envs", "mode"), [(1, "native"), (2, "sync")])
@pytest.mark.parametrize(("env_id", "cut"), [("test/RampCut-v0", True), ("test/RampEnd-v0", False),
                                             ("test/RampBoth-v0", False)])  # fmt: skip
def test_runners_report_time_limit_cuts_and_their_last_observation(num_envs, mode, env_id, cut):
    runner = make_runner(env_id, num_envs, mode)
    runner.reset(seed=0)
    for _ in range(2):
        _, _, _, ended = runner.step(np.zeros(num_envs, dtype=np.int64))
        assert ended.size == 0
    _, _, _, ended = runner.step(np.zeros(num_envs, dtype=np.int64))
    cut_envs, last_obs = runner.cut_by_time_limit(ended)
    runner.close()
    assert ended.tolist() == list(range(num_envs))
    assert cut_envs.tolist() == (list(range(num_envs)) if cut else [])
    assert last_obs.tolist() == ([[3.0]] * num_envs if cut else [])  # S_T, not the next reset's S_0


def test_bootstrapped_returns_by_hand():
    """Rewards -1, -1, -1 cut at S_T with v(S_T) = -4, gamma = 0.5: the last reward becomes
    -1 + 0.5 * (-4) = -3 and G_t = sum_k gamma^k R_{t+k+1} + gamma^(T-t) v(S_T)."""
    gamma, value = 0.5, -4.0
    baseline = ValueBaseline(1, 0.1, torch.float64)  # linear v(s) = w x(s)
    with torch.no_grad():
        baseline.network[-1].weight.fill_(-2.0)  # v([2.0]) = -4
    policy = LinearSoftmaxPolicy(1, 2, dtype=torch.float64)
    optimizer = torch.optim.SGD([policy.param], lr=0.1)
    learner = Reinforce(policy, optimizer=optimizer, baseline=baseline, gamma=gamma)
    bonus = learner.time_limit_bonus(torch.tensor([[2.0]], dtype=torch.float64))
    assert bonus.tolist() == [gamma * value]

    buffer = EpisodeBuffer(1, (1,), np.float64)
    for t in range(3):
        buffer.store(np.array([[float(t)]]), np.zeros(1, dtype=np.int64), np.array([-1.0]), np.ones(1, bool))
    finished = buffer.finish(np.array([0]))
    buffer.add_to_last_rewards(np.array([0]), bonus.numpy())
    _, _, rewards, dones = buffer.get()
    assert finished.returns.tolist() == [-3.0]  # the episode statistic is the env's own return
    assert rewards.tolist() == [-1.0, -1.0, -3.0]
    returns = discounted_returns(torch.from_numpy(rewards), gamma, torch.from_numpy(dones))
    by_hand = [-1 - 0.5 - 0.25 + 0.125 * value, -1 - 0.5 + 0.25 * value, -1 + 0.5 * value]
    assert returns.tolist() == pytest.approx(by_hand, abs=1e-15)


def test_the_bonus_goes_to_the_last_reward_of_the_cut_episodes_only():
    """Of two sub-envs whose episodes end together, only sub-env 1's was cut: only its last
    stored reward takes the bonus (its column, not the first ``len(env_ids)`` columns)."""
    buffer = EpisodeBuffer(2, (1,), np.float64)
    for t in range(2):
        buffer.store(
            np.full((2, 1), float(t)), np.zeros(2, dtype=np.int64), np.array([1.0, 2.0]), np.ones(2, bool)
        )
    buffer.finish(np.array([0, 1]))
    buffer.add_to_last_rewards(np.array([1]), np.array([10.0]))
    _, _, rewards, _ = buffer.get()
    assert rewards.tolist() == [1.0, 1.0, 2.0, 12.0]  # sub-env 0's episode, then sub-env 1's


@pytest.mark.parametrize("num_envs", [1, 2])
@pytest.mark.parametrize(("env_id", "cut"), [("test/RampCut-v0", True), ("test/RampEnd-v0", False)])
def test_trainer_adds_gamma_v_of_the_last_state_where_a_time_limit_cut(make_config, num_envs, env_id, cut):
    gamma = 0.5
    trainer = Trainer(make_config(
        f"env={env_id}", "agent.baseline=value", "agent.bootstrap_truncated=true", "agent.dtype=float64",
        f"agent.gamma={gamma}", "agent.episodes_per_update=10", f"vector.num_envs={num_envs}",
        "vector.mode=sync", "logging.tensorboard=false",
    ))  # fmt: skip
    weights = trainer.agent.learner.baseline.network[-1].weight  # linear v(s) = w^T x(s)
    with torch.no_grad():
        weights.copy_(torch.linspace(1.0, 2.0, weights.numel(), dtype=torch.float64).reshape(weights.shape))
    trainer.start_clock()
    for _ in range(3):
        trainer.step(np.zeros(num_envs, dtype=np.int64))
    episodes = trainer.buffer.finished_episodes()
    state = torch.from_numpy(trainer.agent.inputs.state(np.array([[3.0]])))
    value = float(state @ weights.detach()[0])  # v(S_T) at S_T = [3]
    trainer.finish()
    assert len(episodes) == num_envs
    last_reward = -1.0 + gamma * value if cut else -1.0
    for _, _, rewards in episodes:
        assert rewards.tolist() == pytest.approx([-1.0, -1.0, last_reward], abs=1e-12)
    assert list(trainer.recent_returns) == [-3.0] * num_envs  # what is reported stays the env's return


def test_time_baseline_by_hand():
    """Three episodes (lengths 3, 2, 4): ``b_i(t)`` is the mean of the other two episodes' ``G_j(t)``,
    with ``G_j(t) = 0`` once episode ``j`` has ended."""
    returns = torch.tensor([1.0, 2.0, 3.0, 10.0, 20.0, 5.0, 6.0, 7.0, 8.0], dtype=torch.float64)
    dones = torch.tensor([0, 0, 1, 0, 1, 0, 0, 0, 1], dtype=torch.bool)
    by_hand = [(10 + 5) / 2, (20 + 6) / 2, (0 + 7) / 2, (1 + 5) / 2, (2 + 6) / 2,
               (1 + 10) / 2, (2 + 20) / 2, (3 + 0) / 2, 0.0]  # fmt: skip
    assert TimeBaseline().for_batch(torch.zeros(9, 2), returns, dones).tolist() == by_hand
    one_episode = TimeBaseline().for_batch(torch.zeros(3, 2), returns[:3], dones[:3])
    assert one_episode.tolist() == [0.0, 0.0, 0.0]  # no other episode: b = 0


def test_time_baseline_of_an_episode_does_not_depend_on_that_episode():
    """Leave-one-out: changing episode 0's returns leaves ``b_0`` as it was (unbiased estimate)."""
    generator = torch.Generator().manual_seed(0)
    returns = torch.randn(12, generator=generator, dtype=torch.float64)
    dones = torch.tensor([0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1], dtype=torch.bool)
    changed = returns.clone()
    changed[:4] += torch.randn(4, generator=generator, dtype=torch.float64)
    before = TimeBaseline().for_batch(torch.zeros(12, 1), returns, dones)
    after = TimeBaseline().for_batch(torch.zeros(12, 1), changed, dones)
    torch.testing.assert_close(before[:4], after[:4], rtol=0, atol=1e-12)  # up to rounding
    assert not torch.allclose(before[4:], after[4:])


@pytest.mark.parametrize("normalize_returns", [False, True])
def test_time_baseline_leaves_the_policy_alone_while_every_episode_is_the_same(normalize_returns):
    """Acrobot before its first success: every episode times out with the same rewards. The time
    baseline makes every advantage 0, so the update does not move the policy."""
    generator = torch.Generator().manual_seed(1)
    policy = LinearSoftmaxPolicy(3, 3, dtype=torch.float64)
    with torch.no_grad():
        policy.param.copy_(torch.randn(policy.param.shape, generator=generator, dtype=torch.float64))
    before = policy.param.detach().clone()
    optimizer = torch.optim.Adam([policy.param], lr=0.1)
    learner = Reinforce(
        policy, optimizer=optimizer, baseline=TimeBaseline(), gamma=0.99, normalize_returns=normalize_returns
    )
    steps, episodes = 5, 4
    batch = EpisodeBatch(
        inputs=torch.randn(steps * episodes, 3, generator=generator, dtype=torch.float64),
        states=torch.zeros(steps * episodes, 3, dtype=torch.float64),
        actions=torch.randint(0, 3, (steps * episodes,), generator=generator),
        rewards=-torch.ones(steps * episodes, dtype=torch.float64),
        dones=torch.tensor(([False] * (steps - 1) + [True]) * episodes),
    )
    learner.update(batch)
    assert torch.equal(policy.param.detach(), before)
    batch.rewards[-1] = 10.0  # one episode differs: now the policy moves
    learner.update(batch)
    assert not torch.equal(policy.param.detach(), before)


def test_time_baseline_refuses_per_step_updates_in_one_line():
    with pytest.raises(UserError, match=r"agent\.baseline=time compares whole episodes"):
        validate(compose_train_config(["agent.baseline=time", "agent.per_step_updates=true"]))
