"""Without the progress bar (SLURM, CI) training prints a line every logging.print_every_seconds,
to the console and to the run's train.log."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

import agents

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"env steps [\d,]+/20,000 \(\d+%\) \| [\d,]+ steps/s \| mean return -?[\d.]+ \(last \d+ episodes\) "
    r"\| entropy [\d.]+$"
)


@pytest.mark.slow
def test_lines_on_the_console_and_in_train_log(tmp_path):
    run_dir = tmp_path / "run"
    overrides = [
        "logging.progress_bar=false", "logging.print_every_seconds=0.05", "budget.total_env_steps=20000",
        "budget.stop_at_target=false", f"hydra.run.dir={run_dir}",
    ]  # fmt: skip
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *overrides],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    console = [line for line in done.stdout.splitlines() if "| entropy" in line]
    logged = [line for line in (run_dir / "train.log").read_text().splitlines() if "| entropy" in line]
    assert len(console) >= 2 and console == logged, done.stdout
    assert all(LINE.search(line) for line in logged), logged
    assert "it/s" not in done.stderr  # no bar
    finished = next(line for line in done.stdout.splitlines() if line.startswith("finished: "))
    assert (
        (run_dir / "train.log").read_text().splitlines()[-1].endswith(finished)
    )  # (the log ended before it)


@pytest.mark.slow
def test_run_dir_and_resume_log_into_the_run_folder_and_leave_no_other(tmp_path):
    """``run_dir=`` puts Hydra's record and ``train.log`` in the run folder; ``resume=`` appends to
    that log and keeps the first run's record (both made a stray ``outputs/<env>/<time>/``)."""
    run_dir = tmp_path / "run"
    common = ["logging.progress_bar=false", "logging.print_every_seconds=0.05", "budget.stop_at_target=false"]
    for overrides in (
        [f"run_dir={run_dir}", "budget.total_env_steps=20000"],
        [f"resume={run_dir / 'checkpoint.pt'}", "budget.total_env_steps=40000"],
    ):
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "train.py"), *common, *overrides],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        if "budget.total_env_steps=20000" in overrides:
            record = (run_dir / ".hydra" / "overrides.yaml").read_text()
            first_log = (run_dir / "train.log").read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]
    assert (run_dir / ".hydra" / "overrides.yaml").read_text() == record and "20000" in record
    log = (run_dir / "train.log").read_text()
    assert log.startswith(first_log) and "/40,000" in log[len(first_log) :]


def test_nothing_from_the_api_and_never_with_zero(tmp_path, capsys, monkeypatch):
    """The lines go through :mod:`logging`: a program that configured no logging (as a fresh Python
    has none; an in-process Hydra app earlier in this test session left its own) sees nothing."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    agents.train("CartPole-v1", "logging.progress_bar=false", "logging.print_every_seconds=0.01",
                 "budget.total_env_steps=3000", f"run_dir={tmp_path}")  # fmt: skip
    assert capsys.readouterr() == ("", "")


SEEDS_LINE = re.compile(
    r"^env steps [\d,]+/20,000 \(\d+%\) \| [\d,]+ steps/s \| mean return (-?[\d.]+|nan) "
    r"\(mean over \d of 2 seeds\)$"
)


@pytest.mark.parametrize("seed_mode", ["exact", "batched"])
def test_many_seeds_print_lines_over_all_seeds_or_show_one_bar(tmp_path, caplog, capsys, seed_mode):
    """num_seeds runs printed nothing until the seeds table (the exact mode showed no bar either)."""
    common = ["num_seeds=2", f"seed_mode={seed_mode}", "budget.total_env_steps=10000",
              "budget.stop_at_target=false"]  # fmt: skip
    with caplog.at_level(logging.INFO, logger="agents.runtime.seeds_progress"):
        agents.train("CartPole-v1", *common, "logging.progress_bar=false", "logging.print_every_seconds=0.01",
                     f"run_dir={tmp_path / 'lines'}")  # fmt: skip
    lines = [
        record.getMessage() for record in caplog.records if record.name == "agents.runtime.seeds_progress"
    ]
    assert len(lines) >= 2 and all(SEEDS_LINE.match(line) for line in lines), lines
    assert "step/s" not in capsys.readouterr().err
    agents.train("CartPole-v1", *common, "logging.progress_bar=true", f"run_dir={tmp_path / 'bar'}")
    assert "20000/20000" in capsys.readouterr().err  # the bar, over both seeds' steps


EXTRAS = {
    "single": [], "vector": ["vector.num_envs=4"], "seeds": ["num_seeds=3", "vector.num_envs=4"],
    "batched": ["num_seeds=3", "vector.num_envs=4", "seed_mode=batched"],
}  # fmt: skip


@pytest.mark.parametrize("extra", list(EXTRAS.values()), ids=list(EXTRAS))
def test_the_bar_ends_at_the_steps_the_run_took(tmp_path, capsys, extra):
    """The bar moved at updates only, so it ended at the last update's count (``19693/20000``,
    98%) above the summary's ``finished: 20000 env steps``; the seeds' bar lost its total where
    vector envs stepped past the budget (``3003step``)."""
    result = agents.train("CartPole-v1", "budget.total_env_steps=999", "budget.stop_at_target=false",
                          "logging.progress_bar=true", f"run_dir={tmp_path / 'run'}", *extra)  # fmt: skip
    last = capsys.readouterr().err.split("\r")[-1]
    steps = sum(seed.env_steps for seed in result.seed_results)
    total = max(999 * len(result.seed_results), steps)  # vector envs step past the budget: the total grows
    assert f"| {steps}/{total} [" in last, last


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exact", "batched"])
def test_a_num_seeds_runs_log_ends_with_its_seeds_table(tmp_path, mode):
    """The seeds table reached the console and ``seeds.txt``, and ``train.log`` ended before it."""
    run_dir = tmp_path / "run"
    overrides = ["logging.progress_bar=false", "num_seeds=2", f"seed_mode={mode}",
                 "budget.total_env_steps=2000", f"run_dir={run_dir}"]  # fmt: skip
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), *overrides],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    table = (run_dir / "seeds.txt").read_text().splitlines()
    logged = (run_dir / "train.log").read_text().splitlines()[-len(table) :]
    assert len(logged) == len(table) and all(
        line.endswith(row) for line, row in zip(logged, table, strict=True)
    )
