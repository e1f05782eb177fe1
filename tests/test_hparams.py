"""TensorBoard's HParams tab lists the keys that change learning, those set on the command line (a
sweep's) first: they are marked ``differs``, which TensorBoard sorts first
(tensorboard/plugins/hparams/backend_context.py: _sort_and_reduce_to_hparams_limit)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.plugins.hparams.backend_context import _sort_and_reduce_to_hparams_limit

from agents.runtime.config import changes_learning

ROOT = Path(__file__).resolve().parent.parent


def test_learning_keys_only_the_command_lines_first(tmp_path):
    run_dir = tmp_path / "run"
    overrides = ["budget.total_env_steps=1500", "agent.gamma=0.9", "logging.progress_bar=false"]
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *overrides, f"hydra.run.dir={run_dir}"]
    environment = {key: value for key, value in os.environ.items() if key != "HYDRA_FULL_ERROR"}
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=300, env=environment)
    events = EventAccumulator(str(run_dir), size_guidance={"tensors": 1}).Reload()
    content = events.PluginTagToContent("hparams")["_hparams_/experiment"]
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
    _sort_and_reduce_to_hparams_limit(experiment)  # what TensorBoard's backend does before showing it
    columns = [info.name for info in experiment.hparam_infos]
    assert columns[:2] == ["agent.gamma", "budget.total_env_steps"], columns[:5]
    assert [info.name for info in experiment.hparam_infos if info.differs] == columns[:2]
    assert {"env", "seed", "agent.lr", "features.name"} <= set(columns)
    assert all(changes_learning(key) for key in columns)
    for hidden in ("run_dir", "logging.progress_bar", "checkpoint.every_steps", "eval.every_steps", "device",
                   "trust_code"):  # fmt: skip
        assert hidden not in columns
    assert [metric.name.tag for metric in experiment.metric_infos] == [
        "final/mean_return", "final/env_steps", "final/episodes",
    ]  # fmt: skip
