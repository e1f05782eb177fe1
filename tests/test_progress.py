"""Without the progress bar (SLURM, CI) training prints a line every logging.print_every_seconds,
to the console and to the run's train.log."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from pathlib import Path

import agents

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"env steps [\d,]+/20,000 \(\d+%\) \| [\d,]+ steps/s \| mean return -?[\d.]+ \(last \d+ episodes\) "
    r"\| entropy [\d.]+$"
)


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


def test_nothing_from_the_api_and_never_with_zero(tmp_path, capsys, monkeypatch):
    """The lines go through :mod:`logging`: a program that configured no logging (as a fresh Python
    has none; an in-process Hydra app earlier in this test session left its own) sees nothing."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", logging.WARNING)
    agents.train("CartPole-v1", "logging.progress_bar=false", "logging.print_every_seconds=0.01",
                 "budget.total_env_steps=3000", f"run_dir={tmp_path}")  # fmt: skip
    assert capsys.readouterr() == ("", "")
