"""seed_mode=batched: reproducible with itself, per-seed results and checkpoints, and statistically
the same learner as the exact mode (the distribution of steps-to-threshold over seeds)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.errors import UserError
from agents.runtime import tags
from agents.runtime.checkpoint import CHECKPOINT_NAME, load_checkpoint
from agents.runtime.many_seeds import BatchedSeedsTrainer, RecentReturns
from agents.runtime.restore import agent_from_checkpoint
from agents.runtime.run import train
from agents.tools.plotting import plot_runs

BATCHED = ["seed_mode=batched", "budget.total_env_steps=3000", "logging.interval_steps=500"]


def test_batched_run_is_reproducible_and_writes_per_seed_results(make_config, tmp_path):
    """Same seeds, same curves; each seed has its folder, checkpoint (loadable for evaluation),
    TensorBoard points and a row in the table; the seeds stop at a low target at their own steps."""
    common = [*BATCHED, "seed=3", "num_seeds=4", "budget.target_return=60", "budget.window=5"]
    first = train(make_config(*common, f"run_dir={tmp_path / 'a'}"))
    second = BatchedSeedsTrainer(make_config(*common, f"run_dir={tmp_path / 'b'}")).run()
    assert [r.run_dir.name for r in first.results] == ["seed3", "seed4", "seed5", "seed6"]
    for one, two in zip(first.results, second.results, strict=True):
        assert (one.env_steps, one.episodes, one.updates) == (two.env_steps, two.episodes, two.updates)
        assert one.recent_returns == two.recent_returns
        states = [load_checkpoint(r.run_dir) for r in (one, two)]
        assert torch.equal(states[0]["policy"]["weight"], states[1]["policy"]["weight"])
    assert len({r.env_steps for r in first.results}) > 1, "the seeds should stop at different steps"
    assert any(r.reached_target for r in first.results) and "4 seeds in" in first.table()
    result = first.results[0]
    state = load_checkpoint(result.run_dir)
    config, _info, parts = agent_from_checkpoint(state, result.run_dir)
    assert config.seed == 3 and config.seed_mode == "batched"
    said = (result.run_dir / "config.yaml").read_text().splitlines()[0]  # "seed: 3, num_seeds: 1" alone
    assert said == (  # ran as one exact seed, and gave another curve
        f"# one seed of a seed_mode=batched run of num_seeds=4 from seed=3, which "
        f"{tmp_path / 'a' / 'config.yaml'} reproduces"
    )
    assert torch.equal(parts.policy.param.detach(), state["policy"]["weight"])
    assert state["counters"]["env_steps"] == result.env_steps
    assert state["recent_returns"] == result.recent_returns
    assert state["learner"]["optimizer"]["state"][0]["step"] == result.updates
    events = EventAccumulator(str(result.run_dir)).Reload()
    assert len(events.Scalars(tags.EPISODIC_RETURN)) >= 2
    summary = EventAccumulator(str(tmp_path / "a" / "seeds")).Reload()
    assert {tags.SEEDS_RETURN_P10, tags.SEEDS_REACHED} <= set(summary.Tags()["scalars"])
    # each seed logs its HParams row and final results, as an exact-mode run does: plot reads them
    assert events.Scalars(tags.FINAL_MEAN_RETURN)[-1].value == pytest.approx(np.mean(result.recent_returns))
    table, _ = plot_runs([tmp_path / "a"], tmp_path / "figures")  # was: "no finished runs below"
    assert "| CartPole-v1 | 4     |" in table and "skipped" not in table  # seeds/ is no run
    with pytest.raises(UserError, match=r"seeds holds the mean and percentiles .* pass runs=\["):
        plot_runs([tmp_path / "a" / "seeds"], tmp_path / "figures2")  # was "no TensorBoard event files"
    beside, _ = plot_runs([tmp_path / "a" / "seeds", tmp_path / "a" / "seed3"], tmp_path / "figures3")
    assert f"not a run): {tmp_path / 'a' / 'seeds'}" in beside  # was dropped without a word
    # the seeds logged interval means: the table's score is their mean final return, not a mean of points
    mean_final = np.mean([r.final_mean_return for r in first.seed_results])
    assert f"| {mean_final:.2f} " in table and "logged interval means" in table
    assert "; interval-mean runs: their own final mean return) |" in table  # its header said
    # "last 100 episodes" whatever window= was, over scores of the run's own budget.window
    for folder in (result.run_dir, tmp_path / "a"):  # the top folder said "pass one of them, e.g. seed3"
        with pytest.raises(UserError, match=f"^{folder} comes from a seed_mode=batched run, which cannot"):
            train(make_config(f"resume={folder}"))
        with pytest.raises(UserError, match=f"evaluate it with .* checkpoint={tmp_path / 'a'}/seed3, or"):
            train(make_config(f"resume={tmp_path / 'a'}"))  # it named the top folder, which evaluate refuses
    unsaved = tmp_path / "unsaved"  # killed (or quit by a second signal) before its seeds saved
    shutil.copytree(tmp_path / "a", unsaved)
    for checkpoint in unsaved.glob(f"seed*/{CHECKPOINT_NAME}"):
        checkpoint.unlink()
    for folder in (unsaved, unsaved / "seed3"):  # it said to evaluate a folder evaluate.py found empty
        with pytest.raises(
            UserError, match=r"cannot be resumed .*\), and holds no checkpoint: .* start it again"
        ):
            train(make_config(f"resume={folder}"))
    with pytest.raises(UserError, match="already holds a run") as error:  # no resume= hint: it cannot
        train(make_config(*common, f"run_dir={tmp_path / 'a'}"))
    assert "resume=" not in str(error.value)


def test_batched_mlp_policy_and_several_envs_per_seed(make_config):
    mlp = [
        "experiment=none",
        "agent.policy=mlp",
        "agent.hidden_sizes=[8]",
        "agent.entropy_coef=0.01",
        "agent.optimizer=sgd",
    ]
    result = train(make_config(*BATCHED, "num_seeds=3", "vector.num_envs=2", *mlp, "agent.lr=0.01"))
    assert all(r.env_steps >= 3000 and r.updates > 0 for r in result.results)


UNSUPPORTED = [
    ("agent.baseline=value", "agent.baseline=value .*: agent.baseline=none or experiment=none"),
    ("agent.per_step_updates=true", "per_step_updates=true .*: agent.per_step_updates=false\\)"),
    ("features=normalized", "features=normalized"),
    ("eval.every_steps=1000", "eval.every_steps>0 .*: eval.every_steps=0\\)"),  # were ignored silently
    ("checkpoint.every_steps=1000", "checkpoint.every_steps>0 .*: checkpoint.every_steps=0\\)"),
    ("logging.episode_stats=each", "episode_stats=each .*: logging.episode_stats=mean\\)"),  # ignored too
    ("num_seeds=200000", "num_seeds=200000 must be <= "),  # the sizes' checks (it ran, then saved 200k)
    ("torch_threads=4096", "torch_threads=4096 must be <= "),
]


@pytest.mark.parametrize(("override", "named"), UNSUPPORTED)
def test_batched_refuses_what_it_does_not_do_in_one_line(make_config, override, named):
    with pytest.raises(UserError, match=named) as error:
        BatchedSeedsTrainer(make_config(*BATCHED, "num_seeds=2", override))
    assert "\n" not in str(error.value)
    assert "must be <=" in named or "seed_mode=exact" in str(error.value)


def test_batched_seeds_step_the_envs_through_env_wrappers(make_config):
    """``env_wrappers`` were dropped: the seeds trained on the bare env (episodes past a 50-step
    TimeLimit, final mean 175 where the exact mode said 49)."""
    wrappers = "env_wrappers=[{_target_: gymnasium.wrappers.TimeLimit, max_episode_steps: 20}]"
    result = train(make_config(*BATCHED, "num_seeds=2", wrappers, "budget.stop_at_target=false"))
    for seed_result in result.seed_results:
        assert seed_result.episodes >= 3000 // 20 and max(seed_result.recent_returns) <= 20


def test_recent_returns_keeps_each_seeds_last_window_in_order():
    recent = RecentReturns(3, window=3)
    recent.add(np.array([0, 2]), np.array([1.0, 5.0]))
    recent.add(np.array([0, 0, 1, 0]), np.array([2.0, 3.0, 7.0, 4.0]))  # several episodes of seed 0
    assert recent.in_order(0) == [2.0, 3.0, 4.0] and recent.in_order(1) == [7.0]
    assert recent.full(np.array([0, 1])).tolist() == [True, False]
    assert recent.mean(np.array([0, 2])).tolist() == [3.0, 5.0]


@pytest.mark.slow
def test_steps_to_threshold_has_the_same_distribution_in_both_modes(make_config, tmp_path):
    """40 seeds in each mode to a moving mean of 195 over 20 episodes: Mann-Whitney's two-sided
    test does not reject equal distributions (the figures are in the README)."""
    stats = pytest.importorskip("scipy.stats")
    common = ["seed=100", "num_seeds=40", "budget.total_env_steps=60000", "budget.target_return=195",
              "budget.window=20", "logging.tensorboard=false"]  # fmt: skip
    steps = {}
    for mode in ("exact", "batched"):
        result = train(make_config(*common, f"seed_mode={mode}", f"run_dir={tmp_path / mode}"))
        steps[mode] = [r.env_steps if r.reached_target else 60001 for r in result.results]
    test = stats.mannwhitneyu(steps["exact"], steps["batched"], alternative="two-sided")
    print(f"medians {np.median(steps['exact'])} vs {np.median(steps['batched'])}; p = {test.pvalue:.3f}")
    assert test.pvalue > 0.05


def test_one_seed_in_batched_mode_is_one_run_that_resumes(make_config, tmp_path):
    """``num_seeds=1 seed_mode=batched`` trains as one run (a full checkpoint) but saved
    ``seed_mode: batched``, so its Ctrl-C line's ``resume=`` was refused as a batched seed's."""
    first = train(make_config("num_seeds=1", "seed_mode=batched", "budget.total_env_steps=1500"))
    assert load_checkpoint(first.run_dir)["config"]["seed_mode"] == "exact"  # what ran
    more = ["budget.total_env_steps=3000"]
    resumed = train(make_config(f"resume={first.run_dir}", *more), overrides=more)
    assert resumed.env_steps >= 3000 > first.env_steps


def test_a_batched_seeds_checkpoint_says_whether_it_reached_the_target(make_config, tmp_path):
    """Its ``counters.reached_target`` was always None; a seed of an exact run stores the target."""
    result = train(make_config("num_seeds=4", *BATCHED, "budget.target_return=20", "budget.window=5",
                               "budget.stop_at_target=false", f"run_dir={tmp_path / 'b'}"))  # fmt: skip
    reached = [load_checkpoint(seed.run_dir)["counters"]["reached_target"] for seed in result.seed_results]
    assert reached == [20.0 if seed.reached_target else None for seed in result.seed_results]
    assert 20.0 in reached


def test_plot_counts_a_seed_of_another_batch_and_leaves_out_a_copy(make_config, tmp_path):
    """Seed 2 of a batch of seeds 0-3 and seed 2 of seeds 2-3 learn beside other seeds and differ,
    yet plot.py left the second out as "the same run, not another seed" (each seed's config says
    seed=2, num_seeds=1); a copy of a batch's folder is still the same run."""
    import shutil

    first = train(make_config("num_seeds=4", *BATCHED, f"run_dir={tmp_path / 'b0'}"))
    other = train(make_config("num_seeds=2", "seed=2", *BATCHED, f"run_dir={tmp_path / 'b2'}"))
    assert first.seed_results[2].final_mean_return != other.seed_results[0].final_mean_return
    table, _ = plot_runs([tmp_path / "b0", tmp_path / "b2"], tmp_path / "figures")
    assert "| CartPole-v1 | 6     |" in table and "left out" not in table
    shutil.copytree(tmp_path / "b0", tmp_path / "copy")
    table, _ = plot_runs([tmp_path / "b0", tmp_path / "copy"], tmp_path / "figures2")
    assert "| CartPole-v1 | 4     |" in table and table.count("left out (seed") == 4


def test_the_resume_hint_names_other_seed_folders_only_where_there_are_some(make_config, tmp_path):
    """A num_seeds run into a folder holding one seed folder of an exact run said to continue it
    with ``resume=<seed1>`` "(and its other seed folders, each on its own)", where there were none."""
    import shutil

    common = ["seed_mode=exact", "num_seeds=2", "budget.total_env_steps=600", "seed=1"]
    train(make_config(*common, f"run_dir={tmp_path / 'a'}"))
    shutil.copytree(tmp_path / "a" / "seed2", tmp_path / "b" / "seed2")
    for folder, others in (("a", True), ("b", False)):
        with pytest.raises(UserError, match="already holds a run") as error:
            train(make_config(*common, f"run_dir={tmp_path / folder}"))
        resumed = tmp_path / folder / ("seed1" if others else "seed2")
        assert f"resume={resumed}" in str(error.value)
        assert ("(and its other seed folders, each on its own)" in str(error.value)) is others
