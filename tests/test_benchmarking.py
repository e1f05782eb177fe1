"""The measurements behind scripts/benchmark.py, at toy sizes (figures are not asserted)."""

from __future__ import annotations

from agents.tools.benchmarking import (
    SolveTimes,
    many_seeds,
    measure_speed_in_subprocess,
    raw_env_steps_per_second,
    solve_times,
    speed_table,
)


def test_speed_row_from_a_worker_process_and_its_table():
    row = measure_speed_in_subprocess("CartPole-v1", 4, 2000, repeats=1)
    assert row.env == "CartPole-v1" and row.num_envs == 4 and row.env_steps >= 2000
    assert row.raw_steps_per_second > 0 and row.train_steps_per_second > 0 and row.peak_rss_mb > 0
    assert row.stats_steps_per_second > 0
    table = speed_table([row]).splitlines()
    assert table[0].split()[:4] == ["env", "envs", "raw", "steps/s"]
    assert table[1].split()[:2] == ["CartPole-v1", "4"]


def test_raw_speed_with_and_without_episode_statistics():
    assert raw_env_steps_per_second("CartPole-v1", 8, seconds=0.05) > 0
    assert raw_env_steps_per_second("CartPole-v1", 8, seconds=0.05, with_stats=True) > 0


def test_many_seeds_side_by_side():
    together = many_seeds("CartPole-v1", 3, 500)
    assert together.seconds > 0
    assert together.microseconds_per_step == together.seconds / 1500 * 1e6


def test_solve_times_summary_counts_unsolved_seeds():
    assert SolveTimes([None, None], [1.0, 2.0]).summary() == "0/2 seeds reached the target"
    summary = SolveTimes([1000, None, 3000], [1.0, 2.0, 3.0]).summary()
    assert summary.startswith("2/3 seeds reached the target; env steps median 2,000 (range 1,000-3,000)")


def test_solve_times_runs_each_seed_with_the_overrides():
    times = solve_times("CartPole-v1", [0, 1], ["experiment=cartpole", "budget.total_env_steps=1500"])
    assert times.env_steps == [None, None]  # 1500 steps cannot reach 475
    assert len(times.seconds) == 2 and all(s > 0 for s in times.seconds)
