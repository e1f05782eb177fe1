"""scripts/plot.py: known-answer statistics, grouping by config, figures and table from real runs."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

import agents
from agents.errors import USER_ERROR_EXIT_CODE, UserError
from agents.runtime import tags
from agents.runtime.run import train
from agents.tools import plotting
from agents.tools.plotting import (
    Run,
    bootstrap_ci,
    curve,
    drop_repeated_seeds,
    figure_paths,
    final_table,
    find_run_dirs,
    group_runs,
    interquartile_mean,
    plot_runs,
)

PLOT = Path(__file__).resolve().parent.parent / "scripts" / "plot.py"


def fake_run(steps: list[int], returns: list[float], **hparams: object) -> Run:
    hparams = {"env": "CartPole-v1", "seed": 0.0, "agent.lr": 0.01, "run_dir": "x", **hparams}
    return Run(Path("x"), hparams, np.array(steps), np.array(returns, dtype=float), float(np.mean(returns)),
               steps[-1], len(returns))  # fmt: skip


def test_curve_is_the_trailing_mean_of_episodes_ended_by_each_step():
    run = fake_run([10, 20, 30], [1.0, 2.0, 3.0])
    values = curve(run, np.array([0, 10, 25, 30, 40]), window=2)
    np.testing.assert_array_equal(values, [np.nan, 1.0, 1.5, 2.5, 2.5])
    whole = curve(run, np.array([0, 10, 25, 30]), window=2**63 - 1)  # plot's largest window= (int64)
    np.testing.assert_array_equal(whole, [np.nan, 1.0, 1.5, 2.0])  # every episode: no overflow


def test_a_point_that_is_a_mean_over_episodes_counts_as_that_many_in_the_window():
    """Interval means (vector envs, many seeds) were averaged as points: 100 points of ~10 episodes
    each spanned most of a run, so the curve ended far below the table (413 against 476)."""
    run = dataclasses.replace(fake_run([10, 20, 30], [0.0, 10.0, 20.0]), counts=np.array([50.0, 30.0, 40.0]))
    values = curve(run, np.array([5, 10, 20, 30]), window=100)
    # at 20: all 80 episodes, (50 * 0 + 30 * 10) / 80; at 30: 40 of 20, 30 of 10 and 30 of point 0's 0
    np.testing.assert_allclose(values, [np.nan, 0.0, 3.75, 11.0])
    np.testing.assert_allclose(curve(run, np.array([30]), window=40), [20.0])  # the newest point alone
    np.testing.assert_allclose(curve(run, np.array([30]), window=50), [18.0])  # (40 * 20 + 10 * 10) / 50


@pytest.mark.parametrize("mode", [["vector.num_envs=4"], ["num_seeds=2", "seed_mode=batched"]])
def test_interval_means_log_how_many_episodes_each_is_over(tmp_path, mode):
    """charts/episodes_in_mean: every episode a run finished is in one point, and the curve's last
    window of episodes is its own final mean return's within the oldest point's share."""
    agents.train("CartPole-v1", f"run_dir={tmp_path / 'run'}", "budget.total_env_steps=6000", *mode)
    folders = [tmp_path / "run"] if len(mode) == 1 else [tmp_path / "run" / f"seed{seed}" for seed in (0, 1)]
    for folder in folders:
        run = plotting.load_run(folder)
        assert run is not None and run.counts is not None and not run.per_episode
        assert run.counts.sum() == run.episodes > len(run.returns)
        window = int(run.hparams["budget.window"])
        assert (
            abs(curve(run, run.steps[-1:], window)[0] - run.final_mean_return) < 0.1 * run.final_mean_return
        )


def test_bootstrap_ci_brackets_the_mean_and_collapses_without_spread():
    low, high = bootstrap_ci(np.full((5, 3), 7.0))
    np.testing.assert_array_equal(low, 7.0)
    np.testing.assert_array_equal(high, 7.0)
    scores = np.array([1.0, 2.0, 3.0, 10.0])
    low, high = bootstrap_ci(scores)
    assert scores.min() <= low < scores.mean() < high <= scores.max()
    assert bootstrap_ci(np.array([4.0])) == (4.0, 4.0)  # one seed: no interval


def test_interquartile_mean_drops_the_outer_quartiles():
    assert interquartile_mean(np.array([100.0, 1, 2, 3, 4, 5, 6, 7])) == 4.5  # mean of 3, 4, 5, 6
    assert interquartile_mean(np.array([1.0, 2.0, 6.0])) == 3.0  # n < 4: the plain mean


def test_group_runs_aggregates_seeds_and_labels_by_what_differs():
    runs = [
        fake_run([10], [1.0], seed=float(seed), **{"agent.lr": lr}) for lr in (0.01, 0.05) for seed in (0, 1)
    ]
    runs.append(fake_run([10], [1.0], env="Acrobot-v1"))
    groups = group_runs(runs)
    assert list(groups) == ["CartPole-v1: agent.lr=0.01", "CartPole-v1: agent.lr=0.05", "Acrobot-v1"]
    assert [len(group) for group in groups.values()] == [2, 2, 1]
    assert list(group_runs(runs[:2])) == ["CartPole-v1"]  # one config: just the env


def test_a_second_run_of_a_seed_in_its_group_is_left_out_and_named():
    """Two runs of seed 0 with one config (a rerun in another folder): "2 seeds" with a zero-width
    interval, the band drawn from the copy. One run per seed counts; the other is named."""
    runs = [fake_run([10], [5.0], seed=0.0), fake_run([10], [7.0], seed=1.0), fake_run([10], [5.0], seed=0.0),
            fake_run([10], [9.0], seed=0.0, **{"agent.lr": 0.05}),
            fake_run([10], [1.0], seed=None)]  # fmt: skip
    runs[2] = dataclasses.replace(runs[2], path=Path("rerun"))
    unseeded = dataclasses.replace(runs[0], path=Path("foreign"), hparams={**runs[0].hparams, "seed": None})
    groups, repeats = drop_repeated_seeds(group_runs([*runs, unseeded]))
    assert [len(members) for members in groups.values()] == [4, 1]  # seeds 0, 1 and two without one
    assert repeats == [(runs[2], runs[0])]


def test_of_a_seeds_copies_the_one_that_went_furthest_is_kept():
    """A copy of a run cut short by a Ctrl-C, listed first, was kept and the finished run left out:
    the table scored the run at its 51,816 steps."""
    cut, finished = (dataclasses.replace(fake_run(steps, [1.0]), path=Path(name))
                     for steps, name in (([500], "a_cut"), ([900], "b_done")))  # fmt: skip
    groups, repeats = drop_repeated_seeds(group_runs([cut, finished]))
    assert list(groups.values()) == [[finished]] and repeats == [(cut, finished)]


def test_plot_counts_a_rerun_of_a_seed_once(make_config, tmp_path):
    for folder, threads in (("first", 1), ("rerun", 1), ("threads", 2)):
        overrides = ("budget.total_env_steps=600", "seed=0", f"torch_threads={threads}")
        train(make_config(*overrides, f"run_dir={tmp_path / folder}"))
    table, _ = plot_runs([tmp_path / "first", tmp_path / "rerun"], tmp_path / "figure")
    row = next(line for line in table.splitlines() if line.startswith("| CartPole-v1"))
    assert [cell.strip() for cell in row.split("|")[2:3]] == ["1"]  # seeds: 1, not 2
    # another torch_threads sums in another order: another sample of the learner (it was left out)
    other, _ = plot_runs([tmp_path / "first", tmp_path / "threads"], tmp_path / "figure")
    row = next(line for line in other.splitlines() if line.startswith("| CartPole-v1"))
    assert [cell.strip() for cell in row.split("|")[2:3]] == ["2"] and "left out" not in other
    assert table.endswith(
        f"left out (seed 0 again, with the config of {tmp_path / 'first'}: the same run, not another seed): "
        f"{tmp_path / 'rerun'}"
    )


def test_plot_of_a_small_sweep_writes_png_svg_and_the_final_table(make_config, tmp_path, monkeypatch):
    results = {}
    for lr in (0.01, 0.05):
        for seed in (0, 1):
            run_dir = tmp_path / "sweep" / f"lr{lr}_seed{seed}"
            cfg = make_config(
                "budget.total_env_steps=1500", f"agent.lr={lr}", f"seed={seed}", f"run_dir={run_dir}"
            )
            results[lr, seed] = train(cfg)
    unfinished = SummaryWriter(str(tmp_path / "sweep" / "interrupted"))  # no hparams: skipped
    unfinished.add_scalar(tags.EPISODIC_RETURN, 10.0, 10)
    unfinished.close()
    _, patterned = plot_runs([tmp_path / "sweep" / "lr0.05*"])  # no out=: a folder named "lr0.05*" was made
    assert patterned == [tmp_path / "sweep" / "lr0.05_seed0" / f"returns.{kind}" for kind in ("png", "svg")]
    assert not list(tmp_path.glob("sweep/*[*]*"))
    (tmp_path / "sweep" / "README.md").write_text("a note sorted before the runs")  # the default out
    _, beside_a_file = plot_runs([tmp_path / "sweep" / "*"])  # was "cannot use sweep/README.md: a file"
    assert beside_a_file[0] == tmp_path / "sweep" / "interrupted" / "returns.png"  # the first folder

    table, files = plot_runs([tmp_path / "sweep"], tmp_path / "figures" / "returns")  # window: budget.window
    assert table.startswith("curves and table: the mean of each run's last 100 logged episodes (window=100)")
    assert all(result.episodes < 100 for result in results.values())  # 1500 steps: shorter runs
    assert "final mean return (last 100 episodes, or all of a shorter run)" in table  # said "last 100"
    assert [path.name for path in files] == ["returns.png", "returns.svg"]
    assert files[0].read_bytes().startswith(b"\x89PNG") and files[0].stat().st_size > 20_000
    assert "environment steps" in files[1].read_text()
    rows = {line.split("|")[1].strip(): line for line in table.splitlines()[2:] if line.startswith("|")}
    for lr in (0.01, 0.05):
        cells = [cell.strip() for cell in rows[f"CartPole-v1: agent.lr={lr}"].split("|")[1:-1]]
        expected = np.mean([results[lr, seed].final_mean_return for seed in (0, 1)])
        assert cells[1:4] == ["2", "1500", f"{expected:.2f}"]  # as training reported it
    skipped = tmp_path / "sweep" / "interrupted"
    assert f"skipped (no final results: unfinished, or a cut-off event file): {skipped}" in table
    assert "mean over seeds, band: 95% bootstrap CI" in files[1].read_text()

    # one sweep under three spellings (relative, absolute, a symlink): each run counted once, as
    # reached first (every seed was counted three times: "seeds 6", the band from copies)
    (tmp_path / "link").symlink_to(tmp_path / "sweep")
    monkeypatch.chdir(tmp_path)
    again, _ = plot_runs([Path("sweep"), tmp_path / "sweep", tmp_path / "link"], tmp_path / "again")
    assert again == table.replace(str(tmp_path / "sweep"), "sweep")

    single, files = plot_runs([tmp_path / "sweep" / "lr0.01_seed0"], tmp_path / "one", window=5)
    assert "| - (1 seed) |" in single and "(last 5 episodes)" in single
    svg = files[1].read_text()
    assert "1 seed: no band" in svg and "95% bootstrap CI" not in svg


def test_a_plot_that_fails_while_writing_keeps_the_earlier_figures(make_config, tmp_path, monkeypatch):
    """A full disk while the .svg was written left the new .png beside the old .svg, and one while
    the .png was written cut the earlier .png short: both are replaced together, or neither."""
    import errno

    import matplotlib.figure

    for seed in (0, 1):
        train(make_config("budget.total_env_steps=600", f"seed={seed}", f"run_dir={tmp_path / f's{seed}'}"))
    _, files = plot_runs([tmp_path / "s0"], tmp_path / "figs" / "p")
    before = {path: path.read_bytes() for path in files}
    savefig = matplotlib.figure.Figure.savefig

    def full_disk_at_the_svg(figure, target, **kwargs):
        if (kwargs.get("format") or Path(target).suffix[1:]) == "svg":
            raise OSError(errno.ENOSPC, "No space left on device")  # (as a write, not an open, says it)
        return savefig(figure, target, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", full_disk_at_the_svg)
    with pytest.raises(OSError, match="No space left") as failed:
        plot_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "figs" / "p")
    assert failed.value.filename == str(files[1])  # the line names the file (not the temporary one)
    assert {path: path.read_bytes() for path in files} == before
    assert sorted(path.name for path in (tmp_path / "figs").iterdir()) == ["p.png", "p.svg"]  # no temporaries


def test_a_figure_file_that_holds_other_data_is_refused_and_kept(make_config, tmp_path):
    """``out=notes`` replaced a ``notes.png`` holding text without a word, and a link ``lnk.svg`` to a
    checkpoint had the checkpoint replaced by the figure; an earlier figure, or an empty file, is
    replaced as before."""
    train(make_config("budget.total_env_steps=600", f"run_dir={tmp_path / 'run'}"))
    checkpoint = tmp_path / "run" / "checkpoint.pt"
    saved = checkpoint.read_bytes()
    (tmp_path / "notes.png").write_text("my notes\n")
    (tmp_path / "lnk.svg").symlink_to(checkpoint)
    for stem, held in (("notes", tmp_path / "notes.png"), ("lnk", checkpoint)):
        with pytest.raises(
            UserError, match=rf"^out={tmp_path / stem} would overwrite {held}, which holds other"
        ):
            plot_runs([tmp_path / "run"], tmp_path / stem)
    assert (tmp_path / "notes.png").read_text() == "my notes\n" and checkpoint.read_bytes() == saved
    assert not (tmp_path / "notes.svg").exists() and not (tmp_path / "lnk.png").exists()
    with pytest.raises(UserError, match=r"which holds other data \(not an SVG figure\)"):
        plot_runs([tmp_path / "run"], tmp_path / "lnk")
    (tmp_path / "doc.svg").write_text('<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x.dtd">\n<svg></svg>')
    plot_runs([tmp_path / "run"], tmp_path / "doc")  # an SVG that begins with its document type
    (tmp_path / "empty.png").touch()
    for _ in range(2):  # a plot's own figures, then again over them
        _, files = plot_runs([tmp_path / "run"], tmp_path / "empty")
    assert [path.read_bytes()[:4] for path in files] == [b"\x89PNG", b"<?xm"]


def test_a_cut_off_event_file_with_hparams_but_no_final_results_is_skipped(make_config, tmp_path):
    """Cut where the hparams survive but ``final/mean_return`` does not: that was a KeyError."""
    train(make_config("budget.total_env_steps=1500", f"run_dir={tmp_path / 'whole'}"))
    (event_file,) = (tmp_path / "whole").glob("events.out.tfevents.*")
    data = event_file.read_bytes()
    for cut in range(200, len(data), 200):  # the first cut that keeps hparams and loses the final results
        (tmp_path / "cut").mkdir(exist_ok=True)
        (tmp_path / "cut" / event_file.name).write_bytes(data[:cut])
        events = EventAccumulator(str(tmp_path / "cut")).Reload()
        if _has_hparams(events) and tags.FINAL_MEAN_RETURN not in events.Tags()["scalars"]:
            break
    else:
        raise AssertionError("the logger writes the final results before the hparams: no such cut")
    with pytest.raises(UserError, match=r"no finished runs below .*its event file cut off"):
        plot_runs([tmp_path / "cut"], tmp_path / "out")


def test_a_stopped_many_seeds_runs_seeds_are_one_skipped_line_in_seed_order(make_config, tmp_path):
    """A stopped 12-seed run was 12 "skipped" lines, in text order (seed10 before seed2)."""
    train(make_config("budget.total_env_steps=1500", f"run_dir={tmp_path / 'done'}"))
    for seed in [*range(10), 11, 12]:  # seed10 saved nothing at all
        unfinished = SummaryWriter(str(tmp_path / "stopped" / f"seed{seed}"))
        unfinished.add_scalar(tags.EPISODIC_RETURN, 10.0, 10)
        unfinished.close()
    names = [path.name for path in find_run_dirs([tmp_path / "stopped"])]
    assert names == [*(f"seed{seed}" for seed in range(10)), "seed11", "seed12"]
    table, _ = plot_runs([tmp_path / "done", tmp_path / "stopped"], tmp_path / "figures" / "returns")
    skipped = [line for line in table.splitlines() if line.startswith("skipped")]
    assert skipped == [
        f"skipped (no final results: unfinished, or a cut-off event file): {tmp_path / 'stopped'}: "
        "seeds 0-9, 11-12 (12 seed folders)"
    ]


def _has_hparams(events: EventAccumulator) -> bool:
    try:
        events.PluginTagToContent("hparams")
    except KeyError:
        return False
    return True


def test_plot_cli_reports_a_missing_folder_in_one_line(tmp_path):
    process = subprocess.run(
        [sys.executable, str(PLOT), f"runs={tmp_path / 'nothing'}"], capture_output=True, text=True
    )
    assert process.returncode == USER_ERROR_EXIT_CODE
    expected = f"error: {tmp_path / 'nothing'} does not exist (pass run or sweep folders, e.g. multirun/"
    assert process.stderr.count("\n") == 1 and process.stderr.startswith(expected)


def test_runs_that_ended_no_episode_are_named_as_such_not_unfinished(make_config, tmp_path):
    """A finished run whose budget ended before its first episode was "skipped (no final results:
    unfinished, or a cut-off event file)", and alone "no finished runs ... still running, stopped"."""
    train(make_config("budget.total_env_steps=14", f"run_dir={tmp_path / 'short'}"))
    train(make_config("budget.total_env_steps=600", f"run_dir={tmp_path / 'long'}"))
    table, _ = plot_runs([tmp_path / "short", tmp_path / "long"], tmp_path / "figure")
    assert f"skipped (finished before any episode ended: no return to show): {tmp_path / 'short'}" in table
    assert "no final results" not in table
    with pytest.raises(
        UserError, match=r"\(they finished before any episode ended: raise budget.total_env_steps\)$"
    ):
        plot_runs([tmp_path / "short"], tmp_path / "figure2")


def test_a_pattern_of_run_folders_is_expanded(tmp_path):
    """``runs=[w/e*]`` said "w/e* does not exist": the shell leaves a pattern inside the brackets."""
    for name in ("e1", "e2", "f1"):
        (tmp_path / name / "seed0").mkdir(parents=True)
        (tmp_path / name / "seed0" / "events.out.tfevents.1.host").write_bytes(b"")
    found = find_run_dirs([tmp_path / "e*"])
    assert found == [tmp_path / "e1" / "seed0", tmp_path / "e2" / "seed0"]
    with pytest.raises(UserError, match=r"g\* matches no folder \(pass run or sweep folders, or a pattern"):
        find_run_dirs([tmp_path / "g*"])
    for runs in ("[*1]", "*1", "[?1,e2]"):  # YAML read them: "found undefined alias '1'", "expected ','"
        done = subprocess.run(
            [sys.executable, str(PLOT), f"runs={runs}"], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.stderr.startswith("error: no finished runs below "), done.stderr  # (empty event files)


@pytest.mark.parametrize("kind", ["folder", "pipe"])
def test_an_event_file_name_that_is_no_file_is_one_line(tmp_path, kind):
    """TensorBoard's reader opens every ``events.out.tfevents.*`` of a run folder: a folder so named
    was "cannot use b'...': Is a directory", and a named pipe made the plot wait for ever."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.out.tfevents.1.host").write_bytes(b"")
    odd = run / "events.out.tfevents.2.host"
    odd.mkdir() if kind == "folder" else os.mkfifo(odd)
    with pytest.raises(
        UserError, match=f"^{odd} is named like a TensorBoard event file but is not a regular file"
    ):
        find_run_dirs([tmp_path])


def test_a_dangling_link_named_like_an_event_file_is_left_to_the_reader(tmp_path):
    """(It is no folder and no pipe: the run is found, and its reader skips what it cannot open.)"""
    run = tmp_path / "run"
    run.mkdir()
    (run / "events.out.tfevents.1.host").write_bytes(b"")
    (run / "events.out.tfevents.2.host").symlink_to(tmp_path / "gone")
    assert find_run_dirs([tmp_path]) == [run]


def test_plot_rejects_a_window_below_one(tmp_path):
    with pytest.raises(UserError, match=r"^window=0 must be >= 1"):
        plot_runs([tmp_path], window=0)


def test_out_is_a_stem_whose_dots_stay_and_never_a_folder(tmp_path):
    """``out=figs/lr0.01`` wrote ``figs/lr0.png``, which ``out=figs/lr0.03`` overwrote; an existing
    folder wrote ``<folder>.png`` beside it."""
    assert figure_paths(tmp_path / "lr0.01") == [tmp_path / "lr0.01.png", tmp_path / "lr0.01.svg"]
    assert figure_paths(tmp_path / "lr0.03") != figure_paths(tmp_path / "lr0.01")
    assert figure_paths(tmp_path / "returns") == [tmp_path / "returns.png", tmp_path / "returns.svg"]
    for given in ("returns.png", "returns.svg", "returns.PNG"):  # the file named: not returns.png.png
        assert [path.name for path in figure_paths(tmp_path / given)] == ["returns.png", "returns.svg"]
    (tmp_path / "figs").mkdir()
    with pytest.raises(UserError, match=rf"^out={tmp_path / 'figs'} is a folder; give a file stem: out="):
        plot_runs([tmp_path], tmp_path / "figs")
    assert not (tmp_path / "figs.png").exists()


def test_labels_name_only_what_differs_within_each_env():
    runs = [
        fake_run([10], [1.0], **{"budget.total_env_steps": 5000.0, "agent.lr": lr}) for lr in (0.01, 0.05)
    ]
    runs.append(fake_run([10], [1.0], env="Acrobot-v1", **{"budget.total_env_steps": 2000.0}))
    assert list(group_runs(runs)) == [
        "CartPole-v1: agent.lr=0.01",
        "CartPole-v1: agent.lr=0.05",
        "Acrobot-v1",
    ]


def test_a_sweep_job_folder_with_commas_is_one_item_of_runs(tmp_path):
    """``runs=[<job>,<run>]`` with a job folder printed as ``1_baseline=mean,gamma=0.9_seed0``: the
    commas inside an existing folder's name do not split it (it read as ``1_baseline=mean``)."""
    from agents.tools.cli import parse_options
    from agents.tools.commands import PlotOptions as Options

    job, other = tmp_path / "1_baseline=mean,gamma=0.9_seed0", tmp_path / "run"
    job.mkdir(), other.mkdir()
    options = parse_options(Options, [f"runs=[{job},{other}]"], "plot")
    assert options.runs == [str(job), str(other)]
    assert parse_options(Options, [f"runs={job}"], "plot").runs == [str(job)]
    assert parse_options(Options, ["runs=[a,b]"], "plot").runs == ["a", "b"]  # not paths: as before
    spaced = parse_options(Options, [f"runs=[{other}, {job}]"], "plot").runs  # a space after the comma
    assert spaced == [str(other), str(job)]  # split the job's name: "<job's first part> does not exist"


def test_the_final_table_keeps_the_decimals_training_reports():
    """Returns in [0, 1] (FrozenLake's 0.02) were printed with one decimal: mean, CI and IQM all 0.0."""
    runs = [fake_run([10, 20], [0.0, 0.04], seed=float(seed)) for seed in range(2)]
    row = next(line for line in final_table({"FrozenLake-v1": runs}, window=2).splitlines()
               if line.startswith("| FrozenLake-v1"))  # fmt: skip
    assert [cell.strip() for cell in row.split("|")[4:7]] == ["0.02", "[0.02, 0.02]", "0.02"], row


def test_a_run_that_stopped_early_is_marked_in_the_table(tmp_path):
    """FAILED and INTERRUPTED sweep jobs (and a run stopped by Ctrl-C) stood in the table as final."""
    import json

    from agents.tools.plotting import Run, stopped_early

    def run(folder: str, env_steps: int, final: float, **hparams: object) -> Run:
        (tmp_path / folder).mkdir()
        base = {"env": "CartPole-v1", "budget.total_env_steps": 1000.0, "budget.stop_at_target": "True",
                "budget.target_return": "None"}  # fmt: skip
        return Run(tmp_path / folder, {**base, **hparams}, np.zeros(0), np.zeros(0), final, env_steps, 1)

    assert stopped_early(run("done", 1000, 20.0)) is None
    assert stopped_early(run("target", 600, 480.0)) is None  # stopped at CartPole's 475
    assert stopped_early(run("ctrl_c", 600, 20.0)) == "stopped at 600 of 1,000 env steps"
    failed = run("job", 300, 9.0)
    (failed.path / "result.json").write_text(json.dumps({"status": "FAILED"}))
    assert stopped_early(failed) == "FAILED at 300 env steps"


def test_a_run_a_signal_stopped_and_resumed_with_other_settings_is_kept_apart(make_config, tmp_path):
    """As below, for a run stopped by a signal (its stop writes that part's HParams row, which
    the plot compares with the resume's; a change that dropped it grouped the run with runs that
    trained at the new settings throughout)."""
    import signal

    from agents.errors import RunInterrupted
    from agents.runtime.trainer import Trainer

    resumed, straight = tmp_path / "resumed", tmp_path / "straight"
    stopped = Trainer(make_config("budget.total_env_steps=1200", f"run_dir={resumed}"))
    stopped.step_limit, stopped.stop_signal = 600, signal.SIGINT  # what a signal does, at a chosen step
    with pytest.raises(RunInterrupted):
        stopped.run()
    import agents

    agents.train("CartPole-v1", f"resume={resumed}", "agent.lr=0.05", "logging.progress_bar=false")
    train(make_config("budget.total_env_steps=1200", "agent.lr=0.05", f"run_dir={straight}"))
    table, _ = plot_runs([resumed, straight], tmp_path / "figure")
    labels = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| CartPole-v1")]
    assert labels == ["CartPole-v1: resumed=agent.lr=0.1->0.05", "CartPole-v1"]


def test_a_run_resumed_with_other_settings_is_labelled_with_them_and_kept_apart(make_config, tmp_path):
    """The plot read the first part's hyperparameters of a resumed run: a run of 600 steps at
    ``agent.lr=0.1`` resumed to 1,200 at 0.05 stood as ``agent.lr=0.1, budget.total_env_steps=600``
    beside its 1,200 steps (and one resumed to a smaller budget as "stopped at")."""
    from agents.tools.plotting import load_run, stopped_early

    resumed, straight = tmp_path / "resumed", tmp_path / "straight"
    train(make_config("budget.total_env_steps=600", f"run_dir={resumed}"))
    import agents

    overrides = ("budget.total_env_steps=1200", "agent.lr=0.05", "logging.progress_bar=false")
    agents.train("CartPole-v1", f"resume={resumed}", *overrides)
    train(make_config("budget.total_env_steps=1200", "agent.lr=0.05", f"run_dir={straight}"))
    run = load_run(resumed)
    assert run.hparams["agent.lr"] == 0.05 and run.hparams["budget.total_env_steps"] == 1200
    assert stopped_early(run) is None
    with warnings.catch_warnings():  # a long label left the axes no room: matplotlib warned
        warnings.simplefilter("error")
        table, _ = plot_runs([resumed, straight], tmp_path / "figure")
    labels = [line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| CartPole-v1")]
    assert labels == [
        "CartPole-v1: resumed=agent.lr=0.1->0.05 budget.total_env_steps=600->1200",
        "CartPole-v1",
    ]


def test_many_groups_with_long_labels_get_a_taller_figure_and_their_own_lines(tmp_path, monkeypatch):
    """Eight groups of three-line labels made a legend taller than the 3.4-inch figure: matplotlib
    warned "axes sizes collapsed to zero" on stderr and squashed the axes; the 11th group took the
    1st one's colour and line."""
    made = []
    monkeypatch.setattr(
        plotting, "Figure", lambda *args, **kwargs: made.append(Figure(*args, **kwargs)) or made[-1]
    )
    long = " ".join(f"key{index}.setting=value{index}" for index in range(6))  # about 3 legend lines
    groups = {
        f"CartPole-v1: agent.lr={index} {long}": [fake_run([100, 200, 300], [1.0, 2.0, 3.0], seed=float(seed))
                                                   for seed in range(2)]
        for index in range(12)
    }  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the layout warning fails the test
        plotting.plot_groups(groups, tmp_path / "groups")
    (figure,) = made
    assert figure.get_figheight() > 5
    lines = figure.axes[0].get_lines()
    assert [line.get_linestyle() for line in lines[:11:10]] == ["-", "--"]


def test_a_run_an_error_ended_is_marked_failed_in_the_table(tmp_path):
    """Its HParams row says Failure (the env's fault), but the table said ``stopped at``, as for a
    Ctrl-C."""
    import fault_envs

    import agents
    from agents.tools.plotting import load_run, stopped_early

    fault_envs.FaultyEnv.calls = 0  # it raises at its 150th step
    run_dir = tmp_path / "run"
    with pytest.raises(UserError):
        agents.train("fault_envs:fault/Raise-v0", "logging.progress_bar=false", "budget.total_env_steps=300",
                     f"run_dir={run_dir}")  # fmt: skip
    run = load_run(run_dir)
    assert run is not None and run.failed
    assert stopped_early(run) == f"failed at {run.env_steps:,} of 300 env steps"


def test_reading_a_resumed_runs_curves_prints_no_purge_notice(tmp_path, caplog):
    """A run resumed from a checkpoint before its last logged step: TensorBoard's "Detected out of
    order event.step likely caused by a TensorFlow restart ... Removing 5 scalars" was printed for
    it on every plot, though dropping the stopped part's points is what the resume asks for."""
    for steps in (range(1, 11), range(6, 13)):  # the stopped part, then the resume from step 5
        purge_step = steps.start if steps.start > 1 else None  # as the run's Logger resumes
        writer = SummaryWriter(str(tmp_path), purge_step=purge_step, filename_suffix=f".{steps.start}")
        for step in steps:
            writer.add_scalar("charts/x", float(step), step)
        writer.close()
    events = plotting.read_events(tmp_path)
    assert [event.step for event in events.Scalars("charts/x")] == list(range(1, 13))
    assert "out of order" not in caplog.text


def test_a_huge_whole_setting_is_shown_in_four_digits_as_other_numbers():
    """``budget.target_return=-1e308`` was written as a 309-digit integer in the table and legend
    (lines of 482 characters; a 4980 px wide figure)."""
    from agents.tools.tables import short_number

    assert [short_number(text) for text in ("-1e308", "1e15", "5000.0", "0.022881136684755242", "cuda")] == [
        "-1e+308", "1e+15", "5000", "0.02288", "cuda"
    ]  # fmt: skip


def test_a_file_given_as_a_run_is_told_to_pass_its_folder(tmp_path):
    """``runs=[<run>/events.out.tfevents...]`` or ``runs=[<run>/checkpoint.pt]`` said "no TensorBoard
    event files below" the file; a file a glob matched beside run folders stays ignored."""
    from agents.tools.plotting import find_run_dirs

    run = tmp_path / "run"
    run.mkdir()
    SummaryWriter(str(run)).close()
    event = next(run.glob("events.out.tfevents.*"))
    with pytest.raises(
        UserError, match=f"^{event} is a file: pass the run folder that holds it, runs=\\[{run}\\]$"
    ):
        find_run_dirs([event])
    (tmp_path / "summary.md").write_text("a sweep's summary")
    assert find_run_dirs([tmp_path / "*"]) == [run]
