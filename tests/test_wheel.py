"""The package as a user installs it: a built wheel (configs inside) installed, not editable, into a
fresh venv, whose ``softmax-reinforce`` command trains and evaluates from a folder outside the repo.

The fresh venv takes its dependencies (torch, gymnasium, ...) from this venv's site-packages through
a ``.pth`` line rather than downloading them again; the project itself comes only from the wheel
(a ``.pth`` line does not run this venv's editable-install hooks, and the test checks where
``agents`` was imported from).
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # ~100 s of pip and subprocesses: CI runs it with the slow tests


def run(*command: str | Path, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    environment = {
        key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "HYDRA_FULL_ERROR")
    }
    done = subprocess.run([str(part) for part in command], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env=environment)  # fmt: skip
    if check:
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the fresh venv's bin folder, a working folder outside the repo) with the wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    pip = (sys.executable, "-m", "pip")
    run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", tmp / "dist", ROOT, cwd=tmp)
    (wheel,) = (tmp / "dist").glob("softmax_reinforce-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "agents/conf/train.yaml", "agents/conf/agent/reinforce.yaml", "agents/conf/experiment/cartpole.yaml",
        "agents/conf/benchmark.yaml", "agents/tools/console.py", "envs/short_corridor.py",
    ):  # fmt: skip
        assert required in names, required
    venv.create(tmp / "venv", with_pip=False)
    site = Path(
        sysconfig.get_path("purelib", vars={"base": str(tmp / "venv"), "platbase": str(tmp / "venv")})
    )
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    bin_dir = tmp / "venv" / "bin"
    run(*pip, "--python", bin_dir / "python", "install", "--no-deps", "--no-index", "-q", wheel, cwd=tmp)
    work = tmp / "work"
    work.mkdir()
    return bin_dir, work


def test_the_wheel_installs_a_console_command_that_trains_and_evaluates(installed):
    bin_dir, work = installed
    where = run(
        bin_dir / "python", "-c", "import agents.tools.cli as c; print(c.__file__, c.CONFIG_DIR)", cwd=work
    )
    module, config_dir = where.stdout.split()
    assert module.startswith(str(bin_dir.parent)) and config_dir.startswith(str(bin_dir.parent)), where.stdout

    command = bin_dir / "softmax-reinforce"
    listed = run(command, "--help", cwd=work).stdout
    assert "compare-gradients" in listed and "benchmark" in listed
    overrides = (
        "env=CartPole-v1",
        "budget.total_env_steps=2000",
        "logging.progress_bar=false",
        "hydra.run.dir=run",
    )
    trained = run(command, "train", *overrides, cwd=work)
    assert f"run folder:  {work / 'run'}" in trained.stdout
    assert (work / "run" / "checkpoint.pt").is_file() and (work / "run" / "train.log").is_file()
    evaluated = run(command, "evaluate", "checkpoint=run", "episodes=2", cwd=work)
    assert "greedy: return" in evaluated.stdout
    compared = run(
        command, "compare-gradients", "env=CartPole-v1", "num_states=16", "num_random_states=0", cwd=work
    )
    assert "float64" in compared.stdout
    mistake = run(command, "train", "agent.lrr=1", cwd=work, check=False)
    assert (
        mistake.returncode == 2
        and mistake.stderr == "error: agent.lrr is not a config key (did you mean agent.lr?)\n"
    )
    refused = run(command, "benchmark", "num_envs=0", cwd=work, check=False)
    assert refused.returncode == 2 and refused.stderr == "error: num_envs=0 must be >= 1\n"


def test_the_benchmarks_child_processes_run_from_the_wheel(installed):
    """A speed row runs in ``python -m agents.tools.console benchmark mode=worker ...``, not a script."""
    bin_dir, work = installed
    code = (
        "from agents.tools.benchmarking import measure_speed_in_subprocess as measure\n"
        "print(measure('CartPole-v1', 2, 500, repeats=1).env_steps)"
    )
    assert int(run(bin_dir / "python", "-c", code, cwd=work).stdout.split()[-1]) >= 500


def test_a_users_config_folder(installed):
    bin_dir, work = installed
    mine = work / "my_configs" / "agent"
    mine.mkdir(parents=True)
    (mine / "mine.yaml").write_text("defaults:\n  - reinforce\n  - _self_\nlr: 0.0123\n")
    command = (
        bin_dir / "softmax-reinforce",
        "train",
        "--config-dir",
        "my_configs",
        "agent=mine",
        "--cfg",
        "job",
    )
    shown = run(*command, cwd=work)
    assert "lr: 0.0123" in shown.stdout
