"""scripts/train.py as users run it: bad input gives one line and exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent


def run_train(tmp_path: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train.py"), "logging.progress_bar=false", *overrides],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("env=NoSuchEnv-v0", "not a registered Gymnasium id"),
        ("env=CartPol-v1", "did you mean CartPole-v1"),
        ("env=Pendulum-v1", "continuous action space"),
        ("agent.lr=-1", "agent.lr=-1.0 must be > 0"),
        ("agent.gamma=1.5", "agent.gamma=1.5 must be in [0, 1]"),
        ("agent.optimizer=rmsprop", "agent.optimizer='rmsprop' is not one of sgd, adam"),
        ("vector.num_envs=0", "vector.num_envs=0 must be >= 1"),
        pytest.param(
            "device=cuda",
            "device=cuda but torch sees no CUDA GPU",
            marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU"),
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, override, expected):
    completed = run_train(tmp_path, override)
    assert completed.returncode == 2, completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert expected in lines[0]
    assert "Traceback" not in completed.stderr
    assert not list(tmp_path.rglob("checkpoint.pt"))  # failed before training


def test_cli_trains_and_prints_where_the_run_is(tmp_path):
    completed = run_train(tmp_path, "budget.total_env_steps=2000")
    assert completed.returncode == 0, completed.stderr
    last = completed.stdout.strip().splitlines()
    assert last[-1].startswith("tensorboard: tensorboard --logdir ")
    run_dir = Path(last[-1].split("--logdir ", 1)[1])
    assert (run_dir / "checkpoint.pt").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))
