"""train(cfg) end to end: run folder contents, TensorBoard tags, reproducibility, other envs."""

from __future__ import annotations

import itertools
from collections import deque
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from toy_envs import FirstSeedPays

from agents.runtime import tags
from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.multi_seed import MultiSeedResult
from agents.runtime.run import print_summary, train
from agents.runtime.trainer import Trainer, TrainResult


def test_cartpole_run_writes_events_checkpoint_and_config(make_config, capsys):
    result = train(make_config("budget.total_env_steps=3000"))
    run_dir = result.run_dir
    assert (run_dir / "checkpoint.pt").is_file()
    assert (run_dir / "config.yaml").read_text().startswith("env: CartPole-v1")
    events = EventAccumulator(str(run_dir)).Reload()
    for tag in (
        tags.EPISODIC_RETURN, tags.EPISODIC_LENGTH, tags.STEPS_PER_SECOND,
        tags.POLICY_OBJECTIVE, tags.ENTROPY, tags.GRAD_NORM,
    ):  # fmt: skip
        assert tag in events.Tags()["scalars"], tag
    returns = events.Scalars(tags.EPISODIC_RETURN)
    assert len(returns) == result.episodes
    assert all(b.step >= a.step for a, b in itertools.pairwise(returns))
    assert returns[-1].step <= result.env_steps
    assert tags.HPARAMS_TEXT + "/text_summary" in events.Tags()["tensors"]
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == f"tensorboard: tensorboard --logdir {run_dir}"
    assert type(result.env_steps) is int  # counters stay JSON-serialisable (sweep summaries)
    checkpoint = load_checkpoint(run_dir)
    assert checkpoint["counters"]["env_steps"] == result.env_steps
    assert checkpoint["policy"]["weight"].shape == (5, 2)


def test_same_seed_same_curve(make_config, tmp_path):
    first = train(make_config("budget.total_env_steps=4000", "seed=3", f"run_dir={tmp_path / 'a'}"))
    second = train(make_config("budget.total_env_steps=4000", "seed=3", f"run_dir={tmp_path / 'b'}"))
    other = train(make_config("budget.total_env_steps=4000", "seed=4", f"run_dir={tmp_path / 'c'}"))
    assert first.recent_returns == second.recent_returns
    assert first.recent_returns != other.recent_returns
    weights = [load_checkpoint(r.run_dir)["policy"]["weight"] for r in (first, second)]
    assert torch.equal(weights[0], weights[1])


@pytest.mark.parametrize(
    "overrides",
    [
        ["env=Acrobot-v1", "budget.total_env_steps=1500"],
        ["env=FrozenLake-v1", "budget.total_env_steps=1500"],
        ["env=FrozenLake-v1", "+env_kwargs.is_slippery=false", "budget.total_env_steps=1500"],
        ["env=CartPole-v1", "agent.policy=action", "agent.score=autograd", "budget.total_env_steps=1500"],
        [
            "env=CartPole-v1",
            "agent.optimizer=sgd",
            "agent.per_step_updates=true",
            "agent.discount_weighting=true",
            "budget.total_env_steps=1500",
        ],
        ["env=CartPole-v1", "vector.num_envs=4", "budget.total_env_steps=1500"],
    ],
)
def test_other_envs_and_options_run(make_config, overrides):
    result = train(make_config(*overrides))
    assert result.env_steps >= 1500
    assert result.episodes > 0
    assert np.isfinite(result.final_mean_return)


def test_score_paths_train_to_the_same_parameters(make_config, tmp_path):
    weights = []
    for score in ("closed_form", "autograd"):
        run = train(make_config("agent.dtype=float64", f"agent.score={score}", "budget.total_env_steps=3000",
                                f"run_dir={tmp_path / score}"))  # fmt: skip
        weights.append(load_checkpoint(run.run_dir)["policy"]["weight"])
    assert torch.allclose(weights[0], weights[1], rtol=0, atol=1e-12)


def test_quick_progress_on_cartpole(make_config):
    """A short run must clearly improve on the random policy's ~22 steps per episode."""
    result = train(make_config("budget.total_env_steps=20000", "seed=0"))
    assert result.final_mean_return > 100


def test_vector_envs_log_the_mean_of_the_episodes_since_the_last_point(make_config, tmp_path):
    """``logging.episode_stats``: ``auto`` with 4 envs writes, at each point, the mean of exactly
    the episodes that ``each`` writes one by one since the previous point (same seed, same run)."""
    common = ["vector.num_envs=4", "budget.total_env_steps=6000", "logging.interval_steps=500"]
    each = train(make_config(*common, "logging.episode_stats=each", f"run_dir={tmp_path / 'each'}"))
    auto = train(make_config(*common, f"run_dir={tmp_path / 'auto'}"))
    assert each.recent_returns == auto.recent_returns
    per_episode = EventAccumulator(str(each.run_dir)).Reload().Scalars(tags.EPISODIC_RETURN)
    means = EventAccumulator(str(auto.run_dir)).Reload().Scalars(tags.EPISODIC_RETURN)
    assert len(per_episode) == each.episodes and 3 <= len(means) < each.episodes / 4
    previous_step = -1
    for point in means:
        group = [e.value for e in per_episode if previous_step < e.step <= point.step]
        assert point.value == pytest.approx(np.mean(group), rel=1e-6)
        previous_step = point.step
    assert previous_step >= per_episode[-1].step  # the last episodes are written at the end


@pytest.mark.parametrize("seed_mode", ["exact", "batched"])
def test_a_run_that_does_not_stop_at_the_target_still_says_it_reached_it(make_config, seed_mode):
    """``budget.stop_at_target=false`` trains the whole budget, and the result (and the seeds
    table) still says whether the last-``window`` mean reached the target on the way."""
    common = ["budget.total_env_steps=3000", "budget.window=5", "num_seeds=2", f"seed_mode={seed_mode}"]
    stopping = train(make_config(*common, "budget.target_return=30"))
    assert all(r.reached_target and r.env_steps < 3000 for r in stopping.results)
    running_on = train(make_config(*common, "budget.target_return=30", "budget.stop_at_target=false"))
    assert all(r.reached_target and r.env_steps >= 3000 and r.target == 30 for r in running_on.results)
    assert "2 reached the target" in running_on.table()
    for seed_result, row in zip(running_on.results, running_on.table().splitlines()[1:], strict=False):
        column = "yes" if seed_result.final_mean_return >= 30 else "earlier"  # the final mean, judged
        assert row.split()[-1] == column and seed_result.ends_at_target == (column == "yes")
    unreachable = train(make_config(*common, "budget.target_return=100000", "budget.stop_at_target=false"))
    assert not any(r.reached_target for r in unreachable.results)


def test_a_final_mean_below_the_target_is_not_called_target_reached(tmp_path, capsys):
    """With ``budget.stop_at_target=false`` the moving mean can reach the target and fall back:
    the summary printed "mean return ...: 300.00 (target reached)" and the seeds table "yes"
    beside a final mean below 475. Both now judge the final mean and say the rest."""

    def result(name: str, final: float, reached: bool) -> TrainResult:
        return TrainResult(tmp_path / name, 5000, 40, 10, 1.0, final, reached, [final] * 5, target=475.0)

    fell_back, held, never = (
        result("seed0", 300.0, True),
        result("seed1", 480.0, True),
        result("seed2", 90.0, False),
    )
    for run, note in [
        (fell_back, " (target 475 reached during the run; the final mean is below it)\n"),
        (held, " (target 475 reached)\n"),
        (never, "\n"),
    ]:
        print_summary(run)
        assert (
            f"mean return over the last 5 episodes: {run.final_mean_return:.2f}{note}"
            in capsys.readouterr().out
        )
    table = MultiSeedResult(tmp_path, [fell_back, held, never], 3.0).table().splitlines()
    assert [row.split()[-1] for row in table[1:4]] == ["earlier", "yes", "no"]
    assert table[-1].endswith("; 2 reached the target, 1 of them ending below it (earlier)")


def test_mean_return_is_numpys_mean_of_the_window_bit_for_bit():
    """The fast ``mean_return`` (it runs on every step that ends an episode) is ``np.mean``."""
    rng = np.random.default_rng(0)
    window = deque(maxlen=100)
    assert np.isnan(Trainer.mean_return(SimpleNamespace(recent_returns=window)))
    for value in rng.standard_normal(250) * 10.0 ** rng.integers(-3, 6, 250):
        window.append(float(value))
        assert Trainer.mean_return(SimpleNamespace(recent_returns=window)) == float(np.mean(window))


gym.register("test/FirstSeedPays-v0", entry_point=FirstSeedPays)  # 4 envs: returns 5, 0, 0, 0 each step

TARGET_IN_A_VECTOR_STEP = ["env=test/FirstSeedPays-v0", "vector.num_envs=4", "vector.mode=sync"]


@pytest.mark.parametrize("seeds", [[], ["num_seeds=2"], ["num_seeds=2", "seed_mode=batched"]])
def test_the_target_is_checked_after_each_episode_of_a_vector_step(make_config, seeds):
    """The 4 episodes of the first vector step return 5, 0, 0, 0: the last-2 window [5, 0]
    reaches 2.5 after the second. The check ran once per vector step, on [0, 0], and the run
    never stopped (reached_target False after 400 steps), in each mode."""
    result = train(make_config(*TARGET_IN_A_VECTOR_STEP, "budget.window=2", "budget.target_return=2.5",
                               "budget.total_env_steps=400", *seeds), overrides=[])  # fmt: skip
    runs = 2 if seeds else 1
    assert [(run.reached_target, run.env_steps) for run in result.seed_results] == [(True, 4)] * runs


def test_a_resumed_run_remembers_it_reached_the_target(make_config, monkeypatch):
    """Reached (window 1: the paying column's episode) and fallen back by the end of each vector
    step; resumed where nothing pays, the run still says it reached the target at some point,
    as the uninterrupted run would; with another target it makes no claim."""
    common = [*TARGET_IN_A_VECTOR_STEP, "budget.window=1", "budget.stop_at_target=false"]
    first = train(make_config(*common, "budget.target_return=5", "budget.total_env_steps=40"))
    assert first.reached_target and not first.ends_at_target
    assert load_checkpoint(first.run_dir)["counters"]["reached_target"] == 5.0
    monkeypatch.setenv("FIRST_SEED_PAYS_NOTHING", "1")
    more = ["budget.total_env_steps=80"]
    resumed = train(make_config(f"resume={first.run_dir}", *more), overrides=more)
    assert resumed.env_steps == 80 and resumed.reached_target
    another = ["budget.total_env_steps=120", "budget.target_return=4"]
    other = train(make_config(f"resume={first.run_dir}", *another), overrides=another)
    assert not other.reached_target


def test_a_seeds_table_without_a_target_says_nothing_of_one(tmp_path):
    """An env without ``reward_threshold`` and no ``budget.target_return``: the table showed a
    ``target`` column of ``no`` and ended "0 reached the target"; the single-run summary says nothing."""
    results = [TrainResult(tmp_path / f"seed{i}", 100, 4, 1, 1.0, 5.0 + i, False, [5.0]) for i in range(2)]
    table = MultiSeedResult(tmp_path, results, 1.0).table().splitlines()
    assert "target" not in table[0] and table[1].split()[-1] == "5.00"
    assert table[-1].endswith("(std over seeds, ddof=1)")
