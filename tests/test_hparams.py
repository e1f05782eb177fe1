"""TensorBoard's HParams tab lists the keys that change learning, those set on the command line (a
sweep's) first: they are marked ``differs``, which TensorBoard sorts first
(tensorboard/plugins/hparams/backend_context.py: _sort_and_reduce_to_hparams_limit)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import fault_envs
import gymnasium as gym
import pytest
from gymnasium.envs.classic_control import CartPoleEnv
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2
from tensorboard.plugins.hparams.backend_context import _sort_and_reduce_to_hparams_limit

import agents
from agents.runtime.config import changes_learning

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
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


class SignalOnce(CartPoleEnv):
    """CartPole that sends this process SIGINT (as Ctrl-C would) at the 100th step of any of its
    instances, once."""

    steps = 0

    def step(self, action):
        SignalOnce.steps += 1
        if SignalOnce.steps == 100:
            os.kill(os.getpid(), signal.SIGINT)
        return super().step(action)


if "status/SignalOnce-v0" not in gym.registry:
    gym.register("status/SignalOnce-v0", entry_point=SignalOnce, max_episode_steps=500)


def session_infos(run_dir: Path) -> tuple[int, list[int]]:
    """How many HParams rows the event files under ``run_dir`` start, and the status each session
    end they hold says."""
    starts, statuses = 0, []
    for path in sorted(run_dir.rglob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                if value.tag == "_hparams_/session_start_info":
                    starts += 1
                elif value.tag == "_hparams_/session_end_info":
                    statuses.append(data.session_end_info.status)
    return starts, statuses


ENDINGS = {  # env, what agents.train raises, the rows' status (None: no session end)
    "success": ("CartPole-v1", None, api_pb2.STATUS_SUCCESS),
    "failure": ("fault_envs:fault/Raise-v0", agents.UserError, api_pb2.STATUS_FAILURE),  # at its 150th step
    "stopped": ("status/SignalOnce-v0", agents.RunInterrupted, None),  # a Ctrl-C, to resume
}


@pytest.mark.parametrize("ending", list(ENDINGS))
@pytest.mark.parametrize(
    "mode", [[], ["num_seeds=2"], ["num_seeds=2", "seed_mode=batched"]], ids=["single", "seeds", "batched"]
)
def test_the_hparams_row_says_how_the_run_ended(tmp_path, ending, mode):
    """Every row said STATUS_SUCCESS (torch's ``hparams``), also a failed or stopped run's, so
    TensorBoard's status filter could not tell them from finished ones."""
    env, raised, status = ENDINGS[ending]
    fault_envs.FaultyEnv.calls, SignalOnce.steps = 0, 0
    run_dir = tmp_path / "run"
    overrides = ["logging.progress_bar=false", "budget.total_env_steps=2000", f"run_dir={run_dir}", *mode]
    with pytest.raises(raised) if raised else contextlib.nullcontext():
        agents.train(env, *overrides)
    rows = 2 if mode else 1
    ends = 0 if status is None else 1 if ending == "failure" and mode == ["num_seeds=2"] else rows
    assert session_infos(run_dir) == (rows, [status] * ends)  # an exact seed cut short by the other's
    # failure writes no end, as a stopped run: TensorBoard shows its resume's


def test_a_stopped_run_resumed_to_its_end_shows_that_end(tmp_path):
    """TensorBoard reads the first session end in a run's folder: a stopped part writes none, so
    the resume's is the run's."""
    SignalOnce.steps = 0
    run_dir = tmp_path / "run"
    with pytest.raises(agents.RunInterrupted):
        agents.train("status/SignalOnce-v0", "logging.progress_bar=false", "budget.total_env_steps=2000",
                     f"run_dir={run_dir}")  # fmt: skip
    agents.train("status/SignalOnce-v0", f"resume={run_dir}", "logging.progress_bar=false")
    assert session_infos(run_dir) == (2, [api_pb2.STATUS_SUCCESS])
    content = EventAccumulator(str(run_dir)).Reload().PluginTagToContent("hparams")  # as TensorBoard reads it
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
    assert end.session_end_info.status == api_pb2.STATUS_SUCCESS
