"""End to end: a real ``tensorboard`` server serves exactly the scalars and hparams training logged."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.runtime import tags
from agents.runtime.run import train

TENSORBOARD = Path(sys.executable).parent / "tensorboard"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """``serve(logdir) -> base URL`` of a tensorboard on 127.0.0.1; stopped after the test."""
    servers: list[subprocess.Popen] = []

    def start(logdir: Path) -> str:
        port = free_port()
        command = [str(TENSORBOARD), "--logdir", str(logdir), "--host", "127.0.0.1", "--port", str(port),
                   "--load_fast", "false", "--reload_interval", "1"]  # fmt: skip
        log = (tmp_path / "tensorboard.log").open("w")
        servers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=30)


def get_json(url: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    headers = {"X-XSRF-Protected": "1", "Content-Type": "application/json"} if body is not None else {}
    with urllib.request.urlopen(urllib.request.Request(url, data, headers), timeout=10) as response:
        return json.loads(response.read())


def wait_for_run(base: str, run: str, tag: str, seconds: float = 90.0) -> dict[str, Any]:
    """Poll ``/data/plugin/scalars/tags`` until ``run`` shows ``tag`` (the server loads lazily)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            tags_by_run = get_json(f"{base}/data/plugin/scalars/tags")
            if tag in tags_by_run.get(run, {}):
                return tags_by_run
        except OSError:  # not listening yet
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"tensorboard at {base} did not list {tag} for run {run!r} in {seconds} s")
        time.sleep(0.5)


def test_tensorboard_serves_what_training_logged(make_config, serve, tmp_path):
    logdir = tmp_path / "runs"
    run_name = "CartPole-v1_seed0"
    result = train(
        make_config("budget.total_env_steps=1500", "budget.window=1000", f"run_dir={logdir / run_name}")
    )
    logged = EventAccumulator(str(result.run_dir)).Reload()
    logged_returns = logged.Scalars(tags.EPISODIC_RETURN)

    base = serve(logdir)
    tags_by_run = wait_for_run(base, run_name, tags.EPISODIC_RETURN)
    assert set(tags_by_run[run_name]) == set(logged.Tags()["scalars"])
    assert {"final/mean_return", "final/env_steps", "final/episodes"} <= set(tags_by_run[run_name])

    query = urllib.parse.urlencode({"run": run_name, "tag": tags.EPISODIC_RETURN})
    served = get_json(f"{base}/data/plugin/scalars/scalars?{query}")  # [[wall_time, step, value], ...]
    assert [(step, value) for _, step, value in served] == [(e.step, e.value) for e in logged_returns]
    assert [value for _, _, value in served] == result.recent_returns  # CartPole returns: exact floats
    assert len(served) == result.episodes and served[-1][1] <= result.env_steps

    experiment = get_json(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
    hparam_names = {info["name"] for info in experiment["hparamInfos"]}
    assert {"env", "seed", "agent.lr", "agent.gamma", "agent.baseline"} <= hparam_names
    metric_tags = {info["name"]["tag"] for info in experiment["metricInfos"]}
    assert metric_tags == {"final/mean_return", "final/env_steps", "final/episodes"}
