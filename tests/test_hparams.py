"""TensorBoard's HParams tab lists the keys that change learning, those set on the command line first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

from agents.runtime.config import changes_learning

ROOT = Path(__file__).resolve().parent.parent


def test_hparams_columns_learning_keys_given_ones_first(tmp_path):
    run_dir = tmp_path / "run"
    overrides = ["agent.gamma=0.9", "budget.total_env_steps=1500", "logging.progress_bar=false"]
    overrides.append(f"hydra.run.dir={run_dir}")
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *overrides]
    environment = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=300, env=environment)
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 1}).Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/experiment"]
    infos = plugin_data_pb2.HParamsPluginData.FromString(content).experiment.hparam_infos
    columns = [info.name for info in infos]
    # the command line's learning keys first (the env preset's experiment= is a group, not a key)
    assert columns[:2] == ["agent.gamma", "budget.total_env_steps"], columns[:5]
    assert "env" in columns and "agent.lr" in columns and "seed" in columns
    assert not [key for key in columns if not changes_learning(key)], columns
    for hidden in ("run_dir", "logging.progress_bar", "checkpoint.every_steps", "eval.every_steps", "device"):
        assert hidden not in columns
