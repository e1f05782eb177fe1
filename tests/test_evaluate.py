"""scripts/evaluate.py: rebuilds the trained agent, runs greedy and sampled episodes, writes a CSV."""

from __future__ import annotations

import csv
import importlib.util
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from agents.errors import UserError
from agents.runtime.checkpoint import CHECKPOINT_NAME, load_checkpoint
from agents.runtime.evaluation import EvaluateConfig, evaluate
from agents.runtime.restore import load_agent
from agents.runtime.run import train
from agents.tools.composing import compose_train_config

ROOT = Path(__file__).resolve().parent.parent
EVALUATE_SCRIPT = ROOT / "scripts" / "evaluate.py"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A tiny CartPole run with running-normalised features (so their statistics must load too)."""
    folder = tmp_path_factory.mktemp("run")
    train(
        compose_train_config(
            [
                "budget.total_env_steps=1500",
                "features=normalized",
                "logging.progress_bar=false",
                "logging.tensorboard=false",
                f"run_dir={folder}",
            ]
        )
    )
    return folder


def test_loaded_agent_is_the_trained_one(run_dir):
    state = load_checkpoint(run_dir)
    agent = load_agent(run_dir)
    assert agent.checkpoint == run_dir / CHECKPOINT_NAME
    assert np.array_equal(agent.actor.param, state["policy"]["weight"].numpy())
    feature_map = agent.inputs.feature_map
    assert np.array_equal(feature_map.mean, state["features"]["mean"].numpy())
    assert feature_map.count == float(state["features"]["count"]) > 1  # not the fresh map's 1e-4


def test_evaluate_writes_csv_and_summary(run_dir, tmp_path, capsys):
    csv_path = tmp_path / "eval.csv"
    result = evaluate(EvaluateConfig(checkpoint=str(run_dir), episodes=3, csv=str(csv_path)))
    with csv_path.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["episode"], row["mode"]) for row in rows] == [
        (str(i), mode) for mode in ("greedy", "sampled") for i in range(3)
    ]
    for mode, summary in result.modes.items():
        returns = [float(row["return"]) for row in rows if row["mode"] == mode]
        assert returns == summary.returns
        assert [int(row["length"]) for row in rows if row["mode"] == mode] == summary.lengths
        assert summary.mean == pytest.approx(np.mean(returns))
        assert summary.std == pytest.approx(np.std(returns))
        assert all(r == length for r, length in zip(returns, summary.lengths, strict=True))  # +1 per step
    out = capsys.readouterr().out
    assert f"greedy: return {result.modes['greedy'].mean:.2f} +- {result.modes['greedy'].std:.2f}" in out
    assert f"csv:     {csv_path}" in out


def test_evaluation_is_reproducible(run_dir, tmp_path):
    cfg = EvaluateConfig(checkpoint=str(run_dir), episodes=2, csv=str(tmp_path / "a.csv"), seed=3)
    first, second = evaluate(cfg), evaluate(cfg)
    assert first.modes == second.modes


def test_script_runs_in_process(run_dir, tmp_path, monkeypatch, capsys):
    main = runpy.run_path(str(EVALUATE_SCRIPT), run_name="evaluate_script")["main"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", [str(EVALUATE_SCRIPT), f"checkpoint={run_dir}", "episodes=1"])
    before = set(run_dir.glob("evaluation_*.csv"))  # (the module's run: other tests evaluate it too)
    main()
    main()  # a second evaluation writes a second file
    out = capsys.readouterr().out
    assert "sampled: return" in out and " over 1 episode (mean length" in out  # it said "1 episodes"
    assert len(set(run_dir.glob("evaluation_*.csv")) - before) == 2
    assert not list(tmp_path.iterdir())  # no Hydra output folder, no log file


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ([], "error: checkpoint: Missing mandatory value: pass checkpoint=<value>"),
        (["checkpoint={missing}"], "error: no checkpoint at {missing} (pass a run folder that holds"),
        (["checkpoint={empty}", "which=best"], "error: no checkpoint at {empty}/checkpoint_best.pt"),
        (["checkpoint={run}", "which=first"], "error: which='first' is not one of latest, best"),
        (["checkpoint={run}", "episodes=0"], "error: episodes=0 must be in [1, 1,000,000]"),
        (["checkpoint={run}", "episodes=1000000000000"], "error: episodes=1000000000000 must be in [1,"),
        (["checkpoint={run}", "episodez=3"], "error: episodez is not a config key (did you mean episodes?)"),
        (  # was: evaluated, then wrote the CSV over the run's checkpoint
            ["checkpoint={run}", "csv={run}/checkpoint.pt"],
            "error: csv={run}/checkpoint.pt exists and is not a .csv file",
        ),
        (["checkpoint={run}", "csv={run}"], "error: csv={run} is a folder"),
        (  # were found after every episode had run: "cannot write csv=...: ... (results above)"
            ["checkpoint={run}", "csv={run}/checkpoint.pt/e.csv"],
            "error: cannot write csv={run}/checkpoint.pt/e.csv: {run}/checkpoint.pt is a file, not a folder "
            "(choose another location; nothing was run)",
        ),
        (
            ["checkpoint={run}", "csv=/proc/e.csv"],
            "error: cannot write csv=/proc/e.csv: /proc takes no files",
        ),
        (  # was ignored: no video, no folder, no word
            ["checkpoint={run}", "video_dir={empty}/videos"],
            "error: video_dir={empty}/videos is where video=true writes; add video=true, or leave it out",
        ),
        (  # each job wrote over the one before
            ["-m", "checkpoint={run}", "seed=1,2", "episodes=1", "csv={empty}/e.csv"],
            "error: csv={empty}/e.csv is one file for 2 jobs of this sweep, each of which would write",
        ),
        (  # job 0 ran (and wrote its CSV) before job 1's mistake was found
            ["-m", "checkpoint={run},{missing}", "episodes=1"],
            "error: job #1 (checkpoint={missing} episodes=1): no checkpoint at {missing}",
        ),
        (
            ["-m", "checkpoint={run}", "episodes=1,0"],
            "error: job #1 (checkpoint={run} episodes=0): episodes=0 must",
        ),
    ],
)
def test_bad_input_is_one_line(run_dir, tmp_path, monkeypatch, capsys, overrides, expected):
    names = {"missing": tmp_path / "nowhere", "run": run_dir, "empty": tmp_path}
    csv_before = set(run_dir.glob("evaluation_*.csv"))
    main = runpy.run_path(str(EVALUATE_SCRIPT), run_name="evaluate_script")["main"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    argv = [override.format(**names) for override in overrides]
    monkeypatch.setattr(sys, "argv", [str(EVALUATE_SCRIPT), *argv])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(expected.format(**names)), lines
    assert load_checkpoint(run_dir)["counters"]["env_steps"] > 0  # the run is intact
    assert set(run_dir.glob("evaluation_*.csv")) == csv_before and not list(
        tmp_path.glob("*.csv")
    )  # none ran


def test_a_csv_of_other_data_is_refused_and_an_evaluations_own_is_replaced(
    run_dir, tmp_path, monkeypatch, capsys
):
    """``csv=mydata.csv`` replaced the user's own data with the evaluation's rows, without a word."""
    main = runpy.run_path(str(EVALUATE_SCRIPT), run_name="evaluate_script")["main"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    mine, own, blank_first = tmp_path / "mydata.csv", tmp_path / "again.csv", tmp_path / "blank.csv"
    mine.write_text("a,b\n1,2\n")
    own.write_text("\ufeffepisode,mode,return,length\r\n0,greedy,1.0,1\r\n")  # as a spreadsheet saves it
    blank_first.write_text("\n" * 5000 + "a,b\n")  # was taken for an empty file (4 KiB read), and replaced
    monkeypatch.setattr(
        sys, "argv", [str(EVALUATE_SCRIPT), f"checkpoint={run_dir}", f"csv={mine}", "episodes=1"]
    )
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2 and mine.read_text() == "a,b\n1,2\n"
    assert capsys.readouterr().err == (
        f"error: csv={mine} exists and holds other data (its first line is 'a,b'), which the evaluation "
        "would overwrite; give another path (an evaluation's own csv, 'episode,mode,return,length', is "
        "replaced; nothing was run)\n"
    )
    monkeypatch.setattr(sys, "argv", [str(EVALUATE_SCRIPT), f"checkpoint={run_dir}", f"csv={blank_first}"])
    with pytest.raises(SystemExit):
        main()
    assert (
        blank_first.read_text() == "\n" * 5000 + "a,b\n"
        and "its first line is 'a,b'" in capsys.readouterr().err
    )
    monkeypatch.setattr(
        sys, "argv", [str(EVALUATE_SCRIPT), f"checkpoint={run_dir}", f"csv={own}", "episodes=2"]
    )
    main()
    assert len(own.read_text().splitlines()) == 1 + 2 * 2  # the header, 2 greedy and 2 sampled episodes
    txt = tmp_path / "results.txt"  # another name: its own csv was "not a .csv file" the second time
    for _ in range(2):
        argv = [str(EVALUATE_SCRIPT), f"checkpoint={run_dir}", f"csv={txt}", "episodes=1"]
        monkeypatch.setattr(sys, "argv", argv)
        main()
    assert len(txt.read_text().splitlines()) == 1 + 2


def test_a_sweep_flag_after_the_settings_runs_the_sweep(run_dir, tmp_path, monkeypatch, capsys):
    """``evaluate.py checkpoint=<run> seed=1,2 -m``: the sweep folder the program adds went after the
    ``-m``, where Hydra's parser refused it (``unrecognized arguments: hydra.sweep.dir=...``)."""
    main = runpy.run_path(str(EVALUATE_SCRIPT), run_name="evaluate_script")["main"]
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    csv_path = "csv=" + str(tmp_path / "e_${seed}.csv")
    monkeypatch.setattr(
        sys, "argv", [str(EVALUATE_SCRIPT), f"checkpoint={run_dir}", "seed=1,2", csv_path, "-m"]
    )
    main()
    assert capsys.readouterr().out.count("sampled: return") == 2
    assert sorted(path.name for path in tmp_path.glob("*.csv")) == ["e_1.csv", "e_2.csv"]


def test_a_time_limit_above_the_envs_is_noted(run_dir, capsys):
    """``max_episode_steps=2000`` on CartPole-v1 (limit 500) ran 2000-step episodes without a word."""
    evaluate(EvaluateConfig(checkpoint=str(run_dir), episodes=1, max_episode_steps=2000))
    out = capsys.readouterr().out
    assert "note: max_episode_steps=2000 replaced the env's time limit of 500 steps" in out
    evaluate(EvaluateConfig(checkpoint=str(run_dir), episodes=1, max_episode_steps=100))
    assert "note" not in capsys.readouterr().out


def test_missing_checkpoint_subprocess(tmp_path):
    missing = tmp_path / "no_run"
    completed = subprocess.run(
        [sys.executable, str(EVALUATE_SCRIPT), f"checkpoint={missing}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert completed.returncode == 2
    assert completed.stderr == (
        f"error: no checkpoint at {missing} (pass a run folder that holds checkpoint.pt)\n"
    )


def test_not_a_training_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(UserError, match=r"lacks policy, features, config: is it a scripts/train.py"):
        load_agent(tmp_path / "other.pt")


def test_video_without_its_extra_names_the_install_command(run_dir, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "moviepy" else real_find_spec(name, *a)
    )
    cfg = EvaluateConfig(checkpoint=str(run_dir), episodes=1, video=True)
    with pytest.raises(UserError, match=r"^video=true needs moviepy to write MP4 files; install it with "):
        evaluate(cfg)
    with pytest.raises(UserError, match=r"pip install -e '\.\[video\]'$"):
        evaluate(cfg)


def test_video_records_one_mp4_per_mode(run_dir, tmp_path):
    pytest.importorskip("moviepy", reason="the video extra is not installed")
    pytest.importorskip("pygame", reason="the video extra is not installed")
    result = evaluate(
        EvaluateConfig(
            checkpoint=str(run_dir), episodes=2, video=True, video_dir=str(tmp_path / "v"),
            csv=str(tmp_path / "e.csv"),
        )
    )  # fmt: skip
    assert [video.relative_to(tmp_path) for video in result.videos] == [
        Path("v/greedy/greedy-episode-0.mp4"),
        Path("v/sampled/sampled-episode-0.mp4"),
    ]
    assert all(video.stat().st_size > 1000 for video in result.videos)


def test_a_sweeps_folder_says_to_pass_one_of_its_jobs(run_dir, tmp_path):
    """Like a num_seeds run's top folder, a sweep's: it said ``no checkpoint at <sweep>/checkpoint.pt``."""
    sweep = tmp_path / "sweep"
    for job in ("10_seed=3", "2_seed=2"):
        (sweep / job).mkdir(parents=True)
        (sweep / job / CHECKPOINT_NAME).write_bytes((run_dir / CHECKPOINT_NAME).read_bytes())
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    said = (
        f"{sweep} is a sweep's folder, whose 2 jobs each have their own run folder: pass one of them, e.g. "
    )
    with pytest.raises(UserError, match=re.escape(said + str(sweep / "2_seed=2"))):
        evaluate(EvaluateConfig(checkpoint=str(sweep), episodes=1))


def test_a_sweep_of_num_seeds_jobs_says_to_pass_a_seed_folder(run_dir, tmp_path):
    """A ``-m`` sweep of ``num_seeds`` jobs (each job a folder of ``seed*`` run folders) said ``no
    checkpoint at <sweep>/checkpoint.pt (pass a run folder that holds checkpoint.pt)``."""
    sweep = tmp_path / "sweep"
    for job in ("1_seed=5", "0_seed=0"):
        for seed in ("seed1", "seed0"):
            (sweep / job / seed).mkdir(parents=True)
            (sweep / job / seed / CHECKPOINT_NAME).write_bytes((run_dir / CHECKPOINT_NAME).read_bytes())
    (sweep / "multirun.yaml").write_text("hydra: {}\n")
    said = (
        f"{sweep} is a sweep's folder, whose 2 jobs each have their own run folder: pass one of them, e.g. "
    )
    with pytest.raises(UserError, match=re.escape(said + str(sweep / "0_seed=0" / "seed0"))):
        evaluate(EvaluateConfig(checkpoint=str(sweep), episodes=1))
