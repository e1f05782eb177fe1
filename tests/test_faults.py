"""A hostile suite: every run mode, every fault, every file (issue 15).

Each case asserts the exit status, the one line on stderr (no traceback) and that the files that
were there are intact. Most run in-process through the scripts' own ``main`` (a Hydra app is
fast once torch is imported); signals and kill -9 need real processes and are slow-marked where
they take more than a few seconds. ``fault_envs`` (next to this file) registers envs with every
space Gymnasium allows and envs that break mid-run.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.util
import json
import logging
import os
import re
import resource
import runpy
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import fault_envs
import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.envs.classic_control import CartPoleEnv
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import agents
from agents.errors import unwritable_run_dir
from agents.runtime import sizes, tags
from agents.runtime.checkpoint import BEST_CHECKPOINT_NAME, CHECKPOINT_NAME, load_checkpoint
from agents.runtime.evaluation import EvaluateConfig, evaluate
from agents.runtime.rollout import collect_episodes
from agents.runtime.run import train
from agents.runtime.trainer import StopOnSignal, Trainer
from agents.tools.composing import compose_train_config
from agents.tools.exits import run_or_exit
from agents.tools.results import TABLE_BEGIN, TABLE_END

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
TESTS = Path(__file__).resolve().parent
TINY = ["logging.progress_bar=false", "budget.total_env_steps=300"]


# -- helpers ------------------------------------------------------------------------------------
def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file below ``folder``."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def assert_intact(before: dict[str, str], folder: Path) -> None:
    """Every file that was there before is still there, byte for byte."""
    after = snapshot(folder)
    changed = [name for name, digest in before.items() if after.get(name) != digest]
    assert not changed, f"changed or lost: {changed}"


def script(name: str, *args: str, monkeypatch, capsys, cwd: Path) -> tuple[int, str, str]:
    """Run ``scripts/<name>`` in this process as a user would; returns (exit code, stderr, stdout)."""
    path = SCRIPTS / name
    main = runpy.run_path(str(path), run_name=f"{path.stem}_script")["main"]
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    monkeypatch.setattr(sys, "argv", [str(path), *args])
    capsys.readouterr()
    try:
        main()
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code if isinstance(exit_info.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def call(task, capsys) -> tuple[int, str, str]:
    """``task()`` as an entry point runs it (:func:`run_or_exit`); returns (exit code, stderr, stdout)."""
    capsys.readouterr()
    try:
        run_or_exit(task)
        code = 0
    except SystemExit as exit_info:
        code = exit_info.code if isinstance(exit_info.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.err, captured.out


def run_train(*args: str, capsys) -> tuple[int, str, str]:
    """``scripts/train.py <args>`` without Hydra's app around it (faster; the same train())."""
    return call(lambda: train(compose_train_config(list(args)), overrides=list(args)), capsys)


def assert_one_line(code: int, err: str, expected_code: int, fragment: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert "Traceback" not in err, err
    assert code == expected_code, err
    assert len(lines) == 1, lines
    assert fragment in lines[0], lines[0]


@pytest.fixture(autouse=True)
def _restore_logging():
    """An in-process Hydra app points the root logger at the stderr pytest captured for that test;
    the next test must not write to it once it is closed."""
    loggers = [
        logging.root,
        *(x for x in logging.Logger.manager.loggerDict.values() if isinstance(x, logging.Logger)),
    ]
    for logger in loggers:  # handlers an earlier test (any module) left on a closed capture stream
        for handler in list(logger.handlers):
            if getattr(getattr(handler, "stream", None), "closed", False):
                logger.removeHandler(handler)
    handlers, level = list(logging.root.handlers), logging.root.level
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)
    HydraConfig.instance().cfg = None  # an in-process app's overrides must not reach the next test


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished CartPole run (600 steps, a checkpoint every 200) to craft files from."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    cfg = compose_train_config(
        [
            *TINY,
            "budget.total_env_steps=600",
            f"run_dir={run_dir}",
            "checkpoint.every_steps=200",
            "budget.window=5",
        ]
    )
    train(cfg)
    return run_dir


# -- 1. sizes and counts: one line before anything is allocated ---------------------------------
SIZES = [
    (["features=rbf", "features.num_centers=1000"], "lower features.num_centers"),
    (["features=tile", "features.hash_size=1000000000000"], "lower features.hash_size"),
    (["features=fourier", "features.degree=60"], "lower features.degree"),
    (["features=polynomial", "features.degree=300"], "lower features.degree"),
    (["agent.policy=action", "features=rbf", "features.num_centers=70"], "lower features.num_centers"),
    (["vector.num_envs=1000000000000"], "vector.num_envs=1000000000000 must be <= 65536"),
    (["vector.num_envs=2000", "vector.mode=async"], "vector.num_envs=2000 must be <= 1024"),
    (["torch_threads=1000000000000"], "torch_threads=1000000000000 must be <="),
    (["num_seeds=1000000"], "num_seeds=1000000 must be <= 100000"),
    # said "lower features (a smaller map) (or agent.episodes_per_update)"
    (["agent.episodes_per_update=9999999999999"], "one update batch: lower agent.episodes_per_update (or"),
    (
        ["num_seeds=20000", "features=rbf", "features.num_centers=12"],
        "(20000 seeds): lower",
    ),
    (
        ["num_seeds=100000", "agent.policy=mlp", "agent.hidden_sizes=[512,512]"],
        "of it for the policy parameters and Adam's moments (100000 seeds): lower",  # "alone takes"
    ),
    (["num_seeds=20000", "seed_mode=batched", "budget.window=1000000"], "lower budget.window or num_seeds"),
    (["budget.window=1000000000000000000000000000000"], "budget.window=1000000000000000000000000000000 must"),
    (["env=fault_envs:fault/Huge-v0"], "the env's number of states"),
    (["env=fault_envs:fault/HugeActions-v0"], "lower the env's number of actions (1,000,000,000;"),
    (["env=fault_envs:fault/HugeActions-v0", "agent.policy=mlp"], "lower the env's number of actions"),
]


@pytest.mark.parametrize(("overrides", "fragment"), SIZES, ids=[" ".join(o) for o, _ in SIZES])
def test_sizes_are_refused_before_allocating(tmp_path, monkeypatch, capsys, overrides, fragment):
    (tmp_path / "keep.txt").write_text("mine")
    before = snapshot(tmp_path)
    begin = time.perf_counter()
    code, err, _ = run_train(*TINY, *overrides, f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(code, err, 2, fragment)
    assert time.perf_counter() - begin < 20  # refused, not allocated
    assert not (tmp_path / "run").exists()
    assert_intact(before, tmp_path)


def test_many_exact_seeds_are_refused_by_what_each_seeds_run_holds(tmp_path, monkeypatch, capsys):
    """Each seed of seed_mode=exact is a whole run (218 KB each, measured): 100,000 seeds were
    accepted on a 23 GiB machine and grew past 3 GB while their folders were made."""
    monkeypatch.setattr(sizes, "memory_limit", lambda: 8 * 2**30)
    code, err, _ = run_train(*TINY, "num_seeds=30000", f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(code, err, 2, "of it for each seed's own run (its trainer, env, logger and TensorBoard")
    assert err.rstrip().endswith("(30000 seeds): lower num_seeds") and not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("hard", [False, True], ids=["soft", "hard"])
def test_exact_seeds_beyond_the_open_file_limit(tmp_path, hard):
    """Each exact seed holds its lock and its event file open: 1,100 seeds under ulimit -n 1024 were
    a "Too many open files" traceback after their start. A soft limit is raised while the seeds run
    (as Ray does) and put back for an agents.train caller; a hard limit too low is one line, before
    any folder is made. Two seeds under ulimit -n 64 still run."""
    limit = 256

    def limited() -> None:
        _, current = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit if hard else current))

    run_dir = tmp_path / "run"
    overrides = [
        "num_seeds=140",  # 280 files of their own: past the limit
        "budget.total_env_steps=50",
        "logging.progress_bar=false",
        f"run_dir={run_dir}",
    ]
    program = (
        [str(ROOT / "scripts" / "train.py"), *overrides] if hard else
        ["-c", f"import resource, agents; agents.train('CartPole-v1', *{overrides!r}); "
               "print('soft limit after:', resource.getrlimit(resource.RLIMIT_NOFILE)[0])"]
    )  # fmt: skip
    result = subprocess.run([sys.executable, *program], capture_output=True, text=True, cwd=tmp_path,
                            preexec_fn=limited, timeout=300)  # fmt: skip
    if hard:
        assert_one_line(result.returncode, result.stderr, 2, "num_seeds=140 with seed_mode=exact needs about")
        assert "(2 per seed), more than the 256 this process may open (ulimit -Hn)" in result.stderr
        assert not run_dir.exists()
    else:
        assert result.returncode == 0, result.stderr[-2000:]
        assert result.stdout.splitlines()[-1] == f"soft limit after: {limit}", result.stdout[-500:]
        assert len(list(run_dir.glob("seed*/checkpoint.pt"))) == 140

    def at_most_64() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    few = [
        sys.executable,
        str(ROOT / "scripts" / "train.py"),
        *overrides[1:3],
        "num_seeds=2",
        f"run_dir={tmp_path / 'two'}",
    ]
    assert (
        subprocess.run(few, capture_output=True, cwd=tmp_path, preexec_fn=at_most_64, timeout=300).returncode
        == 0
    )


# -- 2. env ids and env_kwargs --------------------------------------------------------------------
ENV_ARGS = [
    (
        ["env=FrozenLake-v1", "+env_kwargs.map_name=9x9"],
        "could not be made with env_kwargs {'map_name': '9x9'}",
    ),
    (["+env_kwargs.max_episode_steps=-5"], "Expect the `max_episode_steps` to be positive"),
    (["+env_kwargs.nosuch=1"], "env_kwargs do not fit env=CartPole-v1"),
    (  # "maybe" stayed a str, which is truthy: the run trained on the slippery lake without a word
        ["env=FrozenLake-v1", "+env_kwargs.is_slippery=maybe"],
        "env_kwargs.is_slippery='maybe' does not fit env=FrozenLake-v1, whose is_slippery is a bool",
    ),
    (["env=NoSuchEnv-v0"], "is not a registered Gymnasium id"),
    (["env=Pendulum-v1"], "a softmax policy needs a Discrete action space"),
    (["env=fault_envs:fault/Reset-v0"], "env=fault_envs:fault/Reset-v0 failed to start: RuntimeError"),
    (  # it said "too many values to unpack (expected 2)" alone; the checker's warning was dropped
        ["env=fault_envs:fault/Obsonlyreset-v0", "vector.num_envs=2"],
        "failed to start: ValueError: too many values to unpack (expected 2) (Gymnasium's env checker: "
        "The result returned by `env.reset()` was not a tuple of the form `(obs, info)`",
    ),
    (["env=fault_envs:fault/BoxEmpty-v0"], "env=fault_envs:fault/BoxEmpty-v0 observes an empty Box"),
    # trained, then its final save failed: a traceback, exit 1, no checkpoint.pt
    (["env=fault_envs:fault/BoxLongdouble-v0"], "observes a Box of dtype float128, which torch cannot hold"),
    (["env=fault_envs:fault/ReturnsInt-v0"], "ReturnsInt-v0 could not be made: TypeError: The environment"),
    (  # the env_kwargs were blamed ("env_kwargs do not fit"), where the entry point took them
        ["env=fault_envs:fault/ReturnsInt-v0", "+env_kwargs.size=3"],
        "ReturnsInt-v0 could not be made with env_kwargs {'size': 3}: TypeError: The environment",
    ),
]


@pytest.mark.parametrize(("overrides", "fragment"), ENV_ARGS, ids=[" ".join(o) for o, _ in ENV_ARGS])
def test_env_mistakes_are_one_line(tmp_path, monkeypatch, capsys, overrides, fragment):
    code, err, _ = run_train(*TINY, *overrides, f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(code, err, 2, fragment)
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


@pytest.mark.parametrize("extra", [[], ["num_seeds=2"]])
def test_an_envs_own_keyboard_interrupt_as_it_starts_is_a_failed_start(tmp_path, monkeypatch, capsys, extra):
    """No signal came (the program's handler records one before it raises): it was "interrupted:
    quit at once", exit 130."""
    args = [*TINY, "env=fault_envs:fault/Keyboardreset-v0", *extra, f"run_dir={tmp_path / 'run'}"]
    code, err, _ = script("train.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, "env=fault_envs:fault/Keyboardreset-v0 failed to start: KeyboardInterrupt")


@pytest.mark.parametrize("extra", [[], ["num_seeds=2"], ["num_seeds=2", "seed_mode=batched"]])
def test_an_async_worker_that_dies_is_an_env_fault_not_a_hang(tmp_path, capsys, extra):
    """A worker process that died (a crashed simulator) left the run blocked for good on a pipe
    its siblings held open, the fault unreported and the healthy seeds unsaved."""
    args = ["env=fault_envs:fault/Crash-v0", "vector.mode=async", "vector.num_envs=2", *extra]
    code, err, _ = run_train(*TINY, *args, f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(code, err, 2, "env=fault_envs:fault/Crash-v0 failed at ")
    assert "(exit code 3) exited: its env called sys.exit or os._exit, or the process crashed" in err
    folders = [tmp_path / "run"] if not extra else [tmp_path / "run" / f"seed{s}" for s in (0, 1)]
    assert all((folder / CHECKPOINT_NAME).is_file() for folder in folders)


@pytest.mark.parametrize("extra", [[], ["num_seeds=2", "seed_mode=batched"]])
def test_an_async_worker_whose_env_raises_is_one_line_and_its_traceback_goes_to_train_log(
    tmp_path, capsys, extra
):
    """Gymnasium warned the worker's traceback in red on stderr (four warnings) before our line."""
    args = ["env=fault_envs:fault/Raise-v0", "vector.mode=async", "vector.num_envs=2", *extra]
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        code, err, _ = run_train(*TINY, *args, f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(code, err, 2, "env=fault_envs:fault/Raise-v0 failed at ")
    assert not [str(w.message) for w in warned if "Worker" in str(w.message)]
    log = (tmp_path / "run" / "train.log").read_text()
    assert "raised in async worker" in log and 'raise RuntimeError("physics exploded")' in log


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("Workerinit", "OSError: the simulator cannot start in a forked process"),
        ("Workerexit", "SystemExit: 4"),
        ("Workercrash", "ChildProcessError: an async worker exited while it made its env"),  # BrokenPipeError
    ],
)
@pytest.mark.parametrize("extra", [[], ["num_seeds=2", "seed_mode=batched"]])
def test_an_env_that_cannot_be_made_in_an_async_worker_is_one_line_saying_why(
    tmp_path, capfd, extra, fault, said
):
    """Gymnasium's worker made its env outside its error handling: each worker printed its traceback
    and died, and the line said ``failed to start: ConnectionResetError`` (or ``BrokenPipeError``)."""
    args = [f"env=fault_envs:fault/{fault}-v0", "vector.mode=async", "vector.num_envs=2", *extra]
    code, err, _ = run_train(
        *TINY, *args, f"run_dir={tmp_path / 'run'}", capsys=capfd
    )  # (the workers' stderr too)
    assert_one_line(code, err, 2, f"env=fault_envs:fault/{fault}-v0 failed to start: {said}")
    assert not (tmp_path / "run").exists()


# -- 3. every space Gymnasium's Discrete and Box accept trains and evaluates ---------------------
SPACES = [
    ("DiscreteStart-v0", "auto"),
    ("DiscreteStart3-v0", "onehot"),
    ("BoxInf-v0", "auto"),
    ("BoxInf-v0", "rbf"),
    ("BoxHalfInf-v0", "tile"),
    ("BoxHalfInf-v0", "fourier"),
    ("BoxInt-v0", "normalized"),
    ("BoxUint8-v0", "polynomial"),
    ("BoxFloat16-v0", "rbf"),
    ("BoxScalar-v0", "auto"),
    ("BoxScalar-v0", "tile"),
    ("BoxOne-v0", "normalized"),
    ("BoxConstant-v0", "fourier"),  # low == high: nan features, "numerical failure ... try a lower agent.lr"
]


@pytest.mark.parametrize(("num_envs", "mode"), [(1, "native"), (1, "sync"), (3, "sync")])
def test_env_steps_count_transitions_not_autoreset_calls(tmp_path, num_envs, mode):
    """A vector env's autoreset call (NEXT_STEP) is no transition and no env step, with one
    sub-env as with several: 300 steps are 15 episodes of 20 in every mode."""
    overrides = [f"vector.num_envs={num_envs}", f"vector.mode={mode}", f"run_dir={tmp_path / 'run'}"]
    result = train(compose_train_config([*TINY, "env=fault_envs:fault/BoxOne-v0", *overrides]))
    assert (result.env_steps, result.episodes) == (300, 300 // fault_envs.EPISODE_STEPS)


@pytest.mark.parametrize(("env", "features"), SPACES, ids=[f"{e}-{f}" for e, f in SPACES])
def test_every_gymnasium_space_trains(tmp_path, env, features):
    run_dir = tmp_path / "run"
    cfg = compose_train_config(
        [*TINY, f"env=fault_envs:fault/{env}", f"features={features}", f"run_dir={run_dir}"]
    )
    result = train(cfg)
    assert result.env_steps == 300 and result.episodes == 300 // fault_envs.EPISODE_STEPS
    assert torch.isfinite(load_checkpoint(run_dir)["policy"]["weight"]).all()


def test_discrete_actions_with_a_start_reach_the_env_shifted(tmp_path):
    """Discrete(3, start=1): the env raises for an action outside 1..3; a vector env too."""
    for extra in ([], ["vector.num_envs=2", "vector.mode=sync"]):
        cfg = compose_train_config(
            [*TINY, "env=fault_envs:fault/DiscreteStart3-v0", *extra, f"run_dir={tmp_path / str(len(extra))}"]
        )
        assert train(cfg).env_steps >= 300
    env = gym.make("fault/DiscreteStart3-v0")  # the unwrapped env, as a user steps it
    obs, _ = env.reset(seed=0)
    agent = agents.load(tmp_path / "0")
    for _ in range(30):  # predict gives the env's actions (1..3), as env.step takes them
        obs, _, terminated, truncated, _ = env.step(agent.predict(obs, deterministic=False))
        if terminated or truncated:
            obs, _ = env.reset()
    assert set(agent.predict(np.stack([obs] * 50), deterministic=False).tolist()) <= {1, 2, 3}
    summary = evaluate(
        EvaluateConfig(checkpoint=str(tmp_path / "0"), episodes=2, csv=str(tmp_path / "e.csv"))
    )
    assert summary.modes["greedy"].lengths == [20, 20]  # evaluation's own env takes the indices


# -- 4. files that are not our checkpoints: evaluate and resume refuse in one line --------------
def _crafted(trained: Path, case: str, folder: Path) -> Path:
    """A checkpoint file in ``folder``, altered as ``case`` says."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_NAME
    state = torch.load(trained / CHECKPOINT_NAME, weights_only=True)
    if case == "other dict":
        state = {"a": torch.zeros(2)}
    elif case == "a tensor":
        state = torch.zeros(3)
    elif case == "a list":
        state = [1, 2, 3]
    elif case == "newer format":
        state["format_version"] = 99
    elif case == "format text":
        state["format_version"] = "one"
    elif case == "config env edited":
        state["config"]["env"] = "Acrobot-v1"
    elif case == "config features edited":
        state["config"]["features"]["name"] = "rbf"
    elif case == "config policy edited":
        state["config"]["agent"]["policy"] = "action"
    elif case == "config invalid":
        state["config"]["agent"]["lr"] = -1.0
    elif case == "config unknown key":
        state["config"]["agent"]["lrr"] = 1.0
    elif case == "config interpolation":
        state["config"]["experiment_name"] = "${nosuch}"
    elif case == "policy not a dict":
        state["policy"] = [torch.zeros(5, 2)]
    elif case == "weight missing":
        state["policy"] = {}
    elif case == "nan weight":
        state["policy"]["weight"][0, 0] = float("nan")
    elif case == "meta weight":  # loads as a shape with no values
        state["policy"]["weight"] = torch.empty(5, 2, device="meta")
    if case == "truncated":
        data = (trained / CHECKPOINT_NAME).read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "pickled code":
        path.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    else:
        torch.save(state, path)
    return path


CRAFTED = [
    ("other dict", "lacks policy, features, config"),
    ("a tensor", "holds a Tensor, not a scripts/train.py checkpoint"),
    ("a list", "holds a list, not a scripts/train.py checkpoint"),
    ("newer format", "has format_version 99; this code reads 1..1"),
    ("format text", "has format_version 'one'"),
    ("config env edited", "does not match its config: policy.weight holds shape [5, 2], but env=Acrobot-v1"),
    ("config features edited", "does not match its config: policy.weight holds shape [5, 2]"),
    ("config policy edited", "spaces as they are now (the env changed since the run saved it, or the file"),
    ("config invalid", "holds an invalid config: agent.lr=-1.0 must be > 0"),
    ("config unknown key", "has a config this code cannot read"),
    ("config interpolation", "has a config this code cannot read"),  # was an InterpolationKeyError traceback
    ("policy not a dict", "policy should be a dict"),
    ("weight missing", "policy.weight holds nothing"),
    ("nan weight", "holds nan/inf in policy.weight: nothing can act on it"),
    ("meta weight", "holds a tensor on the meta device, which holds no values in policy.weight"),  # traceback
    ("truncated", "cannot load checkpoint"),
    ("empty", "cannot load checkpoint"),
    ("pickled code", "cannot load checkpoint"),
]


@pytest.mark.parametrize("entry", ["evaluate", "resume"])
@pytest.mark.parametrize(("case", "fragment"), CRAFTED, ids=[case for case, _ in CRAFTED])
def test_crafted_checkpoints_are_one_line(trained, tmp_path, monkeypatch, capsys, entry, case, fragment):
    path = _crafted(trained, case, tmp_path / "crafted")
    before = snapshot(tmp_path / "crafted")
    if entry == "evaluate":
        code, err, _ = call(lambda: evaluate(EvaluateConfig(checkpoint=str(path), episodes=1)), capsys)
    else:
        code, err, _ = run_train(f"resume={path.parent}", "logging.progress_bar=false", capsys=capsys)
    assert_one_line(code, err, 2, fragment)
    assert_intact(before, tmp_path / "crafted")


def _set(*keys: object, value: object):
    """An edit that puts ``value`` at ``state[keys[0]][keys[1]]...``."""

    def edit(state: dict) -> None:
        for key in keys[:-1]:
            state = state[key]
        state[keys[-1]] = value

    return edit


def _move_optimizer_state(state: dict) -> None:
    per_param = state["learner"]["optimizer"]["state"]
    per_param[5] = per_param.pop(0)  # torch kept it for no parameter: Adam started afresh


def _with_mean_baseline(**saved: object):
    """An edit that makes the run one of agent.baseline=mean, whose state is ``saved``."""

    def edit(state: dict) -> None:
        state["config"]["agent"]["baseline"] = "mean"
        state["learner"]["baseline"] = saved

    return edit


RESUME_CRAFTED = {
    "optimizer state shape": (
        _set("learner", "optimizer", "state", 0, "exp_avg", value=torch.zeros(3, 2)),
        "learner.optimizer.state.0.exp_avg holds shape [3, 2], its parameter [5, 2]",
    ),  # a RuntimeError traceback at the first update, after config.yaml and an event file
    "optimizer step negative": (
        _set("learner", "optimizer", "state", 0, "step", value=torch.tensor(-5.0)),
        "learner.optimizer.state.0.step holds tensor(-5.), not a count of steps >= 0",
    ),  # "result type ComplexFloat can't be cast" at the first update
    "optimizer state of no parameter": (
        _move_optimizer_state,
        "learner.optimizer.state.5 is the state of none",
    ),
    "optimizer lr negative": (
        lambda state: state["learner"]["optimizer"]["param_groups"][0].update(lr=-1.0),
        "learner.optimizer.param_groups.0.lr holds -1.0",
    ),  # trained on, descending
    "buffer start past its rows": (_set("buffer", "start", value=torch.tensor([99])), "buffer.start holds"),
    "buffer start negative": (_set("buffer", "start", value=torch.tensor([-3])), "buffer.start holds"),
    "buffer obs nan": (  # blamed on the env ("returned nan/inf observations"); its save replaced the file
        lambda state: state["buffer"]["obs"].fill_(float("nan")),
        "buffer.obs holds nan/inf (the file was altered)",
    ),
    "buffer obs meta": (  # a RuntimeError traceback ("Tensor.item() cannot be called on meta tensors")
        lambda state: state["buffer"].update(obs=torch.empty(state["buffer"]["obs"].shape, device="meta")),
        "buffer.obs holds a tensor on the meta device, which holds no values (the file was altered)",
    ),
    "actor noise nan": (  # resumed without a word
        lambda state: state["rng"]["actor"]["unused_noise"].fill_(float("nan")),
        "rng.actor.unused_noise holds nan/inf (the file was altered)",
    ),
    "env_steps negative": (
        _set("counters", "env_steps", value=-5),
        "counters.env_steps holds -5, not a count",
    ),
    "episodes fractional": (
        _set("counters", "episodes", value=2.5),
        "counters.episodes holds 2.5, not a count",
    ),
    "recent return nan": (
        _set("recent_returns", 0, value=float("nan")),
        "recent_returns.0 holds nan, not a finite",
    ),
    # a RuntimeError "shape [] vs [5, 2]" at the first update: a 0-d tensor passed the shape check
    "optimizer state 0-d": (
        _set("learner", "optimizer", "state", 0, "exp_avg", value=torch.tensor(1.0)),
        "learner.optimizer.state.0.exp_avg holds shape [], its parameter [5, 2]",
    ),
    "optimizer state lacks exp_avg": (  # KeyError 'exp_avg' at the first update
        lambda state: state["learner"]["optimizer"]["state"][0].pop("exp_avg"),
        "learner.optimizer.state.0 holds ['exp_avg_sq', 'step']; a step makes ['exp_avg', 'exp_avg_sq', "
        "'step']",
    ),
    "optimizer group lacks betas": (  # KeyError 'betas' at the first update
        lambda state: state["learner"]["optimizer"]["param_groups"][0].pop("betas"),
        "learner.optimizer.param_groups.0.betas is missing; its config builds (0.9, 0.999)",
    ),
    "optimizer exp_avg_sq negative": (  # sqrt of a negative: nan parameters
        _set("learner", "optimizer", "state", 0, "exp_avg_sq", value=-torch.ones(5, 2)),
        "learner.optimizer.state.0.exp_avg_sq holds negative values",
    ),
    "optimizer exp_avg complex": (
        _set("learner", "optimizer", "state", 0, "exp_avg", value=torch.zeros(5, 2, dtype=torch.complex64)),
        "learner.optimizer.state.0.exp_avg holds a tensor of complex64, not a real floating-point tensor",
    ),
    "optimizer exp_avg sparse": (
        _set("learner", "optimizer", "state", 0, "exp_avg", value=torch.zeros(5, 2).to_sparse()),
        "learner.optimizer.state.0.exp_avg holds a tensor of layout sparse_coo",
    ),
    "optimizer lr past a float": (  # an OverflowError traceback
        lambda state: state["learner"]["optimizer"]["param_groups"][0].update(lr=10**400),
        "learner.optimizer.param_groups.0.lr holds 1000000",
    ),
    "elapsed past a float": (_set("counters", "elapsed_seconds", value=10**400), "counters.elapsed_seconds"),
    "reached target a word": (_set("counters", "reached_target", value="yes"), "counters.reached_target"),
    "reached target nan": (_set("counters", "reached_target", value=float("nan")), "counters.reached_target"),
    "best past a float": (
        _set("counters", "best_mean_return", value=-(10**400)),
        "counters.best_mean_return",
    ),
    "recent return past a float": (_set("recent_returns", 0, value=10**400), "recent_returns.0 holds"),
    "mean baseline count negative": (  # trained on, its mean weighted by a negative count
        _with_mean_baseline(mean=torch.tensor(1.0), count=torch.tensor(-2939.0)),
        "learner.baseline.count holds tensor(-2939.), not a count of returns >= 0",
    ),
    "mean baseline mean a float": (  # an AttributeError traceback ('float' has no clone)
        _with_mean_baseline(mean=18.9, count=torch.tensor(3.0)),
        "learner.baseline.mean holds a float; its config builds shape []",
    ),
    "mean baseline mean a vector": (  # every b(s) a vector: a shape error at the first update
        _with_mean_baseline(mean=torch.zeros(3), count=torch.tensor(3.0)),
        "learner.baseline.mean holds shape [3]; its config builds shape []",
    ),
    # the generators' states: OverflowError and gymnasium's Error were tracebacks
    "python rng out of range": (_set("rng", "python", value=[2**70] * 624 + [624]), "OverflowError"),
    "numpy rng position huge": (
        lambda state: state["rng"]["numpy"]["state"].update(pos=10**30),
        "OverflowError",
    ),
    "actor rng state huge": (
        lambda state: state["rng"]["actor"]["rng"]["state"].update(state=10**60),
        "OverflowError",
    ),
    "env seed negative": (
        _set("envs", "episode_start", value={"seed": -5}),
        "Error: Seed must be greater or equal to zero",
    ),
    "actor rng missing": (  # "KeyError: 'actor'" said nothing of what to do
        lambda state: state["rng"].pop("actor"),
        "an entry it needs is missing ('actor'; the file was altered): resume from an unaltered save",
    ),
}


@pytest.mark.parametrize("case", list(RESUME_CRAFTED))
def test_a_tampered_run_state_is_refused_before_the_run_folder_is_written(trained, tmp_path, capsys, case):
    """``load_matching`` checked the policy and features only: an altered optimizer state, buffer
    start or counter failed mid-run (after config.yaml and an event file were written) or trained on
    from wrong numbers. Each is one line naming the checkpoint and the entry; no file is added."""
    edit, fragment = RESUME_CRAFTED[case]
    folder = tmp_path / "crafted"
    folder.mkdir()
    state = load_checkpoint(trained)
    edit(state)
    torch.save(state, folder / CHECKPOINT_NAME)
    before = snapshot(folder)
    code, err, _ = run_train(f"resume={folder}", "budget.total_env_steps=100000", capsys=capsys)
    assert_one_line(code, err, 2, f"checkpoint {folder / CHECKPOINT_NAME} cannot be resumed: {fragment}")
    assert snapshot(folder) == before


def test_a_replayed_action_outside_the_action_space_is_one_line(trained, tmp_path, capsys):
    """Resume replays the episode in progress; an edited action 99 reached CartPole's own assert:
    an AssertionError traceback, exit 1."""
    folder = tmp_path / "edited"
    shutil.copytree(trained, folder)
    (folder / ".lock").unlink(missing_ok=True)
    state = load_checkpoint(folder)
    assert len(state["buffer"]["actions"]), "the run should stop mid-episode"
    state["buffer"]["actions"][-1] = 99
    torch.save(state, folder / CHECKPOINT_NAME)
    before = snapshot(folder)
    code, err, _ = run_train(f"resume={folder}", "budget.total_env_steps=100000", capsys=capsys)
    assert_one_line(
        code,
        err,
        2,
        "cannot be resumed: ValueError: its episode in progress holds action 99, outside Discrete(2)",
    )
    assert_intact(before, folder)


def test_resume_from_a_file_names_that_file(trained, tmp_path, capsys):
    """A checkpoint given as a file of another name: the line names it, and the budget change that
    was asked for is not reported as made."""
    path = _crafted(trained, "config env edited", tmp_path / "crafted").rename(
        tmp_path / "crafted" / "mine.pt"
    )
    code, err, _ = run_train(f"resume={path}", "budget.total_env_steps=5000", capsys=capsys)
    assert_one_line(code, err, 2, f"checkpoint {path} does not match its config")


def test_a_resume_given_another_hydra_run_dir_is_refused_and_a_relative_one_saves_its_folder_absolute(
    trained, tmp_path, monkeypatch, capsys
):
    """``resume=<run> hydra.run.dir=<another>`` trained on in the run's folder and left <another>
    with Hydra's .hydra/ and an empty train.log (``run_dir=<another>`` was refused); a resume given
    a relative folder wrote ``run_dir: run`` into config.yaml, where a new run writes it absolute."""
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / ".lock").unlink(missing_ok=True)
    args = ("resume=run", "budget.total_env_steps=800", *TINY[:1])
    code, err, _ = script(
        "train.py", *args, "hydra.run.dir=other", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert_one_line(code, err, 2, "resume= continues the run in its own folder run, not hydra.run.dir=other:")
    assert not (tmp_path / "other").exists()
    code, err, _ = script("train.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert code == 0, err
    assert OmegaConf.load(run / "config.yaml").run_dir == str(run)


def test_a_run_refused_beside_one_started_with_it_leaves_that_runs_files(tmp_path):
    """Two runs started together into one run_dir: the one refused ("in use by another run") took
    the other's ``.lock``, ``.hydra/`` record and empty ``train.log``, and its folder, for its own
    unused output and removed them while that run trained on (a resume then took the folder too:
    two writers). Nothing held by another process is removed now."""
    from agents.runtime.run_lock import RunFolderLock, still_named
    from agents.tools.output_folders import FoldersBefore, _remove_what_the_run_added

    run = tmp_path / "new" / "run"
    (run / ".hydra").mkdir(parents=True)
    for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
        (run / ".hydra" / name).write_text("the other run's")
    (run / "train.log").write_text("")
    holder = subprocess.Popen(  # the other run, holding its lock
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from agents.runtime.run_lock import RunFolderLock; lock = RunFolderLock(Path(sys.argv[1])); "
         "print('held', flush=True); time.sleep(60)", str(run)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = FoldersBefore({tmp_path}, run, set())  # as the refused run saw it: nothing there
        _remove_what_the_run_added(run, before)
        assert sorted(path.name for path in run.iterdir()) == [".hydra", ".lock", "train.log"]
    finally:
        holder.kill()
        holder.wait()
    _remove_what_the_run_added(run, before)  # once it is free, an unused folder still goes
    assert not (tmp_path / "new").exists()
    path = tmp_path / ".lock"  # a lock is kept only on the file the name still holds
    path.write_text("")
    with path.open("a+") as handle:
        assert still_named(path, handle)
        path.unlink()  # a run that gave up removed it after this one opened it, and another made it
        path.write_text("")
        assert not still_named(path, handle)
    RunFolderLock(tmp_path, []).release()


def test_an_abandoned_resume_of_a_folder_without_config_yaml_keeps_the_runs_curves(tmp_path):
    """A resume's start undone (a Ctrl-C before the run handles signals) took a folder without
    config.yaml for a new run's and removed every event file in it, the run's curves too."""
    from agents.runtime.run_folder import FolderBefore
    from agents.runtime.run_lock import RunFolderLock

    run = tmp_path / "run"
    run.mkdir()
    curves = run / "events.out.tfevents.1.host.1.0"
    curves.write_bytes(b"the run's curves")
    before = FolderBefore.now(run, resuming=True)
    lock = RunFolderLock(run, [])
    (run / "events.out.tfevents.2.host.2.0").write_bytes(b"the resume's")
    (run / "config.yaml").write_text("the resume's config")
    before.put_back(lock)
    assert sorted(path.name for path in run.iterdir() if path.name != ".lock") == [curves.name]
    assert curves.read_bytes() == b"the run's curves"


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_named_config_yaml_does_not_hang_a_run(tmp_path, capsys):
    """The run read the folder's config.yaml before it started, and a FIFO's read waits for a writer."""
    os.mkfifo(tmp_path / "config.yaml")
    code, err, _ = run_train(f"run_dir={tmp_path}", *TINY, capsys=capsys)
    assert code == 0, err
    assert (tmp_path / "config.yaml").is_file() and (tmp_path / CHECKPOINT_NAME).is_file()


@pytest.mark.timeout(60)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_named_train_log_is_one_line_not_a_hang(tmp_path, monkeypatch, capsys):
    """Hydra opens the run folder's train.log before the run: a FIFO there waited for a reader forever."""
    (tmp_path / "run").mkdir()
    os.mkfifo(tmp_path / "run" / "train.log")
    code, err, _ = script(
        "train.py", *TINY, "run_dir=run", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert_one_line(code, err, 2, "run/train.log is a pipe or a folder, where Hydra writes the run's log")
    assert err.rstrip().endswith("remove it, or choose another run folder")


def test_a_folder_named_train_log_in_a_resumed_run_is_to_be_removed_only(tmp_path, monkeypatch, capsys):
    """A resume continues in its own folder: it was told "or choose another run folder"."""
    assert run_train(*TINY, f"run_dir={tmp_path / 'run'}", capsys=capsys)[0] == 0
    (tmp_path / "run" / "train.log").unlink(missing_ok=True)
    (tmp_path / "run" / "train.log").mkdir()
    code, err, _ = script(
        "train.py", *TINY, "budget.total_env_steps=600", "resume=run", monkeypatch=monkeypatch, capsys=capsys,
        cwd=tmp_path,
    )  # fmt: skip
    assert_one_line(code, err, 2, "run/train.log is a pipe or a folder, where Hydra writes the run's log")
    assert err.rstrip().endswith("): remove it")


# -- 5. resume: what may change and what may not ------------------------------------------------
IMMUTABLE = [
    ["env=Acrobot-v1"],
    ["features=normalized"],
    ["agent.policy=action"],
    ["agent.dtype=float64"],
    ["vector.num_envs=2"],
    ["seed=3"],
    ["+env_kwargs.max_episode_steps=100"],
    ["agent.optimizer=sgd", "agent.lr=0.5"],
    ["seed_mode=batched"],  # was taken: the checkpoint then said batched, and no resume was allowed again
    ["batched_update_every=4"],
]


@pytest.mark.parametrize("overrides", IMMUTABLE, ids=[" ".join(o) for o in IMMUTABLE])
def test_resume_refuses_what_the_checkpoint_fixes(trained, tmp_path, monkeypatch, capsys, overrides):
    before = snapshot(trained)
    code, err, _ = run_train(f"resume={trained}", *overrides, capsys=capsys)
    key = overrides[0].lstrip("+").partition("=")[0]
    assert_one_line(code, err, 2, "resume cannot change ")
    assert key in err and "agent.lr" not in err.split("(")[0]
    assert "(fixed when the run started: what it saved was built with it)" in err  # not "(the checkpoint's
    assert_intact(before, trained)  # arrays depend on it)", which seed= or batched_update_every= do not


@pytest.mark.parametrize(
    "preset", ["experiment=cartpole", "experiment=none", "experiment=acrobot", "~experiment"]
)
def test_resume_refuses_a_preset_alike_whichever_it_names(trained, capsys, preset):
    """The run's own preset (``experiment=cartpole``) was refused as a change ("resume cannot change
    experiment"), ``experiment=none`` was taken and ignored, ``~experiment`` had the older line."""
    before = snapshot(trained)
    code, err, _ = run_train(f"resume={trained}", preset, capsys=capsys)
    assert_one_line(code, err, 2, f"{preset} picks the settings of a new run, and resume= continues")
    assert_intact(before, trained)


@pytest.mark.parametrize("blank", ["resume=", "resume=Null"])
def test_a_blank_resume_is_a_new_run_with_its_preset(blank):
    """Hydra reads ``resume=`` and ``resume=Null`` as no resume (a new run), but the preset step took
    them for one: ``experiment=`` was refused, and ``env=Acrobot-v1`` lost its preset."""
    assert compose_train_config(["env=Acrobot-v1", blank]).agent.policy == "mlp"  # acrobot_mlp
    assert compose_train_config(["experiment=cartpole", blank]).resume in (None, "")


@pytest.mark.parametrize("override", ["+agent.foo=1", "+foo=1"])
def test_resume_names_an_unknown_key_in_one_line(trained, capsys, override):
    """``resume=<run> +agent.foo=1`` was a ConfigAttributeError traceback from OmegaConf.update; it
    is refused as on a fresh run, naming the key, before anything is written."""
    before = snapshot(trained)
    code, err, _ = run_train(f"resume={trained}", override, capsys=capsys)
    assert_one_line(code, err, 2, f"{override[1:].partition('=')[0]} is not a config key (")
    assert_intact(before, trained)


def test_resume_extends_the_budget_and_applies_learning_overrides(trained, tmp_path, monkeypatch, capsys):
    copy = tmp_path / "run"
    copy.mkdir()
    for name in (CHECKPOINT_NAME, "config.yaml"):
        (copy / name).write_bytes((trained / name).read_bytes())
    code, err, _ = run_train(
        f"resume={copy}",
        "budget.total_env_steps=900",
        "agent.lr=0.05",
        "logging.progress_bar=false",
        capsys=capsys,
    )
    assert code == 0, err
    lr = load_checkpoint(trained)["config"]["agent"]["lr"]
    assert "resume: budget.total_env_steps: 600 -> 900" in err and f"resume: agent.lr: {lr} -> 0.05" in err
    state = load_checkpoint(copy)
    assert state["counters"]["env_steps"] == 900
    assert state["config"]["agent"]["lr"] == 0.05
    assert state["learner"]["optimizer"]["param_groups"][0]["lr"] <= 0.05


def test_a_diverged_value_baseline_says_to_start_again_and_baseline_lr_may_change_on_resume(tmp_path, capsys):
    """The failure said "lower agent.baseline_lr" beside "the last good state is in ...", whose
    resume refused to change agent.baseline_lr, and whose baseline weights were 1.9e38 (float32):
    no step size could resume from them. agent.baseline_lr changes on resume as agent.lr does."""
    run_dir = tmp_path / "run"
    value = ["agent.baseline=value", "logging.progress_bar=false"]
    diverging = ["budget.total_env_steps=3000", "agent.baseline_lr=1", f"run_dir={run_dir}"]
    code, err, _ = run_train(*value, *diverging, capsys=capsys)
    assert_one_line(code, err, 2, "the baseline diverged (start a new run with a lower agent.baseline_lr: ")
    code, err, _ = run_train(
        *value, "budget.total_env_steps=600", f"run_dir={tmp_path / 'ok'}", capsys=capsys
    )
    assert code == 0, err
    more = ["budget.total_env_steps=900", "agent.baseline_lr=0.001"]
    code, err, _ = run_train(f"resume={tmp_path / 'ok'}", *more, capsys=capsys)
    assert code == 0, err
    assert "resume: agent.baseline_lr: 0.01 -> 0.001" in err
    state = load_checkpoint(tmp_path / "ok")
    assert state["counters"]["env_steps"] == 900 and state["config"]["agent"]["baseline_lr"] == 0.001
    assert state["learner"]["baseline"]["optimizer"]["param_groups"][0]["lr"] == 0.001


# -- 6. faults in the user's env: last good state saved, one line, traceback in train.log -------
ENV_FAULTS = [
    ("Raise", "RuntimeError: physics exploded"),
    ("Exit", "SystemExit: 3"),
    ("Keyboard", "KeyboardInterrupt"),  # no signal came: was "interrupted: quit at once", exit 130, not saved
    ("Shape", "shape"),
    ("Dtype", "failed at"),
    ("Outside", "observation 9, outside the observation_space Discrete(4) (states 0..3)"),  # was: IndexError
    ("Negative", "observation -1, outside the observation_space Discrete(4)"),  # was: taken as state 3
]
MODES = {
    "single": [],
    "vector": ["vector.num_envs=2", "vector.mode=sync"],
    "seeds": ["num_seeds=2"],
    "batched": ["num_seeds=2", "seed_mode=batched"],
}


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(("fault", "fragment"), ENV_FAULTS, ids=[f for f, _ in ENV_FAULTS])
def test_env_fault_mid_run_saves_and_names_the_step(tmp_path, monkeypatch, capsys, mode, fault, fragment):
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        "logging.progress_bar=false",
        "budget.total_env_steps=1000",
        f"env=fault_envs:fault/{fault}-v0",
        *(["checkpoint.every_steps=50"] if mode != "batched" else []),  # batched: refused
        *MODES[mode],
        f"run_dir={run_dir}",
        capsys=capsys,
    )
    step = "vector step" if mode == "batched" else "env step"
    assert_one_line(code, err, 2, f"env=fault_envs:fault/{fault}-v0 failed at {step}")
    assert fragment in err and "last good state is in" in err
    folders = [run_dir] if mode in ("single", "vector") else [run_dir / "seed0", run_dir / "seed1"]
    for folder in folders:  # every seed saved, its events flushed
        state = load_checkpoint(folder)
        assert 0 < state["counters"]["env_steps"] < 1000
        if mode != "batched":  # (its event files hold the curves only)
            assert tags.FINAL_MEAN_RETURN in EventAccumulator(str(folder)).Reload().Tags()["scalars"]
    if fault == "Raise" and mode != "seeds":  # (an exact-seeds run logs into the failing seed's folder)
        log = run_dir / "train.log"
        assert "Traceback" in log.read_text() and "physics exploded" in log.read_text()


CLOSE_MODES = {**MODES, "async": ["vector.num_envs=2", "vector.mode=async"]}


@pytest.mark.parametrize("mode", list(CLOSE_MODES))
def test_an_env_whose_close_raises_still_trains(tmp_path, monkeypatch, capsys, mode):
    """A user's close() that raises (before training, on the env made to read its spaces, and
    after the final save) was a traceback, and at the end left the run folder locked; with
    vector.mode=async it was "failed to start" (AsyncVectorEnv closes an env it made in __init__)."""
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        *TINY, "env=fault_envs:fault/Close-v0", *CLOSE_MODES[mode], f"run_dir={run_dir}", capsys=capsys
    )
    assert code == 0 and "Traceback" not in err, err
    for folder in (
        [run_dir] if mode in ("single", "vector", "async") else [run_dir / "seed0", run_dir / "seed1"]
    ):
        assert load_checkpoint(folder)["counters"]["env_steps"] > 0


@pytest.mark.parametrize("mode", list(MODES))
def test_a_first_observation_of_the_wrong_shape_is_one_line(tmp_path, monkeypatch, capsys, mode):
    """Gymnasium's passive env checker warned first ("The obs returned by the `reset()` method is
    not within the observation space", two lines per env) that the one line says anyway."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        code, err, _ = run_train(
            *TINY,
            "env=fault_envs:fault/Resetshape-v0",
            *MODES[mode],
            f"run_dir={tmp_path / 'run'}",
            capsys=capsys,
        )
    assert_one_line(code, err, 2, "env=fault_envs:fault/Resetshape-v0 failed to start: ")
    # a vector env's reset said "ValueError: Output array is the wrong shape" (stacking its sub-envs')
    assert "failed to start: reset returned an observation of shape (3,) and dtype float32; its" in err
    assert not [warning for warning in shown if "observation space" in str(warning.message)]


@pytest.mark.parametrize(
    "mode", [["vector.num_envs=3", "vector.mode=sync"], ["num_seeds=2", "seed_mode=batched"],
             ["vector.num_envs=2", "vector.mode=async"]], ids=["sync", "batched", "async"],
)  # fmt: skip
def test_a_later_sub_envs_first_observation_of_the_wrong_shape_names_it(tmp_path, capsys, mode):
    """Only sub-env 1 (reset with seed 1) misfits: the line was Gymnasium's "ValueError: all input
    arrays must have the same shape" (sync), which says neither which env nor what is wrong."""
    code, err, _ = run_train(
        *TINY, "env=fault_envs:fault/Resetshapeseed1-v0", *mode, f"run_dir={tmp_path / 'run'}", capsys=capsys
    )
    assert_one_line(
        code, err, 2, "env=fault_envs:fault/Resetshapeseed1-v0 failed to start: sub-env 1 (reset with seed "
        "1) returned an observation of shape (3,) and dtype float32; its observation_space says shape (4,)",
    )  # fmt: skip
    assert not (tmp_path / "run").exists()


def test_a_later_seeds_failed_start_names_the_seed(tmp_path, capsys):
    """num_seeds=3 (exact): seed 1's env misfits, and the line did not say which seed's."""
    code, err, _ = run_train(
        *TINY, "env=fault_envs:fault/Resetshapeseed1-v0", "num_seeds=3", f"run_dir={tmp_path / 'run'}",
        capsys=capsys,
    )  # fmt: skip
    assert_one_line(code, err, 2, "seed 1 (those before it started): env=fault_envs:fault/Resetshapeseed1-v0 "
                    "failed to start: reset returned an observation of shape (3,)")  # fmt: skip
    assert not list((tmp_path / "run").glob("seed*"))  # seed 0's folder, made for nothing, is gone


@pytest.mark.parametrize("mode", list(MODES))
def test_a_first_steps_observation_of_the_wrong_shape_is_one_line(tmp_path, capsys, mode):
    """Gymnasium's passive env checker warned first ("The obs returned by the `step()` method is not
    within the observation space", two lines) that the one line says anyway: the first step's
    warnings were shown as it returned, before the trainer's check of what it returned."""
    fault_envs.FaultyEnv.calls = 0
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        code, err, _ = run_train(
            *TINY, "env=fault_envs:fault/FirstShape-v0", *MODES[mode], f"run_dir={tmp_path / 'run'}",
            capsys=capsys,
        )  # fmt: skip
    said = (  # a vector env fails to stack its sub-envs' observations: the checker's finding is in the line
        "Output array is the wrong shape (Gymnasium's env checker: The obs returned by the `step()` method"
        if mode in ("vector", "batched")
        else "returned an observation of shape (3,) and dtype float32; its observation_"
    )
    assert_one_line(code, err, 2, said)
    assert not [warning for warning in shown if "observation space" in str(warning.message)]


def test_the_warnings_of_an_env_that_starts_are_still_shown(tmp_path):
    with pytest.warns(UserWarning, match="not within the observation space"):
        train(
            compose_train_config([*TINY, "env=fault_envs:fault/Outofbox-v0", f"run_dir={tmp_path / 'run'}"])
        )


@pytest.mark.parametrize(
    ("fault", "what"),
    [("Raise", "RuntimeError: physics exploded"), ("Exit", "SystemExit: 3"),
     ("Nanobs", "returned nan/inf observations"),  # was "predict got nan/inf observations", no step
     ("Shape", "returned an observation of shape (3,) and dtype float32; its observation_space says "
               "shape (4,), dtype float32")],
)  # fmt: skip
def test_env_fault_in_evaluate_names_the_episode_and_step(tmp_path, monkeypatch, capsys, fault, what):
    """sys.exit in the env (Exit) ended evaluate.py with status 3 and no line."""
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    train(compose_train_config([*TINY, "budget.total_env_steps=100", f"env=fault_envs:fault/{fault}-v0",
                                f"run_dir={run_dir}"]))  # fmt: skip
    before = snapshot(run_dir)
    fault_envs.FaultyEnv.calls = 0  # raises at its 150th step: greedy episode 7 (20 steps each), step 10
    code, err, _ = script("evaluate.py", f"checkpoint={run_dir}", monkeypatch=monkeypatch, capsys=capsys,
                          cwd=tmp_path)  # fmt: skip
    assert_one_line(
        code, err, 2, f"env=fault_envs:fault/{fault}-v0 failed in greedy evaluation: {what} in step 10 of "
        "episode 7 (reset seed 7); nothing was written",
    )  # fmt: skip
    assert_intact(before, run_dir)
    assert snapshot(run_dir).keys() == before.keys()  # no CSV


@pytest.mark.parametrize(
    ("fault", "fragment"),
    [("Raise", "RuntimeError: physics exploded in step 10 of episode 7"),
     ("Exit", "SystemExit: 3 in step 10 of episode 7"),
     ("Reset", "RuntimeError: the simulator did not start in reset() of episode 0")],
)  # fmt: skip
def test_env_fault_in_compare_gradients_is_one_line(tmp_path, monkeypatch, capsys, fault, fragment):
    fault_envs.FaultyEnv.calls = 0  # Raise: at the 150th step, 7 episodes of 20 steps in
    code, err, _ = script("compare_gradients.py", f"env=fault_envs:fault/{fault}-v0", "num_states=400",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, f"env=fault_envs:fault/{fault}-v0 failed while num_states=400 states")
    assert fragment in err


@pytest.mark.parametrize(
    (
        "fault",
        "raised",
    ),  # KeyboardInterrupt, no signal: was "interrupted: quit at once", exit 130, nothing saved
    [("Raise", "RuntimeError: physics exploded"), ("Keyboard", "KeyboardInterrupt")],
)
def test_env_fault_in_training_evaluation_saves_and_names_the_step(tmp_path, capsys, fault, raised):
    fault_envs.FaultyEnv.calls = 0  # training's 100 steps, then evaluation episodes 0, 1 and step 10 of 2
    run_dir = tmp_path / "run"
    overrides = [f"env=fault_envs:fault/{fault}-v0", "eval.every_steps=100", f"run_dir={run_dir}"]
    code, err, _ = run_train(*TINY, *overrides, capsys=capsys)
    said = (
        f"env=fault_envs:fault/{fault}-v0 failed in the evaluation after env step 100: "
        f"the evaluation env raised {raised} in "
    )  # it said "at env step 101"
    assert_one_line(code, err, 2, said + "step 10 of episode 2")
    assert load_checkpoint(run_dir)["counters"]["env_steps"] == 100
    assert raised in (run_dir / "train.log").read_text()


@pytest.mark.parametrize("mode", list(MODES))
def test_envs_whose_space_differs_from_the_first_ones_are_one_line(tmp_path, capsys, mode):
    """The policy is made for the first env's space; an env made later with another one (a maze
    whose size is drawn as it is made) gave acting observations it could not read: an IndexError
    traceback, exit 1, and a run folder with no checkpoint."""
    fault_envs.GrowingEnv.made = 0
    args = ["env=fault_envs:fault/Growing-v0", *MODES[mode], f"run_dir={tmp_path / 'run'}"]
    code, err, _ = run_train(*TINY, *args, capsys=capsys)
    said = (  # Gymnasium's vector envs check their sub-envs' spaces themselves
        "observation spaces are not equivalent" if "vector.mode=sync" in args or mode == "batched"
        else "differs from the first one's, Discrete("
    )  # fmt: skip
    assert_one_line(code, err, 2, said)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("mode", list(MODES))
def test_envs_whose_action_space_differs_from_the_first_ones_are_one_line(tmp_path, capsys, mode):
    """A policy made for 2 actions stepped an env of 3 (never taking the third) in one env's run,
    a num_seeds run stacked [2, 2]- and [2, 3]-shaped parameters (torch's traceback, exit 1), and
    an evaluation env of 3 actions evaluated the 2-action policy without a word."""
    fault_envs.MoreActionsEnv.made = 0
    args = ["env=fault_envs:fault/MoreActions-v0", *MODES[mode], f"run_dir={tmp_path / 'run'}"]
    code, err, _ = run_train(*TINY, *args, capsys=capsys)
    said = (  # Gymnasium's vector envs check their sub-envs' spaces themselves, in one line too
        "Sub-environment action space doesn't make the `single_action_space`"
        if "vector.mode=sync" in args or mode == "batched"
        else "made an env whose action_space Discrete("
    )  # fmt: skip
    assert_one_line(code, err, 2, said)
    assert "which the policy was made for" in err or "single_action_space" in err
    assert not (tmp_path / "run").exists()
    if mode == "single":
        fault_envs.MoreActionsEnv.made = 0
        evaluated = [
            "env=fault_envs:fault/MoreActions2-v0",
            "eval.every_steps=100",
            f"run_dir={tmp_path / 'e'}",
        ]
        code, err, _ = run_train(*TINY, *evaluated, capsys=capsys)
        assert_one_line(
            code, err, 2, "fault/MoreActions2-v0 (for the evaluation) made an env whose action_space"
        )
        assert not (tmp_path / "e").exists()


@pytest.mark.parametrize("mode", ["single", "seeds", "vector"])
@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("Wrapint", "returned observation 256, outside the uint8 range of the observation_space Box(0, 255"),
        (
            "Beyondfloat",
            "returned observation 1e+300, outside the float32 range of the observation_space Box(",
        ),
    ],
)
def test_an_observation_its_spaces_dtype_cannot_hold_is_one_line(tmp_path, capsys, mode, fault, said):
    """An int64 256 for a uint8 Box was acted on as 256 and stored, and learned from, as 0 (its
    normalized statistics too); a float64 1e300 for a float32 Box was stored as inf and refused as
    "nan/inf observations" the env never returned. Gymnasium's sync vector env casts it itself (and
    refuses the int64 in one line)."""
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    env = f"env=fault_envs:fault/{fault}-v0"
    code, err, _ = run_train(*TINY, env, *MODES[mode], f"run_dir={run_dir}", capsys=capsys)
    if mode == "vector":  # (the float64 becomes a float32 inf there: the update refuses it, and says so)
        assert_one_line(code, err, 2, f"env=fault_envs:fault/{fault}-v0 ")
        if fault == "Beyondfloat":
            assert "(or values past float32's range, which a vector env's float32 array holds as inf)" in err
        return
    assert_one_line(code, err, 2, f"env=fault_envs:fault/{fault}-v0 failed at env step")
    assert said in err and "last good state is in" in err, err
    assert load_checkpoint(run_dir if mode == "single" else run_dir / "seed0")["counters"]["env_steps"] > 0


@pytest.mark.parametrize("mode", list(MODES))
def test_a_step_of_gyms_old_api_is_one_line_with_the_checkers_finding(tmp_path, capsys, mode):
    """A step returning gym < 0.26's 4 values printed Gymnasium's two-line DeprecationWarning, then
    "ValueError: not enough values to unpack (expected 5, got 4)", which says nothing of the API."""
    args = ["env=fault_envs:fault/Fourtuple-v0", *MODES[mode], f"run_dir={tmp_path / 'r'}"]
    code, err, _ = run_train(*TINY, *args, capsys=capsys)
    assert_one_line(
        code, err, 2, "not enough values to unpack (expected 5, got 4) (Gymnasium's env checker: "
    )
    assert "written in old step API which returns one bool instead of two" in err


def test_a_later_resets_observation_that_does_not_fit_is_blamed_on_reset(tmp_path, capsys):
    """The single env's runner resets it when an episode ends: what that reset returned was said
    to be what ``step returned``."""
    env = "env=fault_envs:fault/Laterresetshape-v0"
    code, err, _ = run_train(*TINY, env, f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(code, err, 2, f"{env} failed at env step 20: reset returned an observation of shape (3,)")


@pytest.mark.parametrize(
    "mode", [["vector.num_envs=2", "vector.mode=sync"], ["num_seeds=2", "seed_mode=batched"]]
)
def test_a_later_reset_that_returns_the_observation_alone_is_named_in_a_sync_vector_env(
    tmp_path, capsys, mode
):
    """An old gym env's reset, at an autoreset: Gymnasium's sync vector env split the observation
    into (obs, info) and said "'numpy.float32' object has no attribute 'items'"; one env stepped by
    hand and an async worker said what reset returned."""
    env = "env=fault_envs:fault/Laterobsonlyreset-v0"
    code, err, _ = run_train(*TINY, env, *mode, f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(
        code, err, 2, "sub-env 0's reset returned no (obs, info) pair: a Gymnasium env's reset returns"
    )


def test_an_evaluation_env_that_cannot_be_made_is_one_line(tmp_path, monkeypatch, capsys):
    """Training's evaluation env and ``scripts/evaluate.py``'s were made outside the guard of the
    first env: a constructor that raised there (the third instance of a licensed simulator) was a
    traceback, exit 1."""
    env = "env=fault_envs:fault/Twoinstances-v0"
    fault_envs.FaultyEnv.instances = 0  # the first env (its spaces), the training env, the evaluation's
    code, err, _ = run_train(
        *TINY, env, "eval.every_steps=100", f"run_dir={tmp_path / 'eval'}", capsys=capsys
    )
    said = f"{env} could not be made for the evaluation: OSError: the licence allows 2 instances"
    assert_one_line(code, err, 2, said)
    assert not (tmp_path / "eval").exists()  # refused before anything was written
    fault_envs.FaultyEnv.instances = 0
    run_dir = tmp_path / "run"
    assert run_train(*TINY, env, f"run_dir={run_dir}", capsys=capsys)[0] == 0
    fault_envs.FaultyEnv.instances = (
        1  # evaluate.py: the checkpoint's env, then its greedy episodes' (the 3rd)
    )
    before = snapshot(run_dir)
    code, err, _ = script("evaluate.py", f"checkpoint={run_dir}", "trust_code=true", "episodes=2",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, said)
    assert_intact(before, run_dir)


@pytest.fixture(scope="module")
def endless(tmp_path_factory) -> Path:
    """A run on an env that never ends an episode and has no time limit."""
    run_dir = tmp_path_factory.mktemp("endless") / "run"
    train(compose_train_config([*TINY, "env=fault_envs:fault/Endless-v0", f"run_dir={run_dir}"]))
    return run_dir


@pytest.mark.parametrize("mode", ["single", "batched"])
def test_an_episode_that_runs_long_is_said_once_and_moves_the_bar(tmp_path, monkeypatch, caplog, mode):
    """An env that never ends an episode grew the buffer (30 bytes a step, 1.4 GB and a 353 MB
    checkpoint at 11M steps) without a word, and the bar, which only updates move, stayed at 0."""
    import agents.runtime.env_failures as env_failures_module
    import agents.runtime.trainer as trainer_module

    monkeypatch.setattr(env_failures_module, "LONG_EPISODE_STEPS", 1500)
    shown = []
    real_tqdm = trainer_module.tqdm

    def recorded(*args, **kwargs):
        bar = real_tqdm(*args, **kwargs)
        real_update = bar.update
        bar.update = lambda n=1: (shown.append(n), real_update(n))[1]
        return bar

    monkeypatch.setattr(trainer_module, "tqdm", recorded)
    seeds = ["num_seeds=2", "seed_mode=batched"] if mode == "batched" else []
    overrides = [
        "env=fault_envs:fault/Endless-v0",
        "budget.total_env_steps=5000",
        f"run_dir={tmp_path / 'r'}",
    ]
    with caplog.at_level(logging.WARNING):
        train(compose_train_config(["logging.progress_bar=false", *overrides, *seeds]))
    said = [record.getMessage() for record in caplog.records if "without ending" in record.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith(
        "an episode has run 2,048 steps without ending (env=fault_envs:fault/Endless-v0)"
    )
    assert "needs a time limit ({_target_:gymnasium.wrappers.TimeLimit,max_episode_steps:N}" in said[0]
    if mode == "single":
        assert sum(shown) >= 4096  # moved at each doubling (1,024, 2,048, 4,096 rows), with no update
        caplog.clear()
        with caplog.at_level(logging.WARNING):  # a resume of that episode says it at once
            longer = ["budget.total_env_steps=5100"]
            train(compose_train_config([f"resume={tmp_path / 'r'}", *longer]), overrides=longer)
        said = [record.getMessage() for record in caplog.records if "without ending" in record.getMessage()]
        assert len(said) == 1 and said[0].startswith("an episode has run 5,000 steps without ending"), said
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # episodes that end, however many envs: no word
        ending = ["vector.num_envs=64", "budget.total_env_steps=20000", "budget.stop_at_target=false"]
        train(compose_train_config(["logging.progress_bar=false", *ending, f"run_dir={tmp_path / 'c'}"]))
    assert not [record for record in caplog.records if "without ending" in record.getMessage()]


LIMITED = "env=fault_envs:fault/EndlessLimited-v0"


@pytest.mark.parametrize(
    ("extra", "said"),
    [(["budget.total_env_steps=80"], "no episode ended in 80 env steps, so nothing was learned (0 updates): "
      f"fewer than {LIMITED}'s time limit of 100 steps; raise budget.total_env_steps"),
     (["vector.num_envs=4", "vector.mode=sync"], "no episode ended in 300 env steps, so nothing was learned "
      f"(0 updates): each of the 4 sub-envs took 75 steps, fewer than {LIMITED}'s "
      "time limit of 100 steps; raise budget.total_env_steps or lower vector.num_envs"),
     (["vector.num_envs=4", "num_seeds=2"], "no episode ended in 2 of 2 seeds' runs, so nothing was learned "
      "(0 updates): each of the 4 sub-envs took 75 steps, fewer"),
     # the run's own limit, which gymnasium.make takes over the registered 100 (the note named 100)
     (["+env_kwargs.max_episode_steps=5000", "budget.total_env_steps=150"],
      f"fewer than {LIMITED}'s time limit of 5,000 steps")],
    ids=["single", "vector", "seeds", "own-limit"],
)  # fmt: skip
def test_a_budget_below_the_time_limit_is_said_to_be_the_reason(tmp_path, capsys, extra, said):
    """``experiment=taxi budget.total_env_steps=2000`` (16 sub-envs of 125 steps, Taxi's time limit
    200) said that "an env that never ends one needs a time limit": Taxi has one."""
    code, err, out = run_train(*TINY, LIMITED, f"run_dir={tmp_path / 'run'}", *extra, capsys=capsys)
    assert code == 0 and "Traceback" not in err, err
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and said in notes[0], out


def test_the_note_counts_the_seeds_with_too_few_episodes_beside_those_with_none(tmp_path, capsys):
    """Of three CliffWalking seeds, one ended no episode and two one each, fewer than an update
    takes: the note named only the first (the batched mode's counts the others)."""
    cliff = ["env=CliffWalking-v1", "num_seeds=3", "budget.total_env_steps=4000", f"run_dir={tmp_path / 'r'}"]
    code, err, out = run_train(*TINY, *cliff, capsys=capsys)
    assert code == 0, err
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: no episode ended in 1 of 3 seeds' runs (and 2 more ended fewer episodes than "
        "agent.episodes_per_update), so nothing was learned (0 updates): an env that never ends one needs "
        "a time limit ({_target_:gymnasium.wrappers.TimeLimit,max_episode_steps:N} in env_wrappers, or "
        "max_episode_steps= in its gymnasium.register call); otherwise raise budget.total_env_steps; for "
        "those, also lower agent.episodes_per_update"
    ]


def test_the_summary_counts_one_update_and_one_episode_in_the_singular(tmp_path, capsys):
    """It printed "1 updates" and "over the last 1 episodes"."""
    code, err, out = run_train(*TINY, LIMITED, "budget.total_env_steps=100", "agent.episodes_per_update=1",
                               f"run_dir={tmp_path / 'run'}", capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert "100 env steps, 1 episode, 1 update in" in out and "over the last 1 episode:" in out, out
    code, _, out = run_train(*TINY, "budget.total_env_steps=1", f"run_dir={tmp_path / 'one'}", capsys=capsys)
    assert code == 0 and "finished: 1 env step, 0 episodes" in out and "ended in 1 env step," in out


@pytest.mark.parametrize(
    ("extra", "where"),
    [([], "no episode ended in 300 env steps"), (["num_seeds=2"], "no episode ended in 2 of 2 seeds' runs")],
    ids=["single", "seeds"],
)
def test_training_that_ends_no_episode_says_why_nothing_was_learned(tmp_path, capsys, extra, where):
    """It printed "0 episodes, 0 updates ... mean return over the last 0 episodes: nan" and exited 0
    with no word on why: the env never ends an episode and has no time limit."""
    endless = ["env=fault_envs:fault/Endless-v0", f"run_dir={tmp_path / 'run'}"]
    code, err, out = run_train(*TINY, *endless, *extra, capsys=capsys)
    assert code == 0 and "Traceback" not in err, err
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and where in notes[0], out
    assert "so nothing was learned (0 updates)" in notes[0] and "gymnasium.wrappers.TimeLimit" in notes[0]
    assert "max_episode_steps= in its gymnasium.register call" in notes[0]
    ends = ["env=fault_envs:fault/BoxOne-v0", f"run_dir={tmp_path / 'ends'}"]
    code, _, out = run_train(*TINY, *ends, *extra, capsys=capsys)
    assert code == 0 and "note:" not in out  # its episodes end after 20 steps
    few = ["agent.episodes_per_update=1000", f"run_dir={tmp_path / 'few'}", "logging.tensorboard=false"]
    code, _, out = run_train(*TINY, *few, *extra, capsys=capsys)  # episodes ended, too few for an update
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert code == 0 and len(notes) == 1 and "fewer than agent.episodes_per_update" in notes[0], out
    assert "tensorboard:" not in out  # it named a folder without event files


@pytest.mark.timeout(120)
def test_evaluate_cuts_endless_episodes_at_the_cap_and_says_so(endless, tmp_path, monkeypatch, capsys):
    import agents.runtime.evaluation as evaluation

    monkeypatch.setattr(evaluation, "EPISODE_STEP_CAP", 50)  # the default, 10,000 steps, takes seconds
    result = evaluate(EvaluateConfig(checkpoint=str(endless), episodes=2, csv=str(tmp_path / "e.csv")))
    out = capsys.readouterr().out
    for mode in ("greedy", "sampled"):
        assert result.modes[mode].lengths == [50, 50] and result.modes[mode].capped == 2
        assert f"note: 2 of 2 {mode} episodes were cut at 50 steps" in out
    ended = evaluate(EvaluateConfig(checkpoint=str(endless), episodes=2, max_episode_steps=30,
                                    csv=str(tmp_path / "f.csv")))  # fmt: skip
    assert ended.modes["greedy"].lengths == [30, 30] and not ended.modes["greedy"].capped  # the user's limit
    assert "note" not in capsys.readouterr().out


@pytest.mark.timeout(120)
def test_training_evaluation_of_endless_episodes_is_capped_and_logged(tmp_path, caplog):
    run_dir = tmp_path / "run"
    overrides = ["env=fault_envs:fault/Endless-v0", "eval.every_steps=100", "eval.episodes=2",
                 "eval.max_episode_steps=40", f"run_dir={run_dir}"]  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="agents.runtime.trainer"):
        train(compose_train_config([*TINY, *overrides]))
    notes = [r.getMessage() for r in caplog.records if "episodes were cut at 40 steps" in r.getMessage()]
    assert len(notes) == 3 and "2 of 2 evaluation episodes" in notes[0], notes  # at 100, 200, 300
    assert load_checkpoint(run_dir)["evaluation"]["count"] == 3


class SignalAt(gym.Wrapper):
    """Sends this process SIGINT at its ``at``-th step (as Ctrl-C would); fails the test if the
    evaluation runs on for ``grace`` more steps."""

    def __init__(self, env: gym.Env, at: int, grace: int = 5000) -> None:
        super().__init__(env)
        self.calls, self.at, self.grace = 0, at, grace

    def step(self, action):
        self.calls += 1
        if self.calls == self.at:
            os.kill(os.getpid(), signal.SIGINT)
        if self.calls >= self.at + self.grace:
            raise AssertionError("the evaluation ran on after the stop signal")
        return super().step(action)


@pytest.mark.timeout(120)
def test_a_signal_stops_a_long_evaluation_saves_and_exits_130(tmp_path, capsys):
    run_dir = tmp_path / "run"
    trainer = Trainer(compose_train_config([
        *TINY, "env=fault_envs:fault/Endless-v0", "eval.every_steps=100", "eval.episodes=3",
        "eval.max_episode_steps=1000000000", f"run_dir={run_dir}",
    ]))  # fmt: skip
    trainer.evaluation.env = SignalAt(trainer.evaluation.env, at=500)
    code, err, _ = call(trainer.run, capsys)
    assert code == 130 and "Traceback" not in err, err
    assert f"SIGINT: stopped at env step 100; saved {run_dir / CHECKPOINT_NAME}" in err
    assert trainer.evaluation.env.calls == 500  # stopped at the step the signal came in
    state = load_checkpoint(run_dir)
    assert state["counters"]["env_steps"] == 100 and state["evaluation"]["count"] == 0  # dropped


# -- 7. files and folders ------------------------------------------------------------------------
def test_run_dir_below_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    code, err, _ = run_train(*TINY, f"run_dir={blocker / 'run' / 'deeper'}", capsys=capsys)
    assert_one_line(code, err, 2, f"{blocker} is a file, not a folder (choose another run_dir)")  # named
    assert blocker.read_text() == "mine"


def test_an_output_below_a_file_names_that_file(tmp_path, monkeypatch, capsys):
    """The OS said "File exists" (the csv's folder is a file) where "Not a directory" was meant, and
    named neither: the line names the file in the way."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    run_dir = tmp_path / "run"
    train(compose_train_config([*TINY, f"run_dir={run_dir}"]))
    code, err, out = script(
        "evaluate.py", f"checkpoint={run_dir}", "episodes=1", f"csv={blocker / 'x.csv'}",
        monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path,
    )  # fmt: skip
    assert_one_line(code, err, 2, f"cannot write csv={blocker / 'x.csv'}: {blocker} is a file, not a folder")
    assert "greedy: return" not in out  # refused before the episodes (it said so after them all)
    for out_dir in (blocker / "g", blocker / "g" / "h", blocker):
        code, err, _ = script(
            "gradient_variance.py", f"out={out_dir}", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
        )
        assert_one_line(code, err, 2, f"cannot create {out_dir}: {blocker} is a file, not a folder")
    assert blocker.read_text() == "mine"


def test_an_empty_checkpoint_is_one_line_saying_so(tmp_path, monkeypatch, capsys):
    """``checkpoint=`` said "no checkpoint at checkpoint.pt", a file nobody named."""
    code, err, _ = script("evaluate.py", "checkpoint=", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, "checkpoint= is empty: give the run folder to evaluate")


def test_hydra_run_dir_below_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    code, err, _ = script(
        "train.py",
        *TINY,
        f"hydra.run.dir={blocker / 'run'}",
        monkeypatch=monkeypatch,
        capsys=capsys,
        cwd=tmp_path,
    )
    assert_one_line(code, err, 2, f"{blocker} is a file, not a folder (choose another location)")  # named
    assert blocker.read_text() == "mine"


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    saves = []
    real_save = torch.save

    def fills_up(obj, handle, *args, **kwargs):
        saves.append(1)
        if len(saves) > 2:  # (a periodic save's kept copy is a hard link: no second write)
            raise OSError(28, "No space left on device")
        real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fills_up)
    code, err, _ = run_train(
        *TINY,
        "budget.total_env_steps=2000",
        "checkpoint.every_steps=200",
        f"run_dir={run_dir}",
        capsys=capsys,
    )
    assert_one_line(code, err, 2, "No space left on device; the previous checkpoint.pt is intact")
    monkeypatch.undo()
    assert load_checkpoint(run_dir)["counters"]["env_steps"] == 400
    assert not list(run_dir.glob(".*.tmp"))


def test_evaluate_refuses_an_unwritable_csv_before_it_runs(trained, tmp_path, monkeypatch, capsys):
    """It ran every episode, printed the results and then failed to write the csv (a million
    episodes for nothing): the csv's place is checked first."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    before = snapshot(trained)
    code, err, out = script(
        "evaluate.py",
        f"checkpoint={trained}",
        "episodes=2",
        f"csv={blocker / 'x.csv'}",
        monkeypatch=monkeypatch,
        capsys=capsys,
        cwd=tmp_path,
    )
    assert_one_line(code, err, 2, f"cannot write csv={blocker / 'x.csv'}")
    assert "return" not in out and "csv:" not in out  # nothing ran, no file named
    assert_intact(before, trained)


def test_plot_to_an_unwritable_place_is_one_line(trained, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("mine")
    code, err, _ = script(
        "plot.py",
        f"runs=[{trained}]",
        f"out={blocker / 'fig'}",
        monkeypatch=monkeypatch,
        capsys=capsys,
        cwd=tmp_path,
    )
    assert_one_line(code, err, 2, "cannot use")


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_not_stale(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    holder = Trainer(compose_train_config([*TINY, f"run_dir={run_dir}"]))
    before = {name: digest for name, digest in snapshot(run_dir).items() if not name.startswith("events")}
    code, err, _ = run_train(*TINY, f"run_dir={run_dir}", capsys=capsys)
    assert_one_line(code, err, 2, f"run folder {run_dir} is in use by another run (pid {os.getpid()})")
    assert_intact(before, run_dir)
    holder.run()  # finishing releases the lock
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from agents.runtime.run_lock import RunFolderLock;"
            f"from pathlib import Path; RunFolderLock(Path('{run_dir}')); import os; os._exit(9)",
        ],
        cwd=ROOT,
    )
    assert child.returncode == 9  # died holding the lock: the kernel released it
    code, err, _ = run_train(*TINY, f"resume={run_dir}", "budget.total_env_steps=400", capsys=capsys)
    assert code == 0, err


@pytest.mark.slow
def test_default_folders_of_runs_started_together_differ(tmp_path):
    """Two runs started in the same second with the same seed (the issue's collision)."""
    command = [
        sys.executable,
        str(SCRIPTS / "train.py"),
        "logging.progress_bar=false",
        "budget.total_env_steps=200",
    ]
    processes = [
        subprocess.Popen([*command, f"agent.lr={lr}"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        for lr in (0.01, 0.3)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    folders = list((tmp_path / "outputs" / "CartPole-v1").iterdir())
    assert len(folders) == 2
    assert {load_checkpoint(f)["config"]["agent"]["lr"] for f in folders} == {0.01, 0.3}


# -- 8. checkpoints never go backwards; kill -9 then resume leaves no gap in the events ---------
def test_best_checkpoint_survives_an_interrupted_resume(tmp_path):
    run = [
        *TINY,
        "budget.total_env_steps=3000",
        "budget.window=5",
        "checkpoint.every_steps=250",
        "budget.stop_at_target=false",
        f"run_dir={tmp_path / 'run'}",
    ]
    first = Trainer(compose_train_config(run))
    first.step_limit = 1700
    first.run()
    best_before = load_checkpoint(tmp_path / "run" / BEST_CHECKPOINT_NAME)["counters"]["best_mean_return"]
    latest = load_checkpoint(tmp_path / "run")["counters"]["best_mean_return"]
    assert latest == best_before  # both files store the same, current best
    train(compose_train_config([f"resume={tmp_path / 'run'}", "logging.progress_bar=false"]))
    best_after = load_checkpoint(tmp_path / "run" / BEST_CHECKPOINT_NAME)["counters"]["best_mean_return"]
    assert best_after >= best_before


def test_kill_minus_9_then_resume_leaves_no_gap_and_no_duplicate(tmp_path):
    run_dir = tmp_path / "run"
    cfg = compose_train_config(
        [
            "logging.progress_bar=false",
            "budget.total_env_steps=2400",
            "checkpoint.every_steps=500",
            "budget.stop_at_target=false",
            f"run_dir={run_dir}",
        ]
    )
    doomed = Trainer(cfg)
    doomed.start_clock()
    while doomed.env_steps < 1700:  # past the checkpoint at 1500: these points must not survive
        doomed.step(doomed.actor(doomed.agent.inputs(doomed.obs)))
    doomed.logger.hand_off()
    doomed.logger.writer.flush()  # what a 120 s flush would have put on disk before the kill
    doomed.lock.release()  # the kernel's part of kill -9
    saved = load_checkpoint(run_dir)["counters"]
    assert saved["env_steps"] < 1700
    result = train(compose_train_config([f"resume={run_dir}", "logging.progress_bar=false"]))
    steps = [event.step for event in EventAccumulator(str(run_dir)).Reload().Scalars(tags.EPISODIC_RETURN)]
    assert len(steps) == result.episodes  # every episode, once
    assert steps == sorted(set(steps))


# -- 9. multirun: every job checked first, a summary even when a job fails -----------------------
@pytest.mark.parametrize(
    ("sweep", "fragment"),
    [(["agent.lr=0.1,-1"], "job #1 (agent.lr=-1"), (["env=CartPole-v1,NoSuch-v0"], "job #1 (env=NoSuch-v0"),
     # what seed_mode=batched does not support: job #0 trained, then job #1 failed as it started
     (["num_seeds=2", "seed_mode=batched", "agent.baseline=none,mean"],
      "job #1 (num_seeds=2 seed_mode=batched agent.baseline=mean"),
     # an Optuna search's space: the first trial that drew the value failed, after the others trained
     (["hparams_search=cartpole_tpe", "num_seeds=2", "seed_mode=batched", "hydra.sweeper.n_trials=2"],
      "error: the search space's agent.baseline=mean would fail its trials: seed_mode=batched does not "
      "support agent.baseline=mean"),
     (["hparams_search=cartpole_tpe", "agent.lr=interval(0.0,0.1)", "hydra.sweeper.n_trials=2"],
      "error: the search space's agent.lr=0.0 would fail its trials: agent.lr=0.0 must be > 0"),
     # Hydra reads interval(1,8)'s ends as floats, which an integer key refuses: every trial failed
     (["hparams_search=cartpole_tpe", "agent.episodes_per_update=interval(1,8)", "hydra.sweeper.n_trials=2"],
      "error: the search space's agent.episodes_per_update=1.0 would fail its trials: Error merging override "
      "agent.episodes_per_update=1.0: Value '1.0' of type 'float' could not be converted to Integer; for an "
      "integer key give int(interval(1, 8))"),
     (["hydra/sweeper=optuna", "agent.episodes_per_update=tag(log,interval(2,4))",
       "hydra.sweeper.n_trials=2"], "for an integer key give tag(log, int(interval(2, 4)))"),
     # int() would not help a list's key (nor a bool's): no such hint for them
     (["hydra/sweeper=optuna", "agent.hidden_sizes=interval(1,8)", "hydra.sweeper.n_trials=2"],
      "float is not a ListConfig, list or tuple; take it out of the space (the command line's agent.hidden"),
     # a group's option that is not there: a traceback at the trial that drew it
     (["hydra/sweeper=optuna", "features=choice(raw,nosuch)", "hydra.sweeper.n_trials=2"],
      "error: the search space's features=nosuch would fail its trials: In 'train': Could not find "
      "'features/nosuch' (options: auto,"),
     (["hydra/sweeper=optuna", "agent.lr=interval(0,1)", "hydra.sweeper.n_trials=2"],  # a float key's
      "error: the search space's agent.lr=0.0 would fail its trials: agent.lr=0.0 must be > 0 (try "
      "agent.lr=0.01); take it out of the space (the command line's agent.lr=...)"),
     (["hparams_search=cartpole_tpe", "agent.episodes_per_update=choice(2,2.5)", "hydra.sweeper.n_trials=2"],
      "error: the search space's agent.episodes_per_update=2.5 would fail its trials: Error merging override "
      "agent.episodes_per_update=2.5: Value '2.5' of type 'float' could not be converted to Integer; take it "
      "out of the space (the command line's agent.episodes_per_update=...)"),
     # Optuna draws a range's stop (its distribution's high end), which Hydra's list of it leaves out
     (["hydra/sweeper=optuna", "agent.gamma=range(0.5,1.5,0.5)", "hydra.sweeper.n_trials=2"],
      "error: the search space's agent.gamma=1.5 would fail its trials: agent.gamma=1.5 must be"),
     # a space Optuna cannot draw from: its traceback, after the sweep's folder was made
     (["hparams_search=cartpole_tpe", "seed=range(5,0)"],
      "error: seed=range(5,0): a search draws range(low, high) from low up to high, so it needs low <= high "
      "and a step > 0 (write range(0,5))"),
     (["hydra/sweeper=optuna", "seed=range(0,5,-1)"], "seed=range(0,5,-1): a search draws range(low, high)"),
     (["hydra/sweeper=optuna", "agent.lr=interval(0.1,0.01)"],
      "error: agent.lr=interval(0.1,0.01): interval(low, high) needs low <= high (write interval(0.01,0.1))"),
     (["hydra/sweeper=optuna", "agent.lr=tag(log,interval(0,0.1))"],
      "error: agent.lr=tag(log,interval(0,0.1)): a log interval needs low > 0 (its logarithm is drawn)"),
     (["hydra/sweeper=optuna", "seed=shuffle(range(5,0))"],
      "error: seed=shuffle(range(5,0)) lists no value for the search to choose from")],
)  # fmt: skip
def test_multirun_checks_every_job_before_the_first(tmp_path, monkeypatch, capsys, sweep, fragment):
    code, err, _ = script(
        "train.py",
        "-m",
        *sweep,
        *TINY,
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        monkeypatch=monkeypatch,
        capsys=capsys,
        cwd=tmp_path,
    )
    assert_one_line(code, err, 2, fragment)
    assert not (tmp_path / "sweep").exists()  # nothing ran


def test_hydra_composes_again_only_the_first_of_the_jobs_checked(tmp_path, monkeypatch, capsys):
    """Hydra's sweeper composed every job before launching the batch, as the check had just done
    (two passes of ~0.1 s a job); it now composes the first (with the command line's hydra.*
    settings) and the launcher each job as it runs it."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    loads = []
    load = ConfigLoaderImpl.load_sweep_config

    def counted(self, master_config, sweep_overrides):
        loads.append(list(sweep_overrides))
        return load(self, master_config, sweep_overrides)

    monkeypatch.setattr(ConfigLoaderImpl, "load_sweep_config", counted)
    code, err, _ = script("train.py", "-m", "seed=0,1,2", *TINY, f"hydra.sweep.dir={tmp_path / 's'}",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    assert [job[0] for job in loads] == ["seed=0", "seed=0", "seed=1", "seed=2"]


SWEEP_JOBS = [  # jobs whose configs SweepJobConfigs makes from a cached composition, or composes whole
    ["seed=3"],
    ["seed=4", "agent.lr=0.5"],
    ["experiment=acrobot", "seed=1"],
    ["seed=1", "experiment=acrobot"],  # a group choice after a value: Hydra applies the value after it
    ["experiment=acrobot_mlp", "agent.hidden_sizes=[8]", "agent.lr=0.2"],
    ["features=rbf", "features.num_centers=7", "env=Acrobot-v1"],
    ["+extra=1", "seed=2"],
    ["agent.lr=0.1", "agent.lr=0.3"],  # the same key twice: composed whole
    ["agent={lr: 0.25}", "agent.lr=0.4"],  # a dict and a key inside it: composed whole
    ["~eval", "seed=5"],
    ["seed=abc"],  # each mistake is the same exception, with the same message
    ["sed=1"],
    ["agent.lr=0.1", "agent.nope=1"],
    ["experiment=nope", "seed=1"],
    ["seed=3", "+tag=${seed}", "~tag=3"],  # values after +key and ~key, in Hydra's order
    ["seed=5", "+foo=${seed}", "~foo=5"],
    ["env=Acrobot-v1", "~experiment_name=Acrobot-v1"],
    ["seed=abc", "+agent.lr=5"],  # two mistakes: the first of the command line's is named
    ["nope=1", "~nope2"],
]


def test_a_large_sweep_says_at_a_terminal_that_it_checks_its_jobs(tmp_path, monkeypatch, capsys):
    """``-m seed=range(0,20000)`` checked its jobs for ~200 s without a word; a terminal now hears
    why nothing happens yet (a file or a pipe does not: its errors stay one line)."""
    from agents.tools import sweep_checks

    monkeypatch.setattr(sweep_checks, "SAID_CHECKS", 3)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    code, err, _ = script("train.py", "-m", "agent.lr=0.1,0.2,-1", *TINY, f"hydra.sweep.dir={tmp_path / 's'}",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 2 and err.splitlines() == [
        "checking the 3 jobs of the sweep before the first starts",
        # as typed: Hydra's sweeper wrote False (and env=my_envs\:Maze-v0)
        "error: job #2 (agent.lr=-1 logging.progress_bar=false budget.total_env_steps=300): agent.lr=-1.0 "
        "must be > 0 (try agent.lr=0.01)",
    ], err


@pytest.mark.parametrize("job", SWEEP_JOBS, ids=[" ".join(job) for job in SWEEP_JOBS])
def test_a_sweep_jobs_config_is_the_one_hydra_composes(job):
    """check_sweep composes once per distinct set of the jobs' other overrides and applies their
    values with Hydra's own function (``seed=range(0,1000)``: 0.01 s a job instead of 0.1 s); the
    configs, and the errors, must be those of Hydra's compose."""
    from hydra import compose

    from agents.runtime.config import register_configs
    from agents.tools.composing import config_dir_initialized
    from agents.tools.job_configs import SweepJobConfigs
    from agents.tools.usage import CONFIG_DIR

    register_configs()

    def outcome(make) -> str:
        try:
            return OmegaConf.to_yaml(make(), resolve=False)
        except Exception as error:
            return f"{type(error).__name__}: {error}"

    with config_dir_initialized(CONFIG_DIR):
        configs = SweepJobConfigs("train")
        configs(["seed=0"])  # a cached composition exists for the jobs to reuse
        configs(["seed=0", "experiment=acrobot"])
        assert outcome(lambda: configs(job)) == outcome(lambda: compose("train", overrides=list(job)))


@pytest.mark.parametrize("program", ["train.py", "compare_gradients.py"])
@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ("seed=interval(0,9)", "cannot draw from interval(), which needs a search"),
        ("seed=[1,", "cannot parse override 'seed=[1,'"),
        ("seed=range(0,3),-1", "seed=range(0,3),-1: a sweep's values are one list"),  # "Unexpected type
        ("seed=range(5,0)", "seed=range(5,0) lists no value, so the sweep would run no job"),
    ],  # annotation: Set[str]": train's traceback, evaluate's and compare's "error: tags: ..."
    ids=["interval", "unparsable", "nested", "empty"],
)
def test_a_sweep_the_basic_sweeper_cannot_list_is_one_line(
    tmp_path, monkeypatch, capsys, program, override, fragment
):
    """Hydra's 'BasicSweeper does not support sweep type' and its parse error were tracebacks, exit 1;
    an empty range() launched no job and exited 0, as if the sweep had run."""
    tiny = TINY if program == "train.py" else []
    code, err, _ = script(
        program, "-m", override, *tiny, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert_one_line(code, err, 2, fragment)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "sweep",
    [
        ["-m", "seed=0,1", "run_dir=X"],
        ["-m", "run_dir=X,Y", "seed=0,1"],
        ["-m", "hparams_search=cartpole_tpe", "run_dir=X"],
    ],
    ids=["fixed", "swept-with-another-key", "search"],
)
def test_a_sweep_whose_jobs_share_a_run_dir_is_refused_before_any_runs(tmp_path, monkeypatch, capsys, sweep):
    """Every job trained into the one folder: the second was refused only after the first trained."""
    code, err, _ = script("train.py", *sweep, *TINY, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, "run_dir=X is one folder for several jobs of this sweep")
    assert not list(tmp_path.iterdir())  # no job ran, no sweep folder


@pytest.mark.parametrize(
    ("sweep", "fragment"),
    [
        (["-m", "seed=0,1", "run_dir=X/${env}"], "run_dir=X/${env} is one folder for several jobs"),
        (["-m", "seed=0,1", "hydra.sweep.subdir=same"], "hydra.sweep.subdir=same is one folder for several"),
        (
            ["-m", "hparams_search=cartpole_tpe", "hydra.sweep.subdir=same"],
            "hydra.sweep.subdir=same is one folder",
        ),
        (
            ["-m", "seed=0,1", "features=raw", "hydra.sweep.subdir=${features.name}"],
            r"hydra.sweep.subdir=${features.name} gives jobs #0 (seed=0 features=raw",
        ),
        (
            ["-m", "seed=0,1", "hydra.sweep.subdir=${hydra.job.override_dirname}"],
            r"and #1 (seed=1",
        ),
        (
            ["-m", "hparams_search=cartpole_tpe", "hydra.sweep.subdir=${features.name}"],
            "hydra.sweep.subdir=${features.name} does not name the trial",
        ),
        (  # its trials could land in an earlier search's, whose records Hydra rewrote
            ["-m", "hparams_search=cartpole_tpe", "hydra.sweep.subdir=../earlier/t${hydra:job.num}"],
            "hydra.sweep.subdir=../earlier/t${hydra:job.num} puts a search's trials outside hydra.sweep.dir",
        ),
        (  # --config-name (the project's own name too) left every job unchecked
            ["-m", "--config-name", "train", "seed=0,1", "hydra.sweep.subdir=${features.name}"],
            "hydra.sweep.subdir=${features.name} gives jobs #0 (seed=0",
        ),
        (["-m", "-cn", "train", "agent.lr=0.5,nope"], "job #1 (agent.lr=nope"),
        (  # a package's configs: its jobs were not listed, so job 1 rewrote job 0's records
            ["-m", "-cp", "pkg://agents", "seed=0,1", "hydra.sweep.subdir=same"],
            "hydra.sweep.subdir=same is one folder for several jobs",
        ),
        (
            ["-m", "-cn", "nosuch", "agent.lr=0.1,0.2"],
            "error: Cannot find primary config 'nosuch'",
        ),
    ],
    ids=[
        "interpolated",
        "subdir",
        "search-subdir",
        "interpolated-subdir",
        "override-dirname-subdir",
        "search-interpolated-subdir",
        "search-subdir-outside",
        "config-name-subdir",
        "config-name-job-check",
        "config-package-subdir",
        "config-name-missing",
    ],
)
def test_a_sweep_whose_jobs_resolve_to_one_folder_is_refused(tmp_path, monkeypatch, capsys, sweep, fragment):
    """A constant subdir trained job 0 and failed job 1; run_dir is compared as each job resolves it."""
    code, err, _ = script("train.py", *sweep, *TINY, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, fragment)
    assert not list(tmp_path.iterdir())


def test_a_search_subdir_set_in_a_config_file_is_checked(tmp_path):
    """A search's subdir was checked on the command line only: one in a preset of one's own
    (``subdir: same``) put every trial in one folder, each rewriting the last one's record."""
    from agents.errors import UserError
    from agents.runtime.config import register_configs
    from agents.tools.sweep_checks import check_search_folders, search_base_config
    from agents.tools.usage import CONFIG_DIR

    register_configs()
    (tmp_path / "hparams_search").mkdir()
    text = (Path(CONFIG_DIR) / "hparams_search" / "cartpole_tpe.yaml").read_text()
    (tmp_path / "hparams_search" / "mine.yaml").write_text(
        text.replace("  sweep:\n", "  sweep:\n    subdir: same\n")
    )
    argv = ["-m", f"--config-dir={tmp_path}", "hparams_search=mine"]
    with pytest.raises(UserError, match=r"^hydra.sweep.subdir=same does not name the trial"):
        check_search_folders(search_base_config(argv, "train", CONFIG_DIR))
    check_search_folders(search_base_config([*argv[:2], "hparams_search=cartpole_tpe"], "train", CONFIG_DIR))


@pytest.mark.parametrize(
    ("group", "params", "extra", "fragment"),
    [
        (
            "experiment",
            "seed: 0,1",
            ["hydra.sweep.subdir=same"],
            "hydra.sweep.subdir=same gives jobs #0 (seed=0",
        ),
        ("experiment", "agent.lr: 0.5,nope", [], "job #1 (agent.lr=nope experiment=mine"),
        # a search preset that keeps the basic sweeper: hparams_search= skipped the listing
        ("hparams_search", "seed: 0,-1", [], "job #1 (seed=-1 hparams_search=mine"),
        # a value that does not resolve: a traceback (Hydra's own line before the listing)
        ("experiment", "seed: ${oc.env:SR39_UNSET}", [], "Environment variable 'SR39_UNSET' not found"),
    ],
    ids=["shared-folder", "job-check", "search-preset", "unresolved"],
)
def test_a_sweep_of_a_config_files_sweeper_params_is_checked(
    tmp_path, monkeypatch, capsys, group, params, extra, fragment
):
    """A preset of one's own sweeping ``hydra.sweeper.params`` (Hydra's basic sweeper puts them before
    the command line's): its jobs were not listed, so a constant subdir trained job 0 and job 1 then
    rewrote its ``.hydra/`` record, and a bad value in job 1 surfaced after job 0 had trained."""
    presets = tmp_path / "conf" / group
    presets.mkdir(parents=True)
    (presets / "mine.yaml").write_text(
        f"# @package _global_\nhydra:\n  sweeper:\n    params:\n      {params}\n"
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.delenv("SR39_UNSET", raising=False)
    argv = ["-m", "-cd", str(tmp_path / "conf"), f"{group}=mine", *extra, *TINY]
    code, err, _ = script("train.py", *argv, monkeypatch=monkeypatch, capsys=capsys, cwd=work)
    assert_one_line(code, err, 2, fragment)
    assert not list(work.iterdir())  # no job ran, no sweep folder


def test_a_sweep_dir_that_does_not_resolve_is_one_line(tmp_path, monkeypatch, capsys, recwarn):
    """``hydra.sweep.dir=${nosuch}``: Hydra's warning about the summary callback (five lines on
    stderr) came before the one line."""
    sweep = ["-m", "hydra.sweep.dir=${nosuch}", "seed=0,1"]
    code, err, _ = script("train.py", *sweep, *TINY, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, "error: hydra.sweep.dir: Interpolation key 'nosuch' not found")
    assert not [warning for warning in recwarn if "Callback" in str(warning.message)]
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("below", ["", "/sub"])
def test_a_file_as_the_sweep_dir_is_one_line(tmp_path, monkeypatch, capsys, recwarn, below):
    """``hydra.sweep.dir=<a file>`` (or below one): Hydra's warning about the summary callback's
    FileExistsError (two lines on stderr) came before the one line."""
    (tmp_path / "afile").write_text("mine\n")
    sweep = ["-m", f"hydra.sweep.dir={tmp_path / 'afile'}{below}", "seed=0,1"]
    code, err, _ = script("train.py", *sweep, *TINY, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, f"error: hydra.sweep.dir: cannot create {tmp_path / 'afile'}{below}: ")
    assert "is a file, not a folder (choose another location)" in err
    assert not [warning for warning in recwarn if "Callback" in str(warning.message)]
    assert (tmp_path / "afile").read_text() == "mine\n" and sorted(tmp_path.iterdir()) == [tmp_path / "afile"]


@pytest.mark.parametrize(
    ("program", "args", "fragment"),
    [
        (  # the batched seeds count in numpy's int64: an OverflowError traceback, and an empty folder
            "train.py",
            ["budget.total_env_steps=9223372036854775808", "num_seeds=2", "seed_mode=batched", "run_dir=r"],
            "budget.total_env_steps=9223372036854775808 must be <= 9223372036854775807",
        ),
        (
            "benchmark.py",
            ["mode=seeds-worker", "steps_per_seed=9223372036854775808", "many_seeds=2"],
            "steps_per_seed=9223372036854775808 must be <= 9223372036854775807",
        ),
        (
            "results_table.py",
            ["seeds=1000000000", "presets=[short_corridor]"],
            "seeds=1000000000 must be in [1, 100000]",
        ),
        (  # read whole: the machine ran out of memory
            "results_table.py",
            ["seeds=1", "presets=[short_corridor]", "out=/dev/zero"],
            "out=/dev/zero is not a regular file (a device or a pipe)",
        ),
        (
            "results_table.py",
            ["seeds=1", "presets=[short_corridor]", "out=big.md"],
            "out=big.md exists and holds 17,179,869,184 bytes, more than a results document",
        ),
    ],
    ids=["batched-steps", "benchmark-steps", "results-seeds", "results-device", "results-huge-file"],
)
def test_an_oversized_request_to_a_tool_is_one_line(tmp_path, monkeypatch, capsys, program, args, fragment):
    """Counts past what the tools can hold, and an ``out=`` file read whole, were a traceback, a run
    that could never end, or a machine out of memory."""
    with open(tmp_path / "big.md", "wb") as sparse:
        sparse.truncate(16 * 2**30)  # sparse: no disk used
    code, err, _ = script(program, *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, fragment)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["big.md"]


@pytest.mark.parametrize(
    ("program", "arg", "fragment"),
    [
        ("gradient_variance.py", "out=", "out= needs a value (its default: outputs/gradient_variance)"),
        ("reproduce_sutton_barto.py", "runs=", "runs= needs a value (its default: "),
    ],
)
def test_a_tools_key_left_empty_is_named(tmp_path, monkeypatch, capsys, program, arg, fragment):
    """``out=`` (YAML's null) said ``out: Incompatible value 'None' for field of type 'str'``."""
    code, err, _ = script(program, arg, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, fragment)
    assert not list(tmp_path.iterdir())


def test_a_value_outside_ascii_is_a_path_or_one_line_saying_to_quote_it(tmp_path, monkeypatch, capsys):
    """``run_dir=<folder>/ünï`` (and any value with a letter outside ASCII) was Hydra's
    ``LexerNoViableAltException``, which did not say to quote it."""
    code, err, _ = script(
        "train.py", *TINY, "experiment_name=ünï", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert_one_line(code, err, 2, "outside ASCII only in quotes: write experiment_name='ünï'")
    code, err, _ = script(
        "train.py", *TINY, f"run_dir={tmp_path}/ünï", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert code == 0, err
    assert (tmp_path / "ünï" / "checkpoint.pt").is_file()


def test_the_jobs_primary_config_is_the_one_hydra_composes(tmp_path):
    """The checks before a sweep compose each job from the primary config Hydra's app picks: a
    ``-cd`` folder that holds a ``train.yaml`` too does not replace the project's (the folder check
    refused a sweep Hydra ran), ``-cn mytrain.yaml`` is ``mytrain``, and a ``-cp pkg://`` package's
    jobs are left to Hydra (they were composed from the project's folder: "Cannot find primary
    config")."""
    from agents.tools.composing import primary_config
    from agents.tools.override_words import hydra_args
    from agents.tools.sweep_checks import check_sweep, sweep_jobs
    from agents.tools.usage import CONFIG_DIR

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "train.yaml").write_text("defaults:\n  - _self_\n")
    (mine / "mytrain.yaml").write_text("defaults:\n  - train\n  - _self_\n")

    def primary(*argv: str) -> tuple[str, str, list[str]]:
        return primary_config(hydra_args(argv)[0], "train", CONFIG_DIR)

    assert primary("-cd", str(mine)) == ("train", CONFIG_DIR, [str(mine)])  # Hydra's: the primary folder's
    assert primary("-cd", str(mine), "-cn", "mytrain.yaml") == ("mytrain", str(mine), [CONFIG_DIR])
    in_a_package = ["-m", "-cp", "pkg://my_configs", "-cn", "mytrain", "agent.lr=0.1,0.2"]
    assert len(sweep_jobs(in_a_package)) == 2  # listed (their run folders compared), not composed:
    assert check_sweep(in_a_package, "train", CONFIG_DIR, print) == set()  # no check composed one
    assert len(sweep_jobs(["-m", "-cp", str(mine), "-cn", "mytrain", "agent.lr=0.1,0.2"])) == 2


def test_an_evaluation_sweep_over_a_sweeps_job_folders_evaluates_each(trained, tmp_path, monkeypatch, capsys):
    """``-m checkpoint=<job 0's folder>,<job 1's folder>``: a sweep's job folders hold ``=`` (and
    may hold commas), so the value was quoted whole as one path: 'no checkpoint at <a>,<b>'."""
    from agents.tools.override_paths import quote_paths

    first = shutil.copytree(trained, tmp_path / "0_lr=0.1,gamma=0.9_seed0")
    second = shutil.copytree(trained, tmp_path / "1_lr=0.2_seed0")
    both = f"checkpoint={first},{second}"
    assert quote_paths([both]) == [f"checkpoint='{first},{second}'"]  # one path unless it is a sweep
    assert quote_paths([both], multirun=True) == [f"checkpoint='{first}','{second}'"]
    code, err, _ = script(
        "evaluate.py", "-m", both, "episodes=1", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert code == 0, err
    assert all(len(list(folder.glob("evaluation_*.csv"))) == 1 for folder in (first, second))


def test_an_evaluation_csv_that_is_a_pipe_is_one_line(trained, tmp_path, monkeypatch, capsys):
    """``csv=<a named pipe>.csv`` waited for ever to read its first line (and a device such as
    ``/dev/null`` would have been replaced by the atomic write)."""
    pipe = tmp_path / "e.csv"
    os.mkfifo(pipe)
    args = [f"checkpoint={trained}", "episodes=1", f"csv={pipe}"]
    code, err, _ = script("evaluate.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, f"csv={pipe} is not a regular file (a device or a pipe)")


def test_an_evaluation_sweep_writes_nothing_in_its_job_folders_so_they_may_be_one(
    trained, tmp_path, monkeypatch, capsys
):
    """``evaluate.py -m ... hydra.sweep.subdir=x`` was refused as jobs sharing a folder, where an
    evaluation writes nothing (no Hydra record, no log)."""
    run = shutil.copytree(trained, tmp_path / "run")  # (its csv files go there)
    sweep = ["-m", f"checkpoint={run}", "episodes=1,2", "hydra.sweep.subdir=x"]
    code, err, out = script("evaluate.py", *sweep, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert code == 0 and out.count("greedy: return") == 2, err


@pytest.mark.slow
def test_the_jobs_folders_are_compared_as_hydra_resolves_them(tmp_path):
    """A subdir that interpolates the job's config or Hydra's job node is resolved per job (the second
    job of a shared folder rewrote the first's .hydra/ record); one that tells the jobs apart passes."""
    from agents.errors import UserError
    from agents.runtime.config import register_configs
    from agents.tools.job_names import register_resolvers
    from agents.tools.sweep_checks import check_job_folders, names_the_job, sweep_jobs
    from agents.tools.usage import CONFIG_DIR

    register_configs()
    register_resolvers()

    def check(*argv: str) -> None:
        check_job_folders(["-m", *argv], "train", CONFIG_DIR, sweep_jobs(["-m", *argv]))

    distinct_folders = [
        ["seed=0,1", "hydra.sweep.subdir=x${seed}"],
        ["features=raw,normalized", "hydra.sweep.subdir=${hydra:runtime.choices.features}"],
        ["agent.lr=0.1,0.2", "hydra.sweep.subdir=${hydra.job.override_dirname}"],
        ["seed=0,1", "hydra.sweep.dir=d${seed}", "hydra.sweep.subdir=same"],  # their sweep dirs differ
        ["seed=0,1"],  # the default names the job's number: not resolved
    ]
    for distinct in distinct_folders:
        check(*distinct)
    with pytest.raises(UserError, match=r"#0 \(features=raw agent.lr=0.1\) and #1 .* one folder \(/.*/raw\)"):
        check("features=raw", "agent.lr=0.1,0.2", "hydra.sweep.subdir=${hydra:runtime.choices.features}")
    with pytest.raises(UserError, match=r"jobs #0 \(agent.lr=0.1\) and #2 \(agent.lr=0.1\)"):  # not #1
        check("agent.lr=0.1,0.2,0.1", "hydra.sweep.subdir=lr${agent.lr}")
    # names past 64 characters keep the swept key, as in the jobs (the check cut it: one name for all)
    long_names = [
        "agent.episodes_per_update=2",
        "agent.gamma=0.97",
        "agent.lr=0.1",
        "agent.normalize_returns=true",
    ]
    check(
        *long_names,
        "budget.total_env_steps=500,600",
        "hydra.sweep.subdir='${short_overrides:${hydra.job.override_dirname}}'",
    )
    with pytest.raises(UserError, match=r"\$\{now:%Y-%m-%d\} gives jobs #0 \(seed=0\) and #1"):  # one date
        check("seed=0,1", "hydra.sweep.subdir=${now:%Y-%m-%d}")
    (tmp_path / "real").mkdir()  # two names of one folder
    for name in ("ln0", "ln1"):
        (tmp_path / name).symlink_to(tmp_path / "real")
    with pytest.raises(UserError, match=r"one folder \(.*/real\)"):
        check("seed=0,1", f"hydra.sweep.dir={tmp_path}", "hydra.sweep.subdir=ln${seed}")
    earlier = tmp_path / "earlier" / "0_seed0"  # an earlier sweep's job, reached with ..
    earlier.mkdir(parents=True)
    (earlier / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(UserError, match=r"puts job #0 \(seed=5\) in .*0_seed0, which already holds a run"):
        check("seed=5", f"hydra.sweep.dir={tmp_path}/new", "hydra.sweep.subdir=../earlier/0_seed0")
    escapes = "hydra.sweep.subdir=../earlier/${hydra.job.num}_seed0"  # names the job, but leaves the sweep
    with pytest.raises(UserError, match=r"puts job #0 \(seed=0\) in .*0_seed0, which"):
        check("seed=0,1", f"hydra.sweep.dir={tmp_path}/new", escapes)
    assert names_the_job("t${hydra:job.num}") and names_the_job("${hydra.job.id}")
    assert not names_the_job("${seed}")
    with pytest.raises(UserError, match=r"does not resolve for job #0 \(seed=0\): .*NO_SUCH_VARIABLE_38"):
        check("seed=0,1", "hydra.sweep.subdir=${oc.env:NO_SUCH_VARIABLE_38}")
    tree = tmp_path / "tree"  # a -cp tree whose train.yaml sets the subdir (the project's was read)
    shutil.copytree(CONFIG_DIR, tree)
    text = (tree / "train.yaml").read_text()
    (tree / "train.yaml").write_text(re.sub(r"(?m)^    subdir: .*$", "    subdir: cp_${agent.lr}", text))
    with pytest.raises(UserError, match=r"cp_\$\{agent.lr\} gives jobs #0 \(seed=0\) and #1 \(seed=1\)"):
        check("-cp", str(tree), "seed=0,1")
    check("-cp", str(tree), "agent.lr=0.1,0.2")


@pytest.mark.parametrize("search", [False, True])
def test_a_sweep_whose_jobs_resume_one_run_is_refused_before_any_runs(
    trained, tmp_path, monkeypatch, capsys, search
):
    """Job 0 trained the run on, job 1 continued where job 0 stopped (summed up as a config of its
    own), and the later jobs failed: "nothing left to do"; an Optuna search's trials did the same."""
    before = snapshot(trained)
    swept = ["hparams_search=cartpole_tpe", "hydra.sweeper.n_trials=2"] if search else ["agent.lr=0.01,0.05"]
    sweep = ["-m", f"resume={trained / CHECKPOINT_NAME}", *swept, "budget.total_env_steps=900"]
    code, err, _ = script("train.py", *sweep, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    if search:
        assert_one_line(code, err, 2, f"resume={trained / CHECKPOINT_NAME} is for every trial of this search")
    else:
        assert_one_line(code, err, 2, f"resume={trained} is one run for several jobs of this sweep")
    assert_intact(before, trained)
    assert not list(tmp_path.iterdir())  # no job ran, no sweep folder


def test_a_sweep_says_why_each_failed_job_failed(trained, tmp_path, monkeypatch, capsys):
    """Only the first failed job's line was printed; the others' reasons were nowhere (result.json
    said FAILED, its train.log nothing)."""
    runs = [tmp_path / "a", tmp_path / "b"]
    for run in runs:
        shutil.copytree(trained, run)
    sweep = ["-m", f"resume={runs[0]},{runs[1]}", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    code, err, out = script("train.py", *sweep, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, f"the run in {runs[0]} has nothing left to do: it took its 600 env steps")
    assert f"\n#1 failed: the run in {runs[1]} has nothing left to do: it took its 600 env steps" in out
    assert "#0 failed" not in out  # its line is the sweep's last
    results = sorted((tmp_path / "sweep").glob("*/result.json"))
    assert [json.loads(path.read_text())["error"].startswith(f"the run in {run} has nothing") for path, run in
            zip(results, runs, strict=True)] == [True, True]  # fmt: skip


def test_a_sweep_run_dir_naming_each_jobs_seed_trains_every_job(tmp_path, monkeypatch, capsys):
    """run_dir=runs/${seed} was refused as one folder for both jobs (the override's text compared)."""
    sweep = [
        "-m",
        "seed=0,1",
        "run_dir=runs/${seed}",
        "budget.total_env_steps=50",
        "logging.progress_bar=false",
    ]
    code, err, _ = script(
        "train.py",
        *sweep,
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        monkeypatch=monkeypatch,
        capsys=capsys,
        cwd=tmp_path,
    )
    assert code == 0, err
    assert (tmp_path / "runs" / "0" / "checkpoint.pt").is_file() and (
        tmp_path / "runs" / "1" / "checkpoint.pt"
    ).is_file()


def test_a_sweep_job_refused_a_folder_that_holds_a_run_leaves_its_record(tmp_path, monkeypatch, capsys):
    """A sweep's job given the ``run_dir`` of another sweep's finished job was refused ("nothing was
    written"), yet its record (FAILED, its own overrides) replaced that job's ``result.json`` there,
    and a resume of the run then updated the refusing sweep's summary, not the one that trained it."""
    run = tmp_path / "X"

    def sweep(*args: str) -> tuple[int, str, str]:
        return script("train.py", "-m", *TINY, f"run_dir={run}", *args,
                      monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip

    code, err, _ = sweep("seed=0", f"hydra.sweep.dir={tmp_path / 'first'}")
    assert code == 0, err
    before = snapshot(run)
    code, err, _ = sweep("seed=3", f"hydra.sweep.dir={tmp_path / 'second'}")
    assert code == 2 and f"run_dir={run} already holds a run" in err, err
    after = snapshot(run)
    assert {**after, ".lock": ""} == {**before, ".lock": ""}  # (the lock file names the last pid)
    assert "seed=0" in json.loads((run / "result.json").read_text())["overrides"]


@pytest.mark.parametrize("recorded", [False, True], ids=["starting", "recorded"])
def test_a_sweep_into_the_folder_of_a_running_sweep_is_one_line(tmp_path, monkeypatch, capsys, recorded):
    """Two sweeps started together into one ``hydra.sweep.dir`` both passed the check for an
    earlier sweep's ``multirun.yaml`` and ran: one ``multirun.yaml``, both sweeps' jobs in one
    summary (numbers 0, 0, 1, 1), or, for the same jobs, one's FAILED records over the other's.
    A sweep started once the other had written its record was told to move that folder away."""
    from agents.runtime.run_lock import SweepFolderLock

    sweep_dir = tmp_path / "sweep"
    sweep_dir.mkdir()
    running = SweepFolderLock(sweep_dir)  # the other sweep, as it launches its jobs
    if recorded:
        (sweep_dir / "multirun.yaml").write_text("hydra: {}\n")
    try:
        code, err, _ = script("train.py", "-m", "seed=0,1", *TINY, f"hydra.sweep.dir={sweep_dir}",
                              monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    finally:
        running.release()
    assert_one_line(
        code, err, 2, f"hydra.sweep.dir={sweep_dir} is in use by another sweep (pid {os.getpid()})"
    )
    assert sorted(path.name for path in sweep_dir.iterdir()) == [".sweep.lock", *["multirun.yaml"] * recorded]
    (sweep_dir / "multirun.yaml").unlink(missing_ok=True)
    code, err, _ = script("train.py", "-m", "seed=0,1", *TINY, f"hydra.sweep.dir={sweep_dir}",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0 and (sweep_dir / "summary.md").read_text().count("COMPLETED") == 2, err


@pytest.mark.parametrize(
    ("override", "said"),
    [("hydra.sweeper.params.x=1", "hydra.sweeper.params.x=1 gives a sweep under the sweeper's own key"),
     ("hydra.sweeper.params={seed:'0,1'}", "cannot apply hydra.sweeper.params={seed:'0,1'}: it sets a key")],
)  # fmt: skip
def test_a_key_below_the_basic_sweepers_null_params_is_one_line(
    tmp_path, monkeypatch, capsys, override, said
):
    """OmegaConf merges an override below a null node of Hydra's config with an ``assert`` (or an
    ``AttributeError``): a 41-line traceback, exit 1."""
    sweep_dir = tmp_path / "sweep"
    code, err, _ = script("train.py", "-m", "seed=0", override, *TINY, f"hydra.sweep.dir={sweep_dir}",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, said)
    assert not sweep_dir.exists()


def test_multirun_writes_its_summary_when_a_job_fails(tmp_path, monkeypatch, capsys):
    fault_envs.FaultyEnv.calls = 0
    sweep_dir = tmp_path / "sweep"
    code, err, out = script(
        "train.py",
        "-m",
        "env=CartPole-v1,fault_envs:fault/Raise-v0",
        *TINY,
        f"hydra.sweep.dir={sweep_dir}",
        monkeypatch=monkeypatch,
        capsys=capsys,
        cwd=tmp_path,
    )
    assert code == 2 and "Traceback" not in err
    assert "Error executing job with overrides" not in err  # Hydra's line before ours
    assert "sweep summary" in out and "FAILED" in out  # it was not printed when a job failed
    assert "failed at env step" in err.strip().splitlines()[-1]
    summary = (sweep_dir / "summary.md").read_text()
    assert "COMPLETED" in summary and "FAILED" in summary


def _sweep_folder(tmp_path: Path) -> Path:
    """The one folder below ``tmp_path/multirun`` that holds a sweep's jobs."""
    (job,) = {path.parent.parent for path in (tmp_path / "multirun").rglob("result.json")}
    return job


@pytest.mark.parametrize(
    ("sweep", "step"),
    [  # job 1 fails at the env's 150th step call: its 50th after job 0's 100, or its 150th
        (["env=fault_envs:fault/Raise-v0", "budget.total_env_steps=100,300"], 50),
        (["env=CartPole-v1,fault_envs:fault/Raise-v0", "budget.total_env_steps=300"], 150),
    ],
    ids=["seeds", "envs"],
)
def test_a_failed_job_of_a_sweep_in_its_default_folder_prints_that_folders_summary(
    tmp_path, monkeypatch, capsys, sweep, step
):
    """Without hydra.sweep.dir, the summary's folder was resolved again from the failed job's Hydra
    config: ``${experiment_name}`` is not in it (an InterpolationKeyError traceback, exit 1), and an
    env sweep's ``${now:}`` gave a new time (a summary of no jobs, in a folder that does not exist)."""
    fault_envs.FaultyEnv.calls = 0
    code, err, out = script(
        "train.py", "-m", *sweep, "logging.progress_bar=false", monkeypatch=monkeypatch, capsys=capsys,
        cwd=tmp_path,
    )  # fmt: skip
    assert_one_line(code, err, 2, f"failed at env step {step}:")
    sweep_dir = _sweep_folder(tmp_path)
    summary = (sweep_dir / "summary.md").read_text()
    assert "COMPLETED" in summary and "FAILED" in summary
    assert f"sweep summary ({sweep_dir.relative_to(tmp_path) / 'summary.md'}):\n{summary}" in out


def ctrl_c_while_the_first_checkpoint_is_saved(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """A SIGINT to this process as the first ``checkpoint.pt`` under ``folder`` is moved into place."""
    replace = os.replace

    def replace_after_a_signal(source, target, *args, **kwargs):
        if str(target).endswith(CHECKPOINT_NAME) and not list(folder.rglob(CHECKPOINT_NAME)):
            os.kill(os.getpid(), signal.SIGINT)
        return replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace_after_a_signal)


def _sweep_stopped_in_job_0s_save(tmp_path, monkeypatch, capsys, seeds: str) -> tuple[Path, str]:
    """``train.py -m seed=<seeds>`` in its default folder, Ctrl-C while job 0 saves its checkpoint
    (it completes; the next job is not started): the sweep's folder and stdout, once its exit
    (130, the "not started" line, no traceback) is checked."""
    import agents.tools.multirun_stop

    monkeypatch.setattr(agents.tools.multirun_stop, "_sweep_stopped", [])  # this process's sweep only
    ctrl_c_while_the_first_checkpoint_is_saved(monkeypatch, tmp_path)  # job 0's
    code, err, out = script(
        "train.py", "-m", f"seed={seeds}", *TINY, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert code == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == "not started: the sweep was stopped by a signal"
    return _sweep_folder(tmp_path), out


def test_ctrl_c_in_a_sweep_in_its_default_folder_prints_that_folders_summary(tmp_path, monkeypatch, capsys):
    """As above, for the job that a signal stops (here: the next one, not started)."""
    sweep_dir, out = _sweep_stopped_in_job_0s_save(tmp_path, monkeypatch, capsys, "0,1")
    summary = (sweep_dir / "summary.md").read_text()
    assert "COMPLETED" in summary and "| NOT_LAUNCHED |" in summary  # job 1: no numbers (was INTERRUPTED)
    assert f"sweep summary ({sweep_dir.relative_to(tmp_path) / 'summary.md'}):\n{summary}" in out


def test_ctrl_c_in_a_sweep_launches_no_more_jobs(tmp_path, monkeypatch, capsys):
    """After the first job the signal kept from starting, Hydra's basic launcher went on through
    every other job: each got its folder, Hydra's files and an INTERRUPTED result, and the summary
    was written again each time (a 20,000-job sweep went on for hours after a Ctrl-C)."""
    sweep_dir, out = _sweep_stopped_in_job_0s_save(tmp_path, monkeypatch, capsys, "0,1,2,3")
    assert sorted(path.name.partition("_")[0] for path in sweep_dir.iterdir() if path.is_dir()) == ["0"]
    summary = (sweep_dir / "summary.md").read_text()  # jobs 1-3 are listed, with no folder
    assert summary.count("COMPLETED") == 1 and summary.count("| NOT_LAUNCHED |") == 3, summary
    assert re.search(r"^\| 3 \| 3 +\| +\| +\| +\| +\| NOT_LAUNCHED \|$", summary, re.M), (
        summary
    )  # was nan, 0.0
    assert out.count("sweep summary (") == 1, out
    # a resume of job 0 (in a new process: none of the sweep's state) rewrote the summary from the
    # jobs' result.json files alone, without the rows of jobs 1-3, which have none
    from agents.tools.sweep import SweepSummary

    monkeypatch.setattr(SweepSummary, "launched_sweep_dir", None)
    (job_0,) = (path for path in sweep_dir.iterdir() if path.is_dir())
    code, err, _ = script("train.py", f"resume={job_0}", "budget.total_env_steps=600",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    resumed = (sweep_dir / "summary.md").read_text()
    assert resumed.count("COMPLETED") == 1 and resumed.count("| NOT_LAUNCHED |") == 3, resumed
    assert "| 3 | 3 " in resumed and "| budget.total_env_steps=600 | " in resumed, resumed


def test_a_failed_job_before_a_stopped_one_still_ends_in_its_resume_line(tmp_path, monkeypatch, capsys):
    """Job 0 failed (its env does not start), then a Ctrl-C stopped job 1 after it saved: the
    sweep exited 2 with job 0's line, and job 1's resume line was not printed (job 2 is not
    launched: the launcher ends the sweep, and says job 0's line too)."""
    import agents.tools.multirun_stop

    monkeypatch.setattr(agents.tools.multirun_stop, "_sweep_stopped", [])  # this process's sweep only
    ctrl_c_while_the_first_checkpoint_is_saved(monkeypatch, tmp_path)  # job 1's, at env step 100
    code, err, _ = script(
        "train.py", "-m", "env=fault_envs:fault/Reset-v0,CartPole-v1,Acrobot-v1",
        "checkpoint.every_steps=100", *TINY, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path,
    )  # fmt: skip
    assert code == 130 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert "error: env=fault_envs:fault/Reset-v0 failed to start" in lines[-2], err
    assert lines[-1].startswith("SIGINT: stopped at env step 100; saved ") and "resume with: " in err, err


def test_ctrl_c_as_a_sweep_ends_exits_130(tmp_path, monkeypatch, capsys):
    """A Ctrl-C after the last job had finished (here: as the summary is printed) stopped nothing:
    the sweep exited 0, as if no signal had come."""
    import agents.tools.multirun_stop
    import agents.tools.sweep

    monkeypatch.setattr(agents.tools.multirun_stop, "_sweep_stopped", [])  # this process's sweep only
    print_summary = agents.tools.sweep.print_summary

    def print_summary_then_ctrl_c(sweep_dir):
        print_summary(sweep_dir)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(agents.tools.sweep, "print_summary", print_summary_then_ctrl_c)
    code, err, _ = script(
        "train.py", "-m", "seed=0,1", *TINY, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    sweep_dir = _sweep_folder(tmp_path)
    assert code == 130 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (
        "SIGINT came as the sweep ended: every job had finished, none was stopped "
        f"(results: {sweep_dir.relative_to(tmp_path) / 'summary.md'})"
    )
    assert (sweep_dir / "summary.md").read_text().count("COMPLETED") == 2


def test_ctrl_c_in_an_optuna_search_prints_its_summary_once(tmp_path, monkeypatch, capsys):
    """Optuna's sweeper reads a stopped trial's result twice (its failure count, then the error):
    the table was printed twice."""
    import agents.tools.multirun_stop
    from agents.tools.sweep import SweepSummary

    monkeypatch.setattr(agents.tools.multirun_stop, "_sweep_stopped", [])  # this process's sweep only
    monkeypatch.setattr(SweepSummary, "stopped_summary_printed", False)
    ctrl_c_while_the_first_checkpoint_is_saved(monkeypatch, tmp_path)  # trial 0's
    code, err, out = script(
        "train.py", "-m", "hparams_search=cartpole_tpe", "hydra.sweeper.n_trials=3", *TINY,
        f"hydra.sweep.dir={tmp_path / 'search'}", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path,
    )  # fmt: skip
    assert code == 130 and "Traceback" not in err, err
    assert out.count("sweep summary (") == 1, out


def test_an_optuna_trial_that_ends_no_episode_is_one_line(tmp_path, monkeypatch, capsys):
    """A trial too short to end an episode returns nan: Optuna's sweeper told the study the nan
    twice, and the search died with ``ValueError: Values were told`` and two tracebacks. Resumed to
    its end, the trial's record kept that failure beside its new COMPLETED."""
    code, err, out = script(
        "train.py", "-m", "hparams_search=cartpole_tpe", "hydra.sweeper.n_trials=2", *TINY,
        "budget.total_env_steps=5", f"hydra.sweep.dir={tmp_path / 'search'}",
        monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path,
    )  # fmt: skip
    err = "\n".join(line for line in err.splitlines() if "A new study created" not in line)  # Optuna's log
    line = ("error: job #0 of the search has no return to optimise: no episode ended in "
            "budget.total_env_steps=5; raise it")  # fmt: skip
    assert_one_line(code, err, 2, line)
    assert "| 0 | nan " in out and "FAILED" in out  # the trial's row in the sweep's table
    (record,) = (tmp_path / "search").glob("0_*/result.json")
    assert "no return to optimise" in json.loads(record.read_text())["error"]
    code, err, _ = script("train.py", f"resume={record.parent}", "budget.total_env_steps=300",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    assert {key: json.loads(record.read_text())[key] for key in ("status", "error")} == {
        "status": "COMPLETED", "error": ""}  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [(["num_seeds=2"], "no episode ended in budget.total_env_steps=5 (in one of its seeds at least); raise"),
     # every trial failed, and max_failure_rate let the search go on: Optuna's "No trials are completed yet."
     (["hydra.sweeper.max_failure_rate=1.0"], "error: no trial of the search completed, so it has no best")],
    ids=["seeds", "max_failure_rate"],
)  # fmt: skip
def test_a_search_whose_trials_end_no_episode_says_so(tmp_path, monkeypatch, capsys, extra, fragment):
    code, err, _ = script(
        "train.py", "-m", "hparams_search=cartpole_tpe", "hydra.sweeper.n_trials=2", *TINY,
        "budget.total_env_steps=5", *extra, f"hydra.sweep.dir={tmp_path / 'search'}",
        monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path,
    )  # fmt: skip
    err = "\n".join(line for line in err.splitlines() if "A new study created" not in line)
    assert_one_line(code, err, 2, fragment)


def test_a_failed_evaluate_sweep_prints_no_summary(tmp_path, monkeypatch, capsys):
    """evaluate.py keeps no sweep summary: a failed job printed one of no results anyway."""
    run_dir = tmp_path / "run"
    train(compose_train_config([*TINY, f"run_dir={run_dir}"]))
    code, err, out = script(
        "evaluate.py", "-m", f"checkpoint={run_dir},{tmp_path / 'none'}", "episodes=1",
        monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path,
    )  # fmt: skip
    assert_one_line(code, err, 2, f"no checkpoint at {tmp_path / 'none'}")
    assert "sweep summary" not in out and "no job results found" not in out


# -- 10. every script answers bad arguments with one line ---------------------------------------
SCRIPT_ARGS = [
    ("benchmark.py", ["num_envs=0"], "num_envs=0 must be >= 1"),
    ("benchmark.py", ["repeats=-1"], "repeats=-1 must be >= 1"),
    ("benchmark.py", ["steps=many"], "Value 'many' of type 'str' could not be converted to Integer"),
    ("benchmark.py", ["bogus=1"], "bogus is not a config key (known keys: mode, quick, repeats,"),
    ("benchmark.py", ["many_seed=5"], "many_seed is not a config key (did you mean many_seeds"),
    ("benchmark.py", ["mode=work"], "mode='work' is not one of all, gpu, worker, seeds-worker"),
    ("benchmark.py", ["mode=seeds-worker", "device=gpu"], "device='gpu' is not one of cpu, cuda, cuda:<ind"),
    ("benchmark.py", ["mode=worker", "device=cuda"], "device=cuda: mode=worker does not read it"),
    ("benchmark.py", ["quick=true", "mode=worker"], "quick=true: mode=worker does not read it"),  # said True
    ("benchmark.py", ["--num-envs", "16"], "'--num-envs' is not key=value (try num_envs=<value>;"),
    ("benchmark.py", ["-m", "quick=true"], "'-m': this program composes its config once and is no Hydra app"),
    (
        "benchmark.py",
        ["--hydra-help"],
        "'--hydra-help': this program composes its config once",
    ),  # hydra_help=
    # Hydra's line said "3. To sweep over it, add --multirun", which this program refuses
    (
        "benchmark.py",
        ["repeats=1,2"],
        "repeats=1,2: this program runs once, with one value per key (text with a comma is quoted: ",
    ),
    ("benchmark.py", ["quick=true", "hydra.run.dir=x"], "'hydra.run.dir=x': this program is no Hydra"),
    # a key the mode does not read (quick=true ran CartPole whatever env= said)
    ("benchmark.py", ["quick=true", "env=Acrobot-v1"], "env=Acrobot-v1: mode=all does not read it (read by"),
    ("benchmark.py", ["mode=seeds-worker", "num_envs=4"], "num_envs=4: mode=seeds-worker does not read it"),
    # the line named experiment=, which the user did not type
    ("benchmark.py", ["mode=seeds-worker", "preset=nosuch"], "preset=nosuch is not a preset (presets: "),
    # quick=true ran its own 3 seeds and 10 seeds x 10,000 steps whatever these said
    (
        "benchmark.py",
        ["quick=true", "seeds=1", "many_seeds=2"],
        "seeds=1 many_seeds=2: quick=true runs its own",
    ),
    ("plot.py", ["window=0", "runs=[x]"], "window=0 must be >= 1"),  # was "in [1, 9223372036854775807]"
    ("plot.py", ["window=9223372036854775808", "runs=[x]"], "must be >= 1 and at most 9.22e+18"),
    ("plot.py", ["runs=[/nonexistent/run]"], "/nonexistent/run does not exist"),
    ("reproduce_sutton_barto.py", ["runs=0"], "runs=0 must be >= 1"),
    ("reproduce_sutton_barto.py", ["episodes=1"], "episodes=1 must be >= 2"),  # was an empty figure
    ("gradient_variance.py", ["episodes=0"], "episodes=0 must be >= 10"),  # said >= 1, then "use >= 10"
    ("reproduce_sutton_barto.py", ["seed=-1"], "seed=-1 must be in [0, 4294967295]"),
    ("gradient_variance.py", ["p=2"], "p=2.0 must lie strictly between 0 and 1"),
    ("gradient_variance.py", ["p=1e-6", "episodes=50"], "p=1e-06 is too close to 0: ShortCorridor-v0's"),
    ("gradient_variance.py", ["p=1e-300"], "time limit would cut the episodes the exact gradient assumes"),
    ("gradient_variance.py", ["p=0.999999999"], "p=0.999999999 is too close to 1:"),
    ("gradient_variance.py", ["episodes=nan"], "could not be converted to Integer"),
    ("gradient_variance.py", ["episodes=1000000000"], "episodes=1000000000 on ShortCorridor-v0 would need"),
    ("gradient_variance.py", ["episodes=1000000000"], "GiB of it for the episodes' arrays: lower episodes"),
    # lower runs: the runs were not what outgrew the memory
    (
        "reproduce_sutton_barto.py",
        ["episodes=1000000000"],
        "for the returns of every episode: lower episodes",
    ),
    # ran at theta = 0 and said nothing
    ("gradient_variance.py", ["env=FrozenLake-v1", "p=0.01"], "p=0.01: env=FrozenLake-v1 does not read it"),
    ("results_table.py", ["seeds=0"], "seeds=0 must be in [1, 100000]"),
    # the line named experiment=, which the user did not type
    ("results_table.py", ["presets=[cartpole,nope]"], "presets=nope is not a preset (presets: acrobot,"),
    # it trained the preset twice, and the table gave it two rows
    (
        "results_table.py",
        ["presets=[short_corridor,taxi,short_corridor]"],
        "presets=[short_corridor,taxi,short_corridor] names short_corridor more than once: give each once",
    ),
    # it trained cartpole alone, without a word of long=true
    ("results_table.py", ["long=true", "presets=[cartpole]"], "long=true adds the long presets to the quick"),
    ("compare_gradients.py", ["param_scale=nan"], "param_scale=nan must be a finite number in [0, 1e+06]"),
    # float32 parameters overflowed: a FAIL, exit 1, as if the math were wrong
    ("compare_gradients.py", ["param_scale=1e38"], "param_scale=1e+38 must be a finite number in [0, 1e+06]"),
    ("compare_gradients.py", ["num_states=0"], "need num_states >= 1"),
    ("evaluate.py", ["checkpoint=/nonexistent"], "no checkpoint at /nonexistent"),
    ("train.py", ["agent.lr=-1"], "agent.lr=-1.0 must be > 0"),
    ("train.py", ["budget.target_return=nan"], "budget.target_return=nan must be a finite number"),
    ("train.py", ["~eval"], "~eval removes a key the run reads: set its value instead"),  # a traceback
    # said "Error merging override ...: BudgetConfig (DictConfig) does not support deletion"
    ("train.py", ["~budget.total_env_steps"], "~budget.total_env_steps removes a key the run reads: set its"),
    ("benchmark.py", ["mode=worker", "env=NoSuch-v0"], "env=NoSuch-v0 is not a registered Gymnasium id"),
    # outputs under a file: refused before the work (results_table trained every preset first)
    (
        "results_table.py",
        ["presets=[short_corridor]", "out=/dev/null/x.md"],
        "out=/dev/null/x.md: cannot create",
    ),
    ("gradient_variance.py", ["out=/dev/null/g"], "out=/dev/null/g: cannot create /dev/null/g"),
    ("reproduce_sutton_barto.py", ["out=/dev/null/s"], "out=/dev/null/s: cannot create /dev/null/s"),
    ("compare_gradients.py", ["seed=-1"], "seed=-1 must be in [0, 2**32)"),
    # +key=value added a key nothing reads, and the script ran as if it were not there
    ("evaluate.py", ["checkpoint=/nonexistent", "+epsiodes=1"], "epsiodes is not a config key (did you"),
    ("compare_gradients.py", ["+agent.polcy=action"], "agent.polcy is not a config key (did you"),
    ("benchmark.py", ["+stpes=5"], "stpes is not a config key (did you mean steps"),
    ("benchmark.py", ["+foo=1"], "foo is not a config key (known keys: mode,"),  # started the whole report
    (
        "benchmark.py",
        ["mode=worker", "num_envs=70000"],
        "num_envs=70000 must be <= 65536 (the largest vector",
    ),
]


@pytest.mark.parametrize(
    ("name", "args", "fragment"), SCRIPT_ARGS, ids=[f"{n} {' '.join(a)}" for n, a, _ in SCRIPT_ARGS]
)
def test_scripts_answer_bad_arguments_in_one_line(tmp_path, monkeypatch, capsys, name, args, fragment):
    code, err, _ = script(name, *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, fragment)


UNPARSABLE_VALUES = [  # PyYAML's traceback and exit 1, where the Hydra programs said one line
    ("gradient_variance.py", ["p=[1"], "cannot parse 'p=[1': while parsing a flow sequence, expected ','"),
    ("results_table.py", ["seeds=[1"], "cannot parse 'seeds=[1':"),
    ("reproduce_sutton_barto.py", ["runs=[1"], "cannot parse 'runs=[1':"),
    ("plot.py", ["runs=[1"], "cannot parse 'runs=[1':"),
    ("plot.py", ["runs=[x]", "out={a"], "cannot parse 'out={a': while parsing a flow mapping"),
    ("gradient_variance.py", ["out='x"], 'cannot parse "out=\'x": while scanning a quoted scalar'),
    ("reproduce_sutton_barto.py", ["out=a: b: c"], "cannot parse 'out=a: b: c': mapping values"),
    # an interpolation resolved only as the options were read: InterpolationResolutionError tracebacks
    (
        "plot.py",
        ["runs=${oc.env:NO_SUCH_VARIABLE}"],
        "runs[0]: KeyError raised while resolving interpolation",
    ),
    ("plot.py", ["runs=[x]", "window=${nosuch}"], "window: Interpolation key 'nosuch' not found"),
    ("gradient_variance.py", ["episodes=${oc.env:HOME}"], "could not be converted to Integer"),
    ("results_table.py", ["seeds=${oc.env:NO_SUCH_VARIABLE}"], "seeds: KeyError raised while resolving"),
]


@pytest.mark.parametrize(
    ("name", "args", "fragment"),
    UNPARSABLE_VALUES,
    ids=[f"{n} {' '.join(a)}" for n, a, _ in UNPARSABLE_VALUES],
)
def test_a_value_yaml_cannot_read_is_one_line_naming_it(tmp_path, monkeypatch, capsys, name, args, fragment):
    code, err, _ = script(name, *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, fragment)
    assert not any(tmp_path.iterdir())  # refused before any output


OVERSIZED_BENCHMARKS = [
    # the raw-speed measurement built 10**8 sub-envs (6 GB in 19 s) before the training config refused them
    (["mode=worker", "num_envs=100000000"], "num_envs=100000000 must be <= 65536 (the largest vector env"),
    (["mode=worker", "num_envs=70000"], "num_envs=70000 must be <= 65536"),  # refused after the measurement
    (["mode=seeds-worker", "many_seeds=100001"], "many_seeds=100001 must be <= 100000"),
    (["more_seeds=100001"], "more_seeds=100001 must be <= 100000"),  # refused by its row, after the report
    (["seeds=1000000000"], "seeds=1000000000 must be <= 100000"),  # a list of 10**9 seeds, mid-report
]


@pytest.mark.parametrize(
    ("args", "fragment"), OVERSIZED_BENCHMARKS, ids=[" ".join(a) for a, _ in OVERSIZED_BENCHMARKS]
)
def test_an_oversized_benchmark_is_refused_before_anything_is_built(
    tmp_path, monkeypatch, capsys, args, fragment
):
    import agents.tools.benchmark_report as report
    import agents.tools.benchmarking as benchmarking

    def built(*_args, **_kwargs):
        raise AssertionError("the benchmark measured before checking its sizes")

    for module in (report, benchmarking):
        for name in ("measure_speed", "measure_speed_in_subprocess", "raw_env_steps_per_second", "many_seeds",
                     "many_seeds_in_subprocess", "time_scores", "make_vector_env"):  # fmt: skip
            if hasattr(module, name):
                monkeypatch.setattr(module, name, built)
    code, err, _ = script("benchmark.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, fragment)


REFUSED_BEFORE_THEIR_FOLDER = [  # the folder was created, then the arguments refused
    # tracebacks: Hydra's ValueError for a group set to null; joblib's and Optuna's once the sweep began
    ("train.py", ["agent=null"], "outputs", "agent=null: agent is a config group and takes one of its"),
    ("train.py", ["features=null"], "outputs", "features=null: features is a config group and takes one of"),
    ("train.py", ["vector=null"], "outputs", "vector=null: vector is a config group and takes one of its"),
    ("train.py", ["-m", "seed=0,1", "hydra/launcher=null"], "multirun", "(basic, joblib, ray_local, slurm,"),
    # submitit's traceback (no srun) after multirun.yaml was written, which then refused a retry there
    *(
        [
            (
                "train.py",
                ["-m", "seed=0,1", "hydra/launcher=slurm", "hydra.launcher.partition=p"],
                "multirun",
                "hydra/launcher=slurm submits each job with SLURM's sbatch, and sbatch and srun are not on",
            )
        ]
        if shutil.which("sbatch") is None and shutil.which("srun") is None
        else []
    ),
    # "Could not load 'hydra/launcher/ray'", which did not say to install the extra
    *(
        [
            (
                "train.py",
                ["-m", "seed=0,1", "hydra/launcher=ray_local"],
                "multirun",
                'hydra/launcher=ray_local needs the ray extra: pip install -e ".[ray]"',
            )
        ]
        if importlib.util.find_spec("hydra_plugins.hydra_ray_launcher") is None
        else []
    ),
    (
        "train.py",
        ["-m", "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0"],
        "multirun",
        "hydra.launcher.n_jobs=0 gives joblib no worker: give 1 or more (-1: one per CPU)",
    ),
    *(
        ("train.py", ["-m", "hparams_search=cartpole_tpe", setting], "multirun", f"{setting} must be >= 1")
        for setting in ("hydra.sweeper.n_trials=0", "hydra.sweeper.n_trials=-1", "hydra.sweeper.n_jobs=0")
    ),
    *(  # joblib's ValueError or TimeoutError once the sweep began; pre_dispatch=0 ran no job; backend ignored
        ("train.py", ["-m", "seed=0,1", "hydra/launcher=joblib", f"hydra.launcher.{key}"], "multirun", line)
        for key, line in (
            ("backend=nonsense", "backend=nonsense is not used: Hydra's joblib launcher always runs loky"),
            ("prefer=x", "hydra.launcher.prefer='x' is not one of processes, threads"),
            ("require=sharedmem", "require=sharedmem: the launcher's loky processes share no memory"),
            ("timeout=-1", "hydra.launcher.timeout=-1.0: a job past it would be killed without saving"),
            ("timeout=2", "timeout=2.0: a job past it would be killed without saving; leave it null"),
            ("pre_dispatch=abc", "hydra.launcher.pre_dispatch=abc must be all, an integer >= 1 or an"),
            ("pre_dispatch=0", "hydra.launcher.pre_dispatch=0 must be all, an integer >= 1 or an"),
            ("batch_size=0", "hydra.launcher.batch_size=0 must be auto or an integer >= 1"),
            ("max_nbytes=abc", "hydra.launcher.max_nbytes=abc must be null, a byte count or a size"),
            ("mmap_mode=q", "hydra.launcher.mmap_mode='q' is not one of r+, r, w+, c"),
        )
    ),
    *(  # Optuna's ValueError, SQLAlchemy's; [maximize,minimize] failed every trial
        ("train.py", ["-m", "hparams_search=cartpole_tpe", f"hydra.sweeper.{key}"], "multirun", line)
        for key, line in (
            ("direction=sideways", "hydra.sweeper.direction=sideways is not one of minimize, maximize"),
            ("direction=[maximize,minimize]", "direction=[maximize,minimize] is not one of minimize,"),
            ("max_failure_rate=-1", "hydra.sweeper.max_failure_rate=-1.0 must be in [0, 1]"),
            ("storage=nonsense", "hydra.sweeper.storage=nonsense is not a database URL: give null"),
            ("storage=sqlite:////no/such/x.db", "x.db: the folder /no/such does not exist"),
            ("sampler.seed=-1", "hydra.sweeper.sampler.seed=-1 must be in [0, 2**32)"),
        )
    ),
    ("gradient_variance.py", ["p=0.99"], "outputs/gradient_variance", "p=0.99 is too close to 1"),
    ("gradient_variance.py", ["episodes=5", "out=gv"], "gv", "episodes=5 must be >= 10"),
    ("gradient_variance.py", ["episodes=1000000000", "out=gv"], "gv", "would need about"),
    ("reproduce_sutton_barto.py", ["runs=1000000000", "out=sbx"], "sbx", "would need about"),
]


@pytest.mark.parametrize(
    ("name", "args", "folder", "fragment"),
    REFUSED_BEFORE_THEIR_FOLDER,
    ids=[f"{n} {' '.join(a)}" for n, a, _, _ in REFUSED_BEFORE_THEIR_FOLDER],
)
def test_a_refused_study_leaves_no_output_folder(tmp_path, monkeypatch, capsys, name, args, folder, fragment):
    code, err, _ = script(name, *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, fragment)
    assert not (tmp_path / folder).exists() and not list(tmp_path.iterdir())


LOGGING_MISTAKES = [  # Hydra's "ValueError: Unable to configure root logger" traceback
    (
        [],
        "hydra.job_logging.root.level=NOPE",
        "hydra.job_logging: Unable to configure root logger: Unknown level: 'NOPE'",
    ),
    (
        [],
        "hydra.hydra_logging.root.level=NOPE",
        "hydra.hydra_logging: Unable to configure root logger: Unknown",
    ),
    ([], "hydra.job_logging.handlers.file.filename=/no/such/x.log", "handler 'file': [Errno 2] No such file"),
    (  # accepted by logging.config, then a "--- Logging error ---" traceback for every line
        [],
        "hydra.job_logging.formatters.simple.format='%(nope)s'",
        "hydra.job_logging: handler 'console' cannot format a line: Formatting field not found in record",
    ),
    (["-m", "seed=0,1"], "hydra.job_logging.root.level=NOPE", "hydra.job_logging: Unable to configure root"),
    (  # in the joblib workers, which configure their jobs' logging
        ["-m", "seed=0,1", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        "hydra.job_logging.root.level=NOPE",
        "hydra.job_logging: Unable to configure root logger: Unknown level: 'NOPE'",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("sweep", "setting", "fragment"), LOGGING_MISTAKES,
                         ids=[" ".join([*s, a]) for s, a, _ in LOGGING_MISTAKES])  # fmt: skip
def test_a_logging_setting_that_python_refuses_is_one_line(tmp_path, sweep, setting, fragment):
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "train.py"), *sweep, setting, "budget.total_env_steps=1000"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert_one_line(completed.returncode, completed.stderr, 2, fragment)
    assert completed.stderr.rstrip().endswith(": fix that setting or leave it out")
    # the run's folder, made for nothing, is gone; a sweep's too (it kept its multirun.yaml, and with
    # joblib a job folder holding an empty train.log)
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
@pytest.mark.parametrize("given", ["{mine}", "${{oc.env:MINE}}"], ids=["path", "interpolation"])
def test_a_refused_logging_setting_keeps_what_the_sweep_folder_held(tmp_path, given):
    """What the given hydra.sweep.dir held before stays, and so does the folder. Named by an
    interpolation, the folder was not known to be the given one: the empty subfolder and a folder
    holding only Hydra's files were removed (and multirun.yaml stayed)."""
    mine = tmp_path / "mine"
    (mine / "data").mkdir(parents=True)  # empty: it looks like a job's folder made for nothing
    (mine / "old" / ".hydra").mkdir(parents=True)  # a folder only Hydra's files: an old job's
    (mine / "old" / ".hydra" / "config.yaml").write_text("seed: 0\n")
    (mine / "notes.txt").write_text("mine\n")
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "train.py"), "-m", "seed=0,1", "hydra.job_logging.root.level=NOPE",
         f"hydra.sweep.dir={given.format(mine=mine)}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "MINE": str(mine)},
    )  # fmt: skip
    assert_one_line(completed.returncode, completed.stderr, 2, "Unknown level: 'NOPE'")
    assert [path.name for path in tmp_path.iterdir()] == ["mine"]
    assert sorted(path.name for path in mine.iterdir()) == ["data", "notes.txt", "old"]
    assert (mine / "old" / ".hydra" / "config.yaml").read_text() == "seed: 0\n"


@pytest.mark.slow
def test_a_field_a_loggers_filter_adds_may_be_formatted(tmp_path):
    """The check that each handler can format a line passed the record through the root logger's
    filters only: a field added by the filter of the logger the handler serves was refused."""
    (tmp_path / "logext.py").write_text(
        "import logging\n\nclass AddRun(logging.Filter):\n"
        "    def filter(self, record):\n        record.run_id = 'R1'\n        return True\n"
    )
    (tmp_path / "my.yaml").write_text(
        "defaults: [train, _self_]\nhydra:\n  job_logging:\n"
        "    filters: {addrun: {'()': logext.AddRun}}\n"
        "    formatters: {f: {format: '[%(run_id)s] %(message)s'}}\n"
        "    handlers: {ctx: {class: logging.StreamHandler, formatter: f, stream: ext://sys.stdout}}\n"
        "    loggers:\n      agents.runtime.trainer:\n"
        "        {level: INFO, handlers: [ctx], filters: [addrun], propagate: false}\n"
    )
    paths = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "train.py"), f"--config-dir={tmp_path}", "--config-name=my",
         "budget.total_env_steps=3000", "logging.progress_bar=false", "logging.print_every_seconds=0.001",
         f"hydra.run.dir={tmp_path / 'run'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": paths},
    )  # fmt: skip
    assert completed.returncode == 0 and "Logging error" not in completed.stderr, completed.stderr
    assert "[R1] " in completed.stdout


def test_a_refused_logging_setting_from_a_config_file_is_named_as_the_one_that_failed(tmp_path):
    """The line named the logging setting the command line gave (``hydra.job_logging``), not the
    one that failed (the config file's ``hydra.hydra_logging``), and said "No module named" twice."""
    (tmp_path / "my.yaml").write_text(
        "defaults: [train, _self_]\nhydra: {hydra_logging: {handlers: {console: {class: nope.Nope}}}}\n"
    )
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "train.py"), f"--config-dir={tmp_path}", "--config-name=my",
         "hydra.job_logging.root.level=INFO", "budget.total_env_steps=1000"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert_one_line(
        completed.returncode, completed.stderr, 2, "hydra.hydra_logging: Unable to configure handler"
    )
    assert completed.stderr.count("No module named 'nope'") == 1, completed.stderr


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux's /sys")
@pytest.mark.parametrize("name", ["gradient_variance.py", "reproduce_sutton_barto.py"])
def test_a_folder_that_takes_no_files_is_refused_before_the_study(tmp_path, monkeypatch, capsys, name):
    """Root passes os.access on /sys/kernel: gradient-variance printed the whole analysis, then
    "cannot use /sys/kernel/gradient_variance.png: Permission denied"."""
    code, err, out = script(
        name, "episodes=20", "out=/sys/kernel", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert_one_line(code, err, 2, "out=/sys/kernel: cannot write into /sys/kernel")
    assert out == ""


@pytest.mark.parametrize(
    ("name", "taken"),
    [("gradient_variance.py", "gradient_variance.png"), ("reproduce_sutton_barto.py", "curves.csv")],
)
def test_a_folder_in_place_of_an_output_file_is_refused_before_the_study(
    tmp_path, monkeypatch, capsys, name, taken
):
    """It ran the whole study, printed its analysis, then "cannot use .../gradient_variance.png: Is
    a directory"."""
    (tmp_path / "out" / taken).mkdir(parents=True)
    code, err, out = script(
        name, "episodes=20", "out=out", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert_one_line(code, err, 2, f"out=out: out/{taken} is a folder, where the file {taken} is written")
    assert out == "" and [path.name for path in (tmp_path / "out").iterdir()] == [taken]


@pytest.mark.parametrize(
    ("name", "study"), [("gradient_variance.py", "run_study"), ("reproduce_sutton_barto.py", "run_curves")]
)
def test_an_interrupted_study_leaves_no_empty_output_folder(tmp_path, monkeypatch, capsys, name, study):
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    module = "gradient_variance" if study == "run_study" else "sutton_barto"
    monkeypatch.setattr(f"agents.studies.{module}.{study}", interrupted)
    code, err, _ = script(name, "out=new/out", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 130, "interrupted: quit at once")
    assert not list(tmp_path.iterdir())


def test_studies_print_absolute_paths_and_no_spread_for_one_run(tmp_path, monkeypatch, capsys):
    """runs=1 printed "+- 0.000" (one run has no spread) and "1 runs"; a relative out= printed
    relative paths, where train prints absolute ones; p=0.05 printed "(0.5x lower)" for a baseline
    that doubled the variance."""
    code, err, out = script(
        "reproduce_sutton_barto.py", "runs=1", "episodes=20", "out=s", monkeypatch=monkeypatch, capsys=capsys,
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert "1 run (v*" in out and "(1 run: no standard error)" in out and "+-" not in out
    assert f"wrote {tmp_path.resolve() / 's' / 'figure_13_1.png'}, " in out
    code, err, out = script(
        "reproduce_sutton_barto.py", "runs=1", "episodes=20", monkeypatch=monkeypatch, capsys=capsys,
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err  # a trial run rewrote the README's figures in docs/sutton_barto
    assert f"wrote {tmp_path.resolve() / 'outputs' / 'sutton_barto' / 'figure_13_1.png'}, " in out
    code, err, out = script(
        "gradient_variance.py", "p=0.05", "episodes=20", "out=g", monkeypatch=monkeypatch, capsys=capsys,
        cwd=tmp_path,
    )  # fmt: skip
    assert code == 0, err
    assert out.rstrip().endswith(f"plot: {tmp_path.resolve() / 'g' / 'gradient_variance.png'}")
    assert "x higher)" in out and "x lower)" not in out


# -- 11. signals in every run mode (real processes) ----------------------------------------------
def _signalled(
    tmp_path: Path,
    sig: int,
    *args: str,
    wait_for: str = "events.out.tfevents.*",
    group: bool = True,
    steps: str = "100000000",
    delay: float = 2.0,
    before_signal: Callable[[], object] | None = None,
    again_after: float | None = None,
):
    """Start scripts/train.py, wait until a run writes, send ``sig`` (to the process group, as a
    terminal's Ctrl-C does) ``delay`` seconds later (after ``before_signal()``), and once more
    ``again_after`` seconds after that (None: once); returns (exit code, stderr). ``steps``: the
    runs' env steps (a sweep may list several)."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(SCRIPTS / "train.py"),
            *args,  # first: Hydra reads -m only before the overrides
            "logging.progress_bar=false",
            "budget.stop_at_target=false",
            f"budget.total_env_steps={steps}",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.time() + 120
    while not list(tmp_path.rglob(wait_for)) and time.time() < deadline:
        time.sleep(0.02 if delay < 0.5 else 0.2)
    time.sleep(delay)
    if before_signal is not None:
        before_signal()
    (os.killpg if group else os.kill)(process.pid, sig)
    if again_after is not None:
        time.sleep(again_after)
        (os.killpg if group else os.kill)(process.pid, sig)
    try:
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()  # (a run that hangs)
    return process.returncode, err


def _assert_saved_and_flushed(folder: Path) -> None:
    state = load_checkpoint(folder)
    assert state["counters"]["env_steps"] > 0
    logged = EventAccumulator(str(folder)).Reload().Scalars(tags.EPISODIC_RETURN)
    assert logged  # the points reached the file


@pytest.mark.slow
def test_num_seeds_sigterm_saves_every_seed(tmp_path):
    code, err = _signalled(
        tmp_path, signal.SIGTERM, "num_seeds=3", f"run_dir={tmp_path / 'run'}", group=False
    )
    assert code == 143 and "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("SIGTERM: stopped")]
    assert len(lines) == 3  # one line per seed, saying where it was saved
    for seed in range(3):
        assert f"resume={tmp_path / 'run' / f'seed{seed}'}" in err
        _assert_saved_and_flushed(tmp_path / "run" / f"seed{seed}")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["single", "seeds", "batched"])
def test_a_stopped_runs_log_ends_with_its_stop_line(tmp_path, mode):
    """``train.log`` ended with the run's last progress line: where it was saved and how to resume
    it reached only the console."""
    run_dir = tmp_path / "run"
    code, err = _signalled(
        tmp_path, signal.SIGTERM, *MODES[mode], f"run_dir={run_dir}", group=False, delay=0.5
    )
    assert code == 143 and "Traceback" not in err, err
    stop_lines = [
        line for line in err.splitlines() if line.startswith(("SIGTERM: stopped", "stopped by SIGTERM"))
    ]
    assert len(stop_lines) == (2 if mode == "seeds" else 1), err
    log_lines = (run_dir / "train.log").read_text().splitlines()
    ends = log_lines[-len(stop_lines) :]
    assert len(ends) == len(stop_lines) and all(
        line.endswith(stop) for line, stop in zip(ends, stop_lines, strict=True)
    ), ends


@pytest.mark.slow
@pytest.mark.parametrize(
    "failing",
    [["agent.lr=1e38"], ["agent.entropy_coef=1e308", "num_seeds=2", "seed_mode=batched"]],
    ids=["single", "batched"],
)
def test_a_numerical_failures_line_ends_the_runs_log(tmp_path, failing):
    """A numerical failure's line (why the run stopped, where its last good state is) reached only
    the console: ``train.log`` ended with the run's last progress line."""
    run_dir = tmp_path / "run"
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *failing, "budget.total_env_steps=3000",
               "logging.progress_bar=false", f"run_dir={run_dir}"]  # fmt: skip
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    error_line = completed.stderr.strip()
    assert_one_line(completed.returncode, error_line, 2, "numerical failure")
    assert (run_dir / "train.log").read_text().splitlines()[-1].endswith(error_line)


def test_sigint_handled_again_after_a_program_that_started_ignoring_it_is_heard(monkeypatch):
    """A program run in an interpreter with SIGINT ignored leaves SOFTMAX_REINFORCE_SIGINT_IGNORED set:
    a later agents.train, with a handler set again, took no handler of its own and lost its run to a
    Ctrl-C. Where SIGINT is still ignored it stays so."""
    from agents.runtime import interrupts

    monkeypatch.setenv(interrupts.SIGINT_IGNORED_VARIABLE, "1")
    both = [signal.SIGINT, signal.SIGTERM]
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        assert interrupts.heard(both) == both
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        assert interrupts.heard(both) == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.mark.slow
@pytest.mark.parametrize("sweep", [[], ["-m", "seed=0,1"]], ids=["run", "sweep"])
def test_a_run_started_with_sigint_ignored_keeps_ignoring_it(tmp_path, sweep):
    """A background job of a shell script (``cmd &`` without job control) starts with SIGINT
    ignored: the run ignored it during start-up, then put its own handler in its place and stopped
    on a Ctrl-C meant for the script. SIGTERM still stops it, saved."""
    folder = ["hydra.sweep.dir=sweep"] if sweep else ["run_dir=run"]
    command = [sys.executable, str(SCRIPTS / "train.py"), *sweep, *folder, "logging.progress_bar=false",
               "budget.stop_at_target=false", "budget.total_env_steps=100000000"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while not list(tmp_path.rglob("events.out.tfevents.*")) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # training
        process.send_signal(signal.SIGINT)
        time.sleep(1.5)
        assert process.poll() is None, process.communicate()[1]
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 143 and "Traceback" not in err, err
    assert "SIGINT" not in err and "SIGTERM: stopped at env step" in err, err
    assert load_checkpoint(next(tmp_path.rglob(CHECKPOINT_NAME)).parent)["counters"]["env_steps"] > 0


@pytest.mark.slow
def test_a_pipe_put_in_the_logs_place_does_not_hold_up_the_stop(tmp_path):
    """The stop line is written to the log's path: a FIFO there, with no reader, would block it."""
    run_dir = tmp_path / "run"

    def swap() -> None:
        (run_dir / "train.log").rename(run_dir / "train.log.old")
        os.mkfifo(run_dir / "train.log")

    code, err = _signalled(
        tmp_path, signal.SIGTERM, f"run_dir={run_dir}", group=False, delay=0.5, before_signal=swap
    )
    assert code == 143 and "Traceback" not in err and "resume with:" in err, err


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_async_vector_env_ctrl_c_reaches_workers_but_the_main_process_decides(tmp_path, sig):
    code, err = _signalled(
        tmp_path,
        sig,
        "vector.num_envs=4",
        "vector.mode=async",
        "env=Acrobot-v1",
        "checkpoint.every_steps=1000",
        f"run_dir={tmp_path / 'run'}",
    )
    assert code == 128 + sig and "Traceback" not in err, err
    assert f"saved {tmp_path / 'run' / CHECKPOINT_NAME}" in err
    assert load_checkpoint(tmp_path / "run")["counters"]["env_steps"] > 0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["ctrl-c", "sigterm-to-launcher"]
)
def test_joblib_multirun_ctrl_c_lets_every_running_job_save(tmp_path, sig, group):
    """Ctrl-C reaches the launching process and the joblib workers: the workers save and stop, the
    launching process waits for them (a KeyboardInterrupt there would end the pool mid-save), the
    job not started is marked, and the summary is written. A SIGTERM to the launching process
    alone (``kill <pid>``, ``timeout``) reaches the workers through the sweep's stop file: the
    same outcome, where the running jobs used to train on and the queued one to start."""
    sweep_dir = tmp_path / "sweep"
    code, err = _signalled(
        tmp_path, sig, "-m", "seed=0,1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep_dir}", "checkpoint.every_steps=2000", wait_for="checkpoint.pt", group=group,
    )  # fmt: skip
    assert code == 128 + sig and "Traceback" not in err, err
    summary = (sweep_dir / "summary.md").read_text()
    assert summary.count("INTERRUPTED") == 2 and summary.count("| NOT_LAUNCHED |") == 1  # seed=2's
    stopped = [
        line for line in err.splitlines() if line.startswith(f"{signal.Signals(sig).name}: stopped at")
    ]
    assert len(stopped) == 2, err  # each running job's line (only the first job's was printed)
    jobs = sorted(path for path in sweep_dir.iterdir() if path.name[:2] in ("0_", "1_"))
    for job, line in zip(jobs, stopped, strict=True):
        _assert_saved_and_flushed(job)
        assert f"saved {job / CHECKPOINT_NAME}; resume with: " in line


@pytest.mark.slow
def test_a_joblib_sweep_quit_by_a_second_ctrl_c_keeps_a_row_for_every_job(tmp_path):
    """Two quick Ctrl-Cs: the second quits at once. The summary had no row for the job it cut short
    (no result.json) nor for the one never launched, nor had the one a later resume= of a job
    rewrote: the sweep forgot them, and nothing said to run them."""
    sweep_dir = tmp_path / "sweep"
    code, err = _signalled(
        tmp_path, signal.SIGINT, "-m", "seed=0,1,2", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep_dir}", wait_for="*/events.out.tfevents.*", delay=1.0, again_after=0.1,
    )  # fmt: skip
    assert code == 130 and "interrupted: quit at once" in err and "Traceback" not in err, err  # (loky's
    # killed workers leave semaphores, which multiprocessing's resource tracker may warn of after it)
    rows = [line.split("|") for line in (sweep_dir / "summary.md").read_text().splitlines()]
    statuses = {int(row[1]): row[-2].strip() for row in rows if len(row) > 2 and row[1].strip().isdigit()}
    assert statuses.keys() == {0, 1, 2} and statuses[2] == "NOT_LAUNCHED", statuses
    assert {statuses[0], statuses[1]} <= {"INTERRUPTED", "QUIT"}, statuses


@pytest.mark.slow
def test_joblib_multirun_ctrl_c_launches_no_more_jobs(tmp_path):
    """After a Ctrl-C the launching process still handed out every job of the sweep: each started
    in a worker as "not started", with its folder, Hydra's files and a result, and the summary was
    written again each time (600 jobs took a minute to end, 20,000 would take hours). Now none
    starts, not even those joblib had handed out ahead."""
    sweep_dir = tmp_path / "sweep"
    code, err = _signalled(
        tmp_path, signal.SIGINT, "-m", "seed=range(0,30)", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
        f"hydra.sweep.dir={sweep_dir}",
    )  # fmt: skip
    assert code == 130 and "Traceback" not in err, err
    jobs = [path for path in sweep_dir.iterdir() if path.is_dir()]
    assert len(jobs) == 2, sorted(path.name for path in jobs)  # the 2 running (not those handed out ahead)
    summary = (sweep_dir / "summary.md").read_text()
    assert summary.count("INTERRUPTED") == 2 and summary.count("| NOT_LAUNCHED |") == 28  # and its row


@pytest.mark.slow
def test_an_optuna_search_that_counts_failures_stops_at_a_ctrl_c(tmp_path):
    """With ``max_failure_rate`` above 0 Optuna took the stopped trial for a failed one and went on:
    each later trial started as "not started" (its folder, its result), and the last line said
    that no job was stopped, without the stopped trial's resume line."""
    search = tmp_path / "search"
    code, err = _signalled(
        tmp_path, signal.SIGINT, "-m", "hparams_search=cartpole_tpe", "hydra.sweeper.n_trials=6",
        "hydra.sweeper.max_failure_rate=1.0", f"hydra.sweep.dir={search}", "checkpoint.every_steps=1000",
        wait_for="checkpoint.pt",
    )  # fmt: skip
    assert code == 130 and "Traceback" not in err, err
    assert [path.name[:2] for path in search.iterdir() if path.is_dir()] == ["0_"]
    assert err.strip().splitlines()[-1].startswith("SIGINT: stopped at env step "), err


@pytest.mark.slow
def test_an_optuna_search_with_joblib_stopped_between_trials_is_one_line(tmp_path):
    """Stopped between two trials, joblib handed out none of the next batch, and Optuna divided
    its failures by an empty batch: ``ZeroDivisionError``, exit 1."""
    code, err = _signalled(
        tmp_path, signal.SIGTERM, "-m", "hparams_search=cartpole_tpe", "hydra.sweeper.n_trials=20",
        "hydra/launcher=joblib", "hydra.launcher.n_jobs=1", f"hydra.sweep.dir={tmp_path / 'search'}",
        wait_for="result.json", group=False, steps="500", delay=0.0,
    )  # fmt: skip
    assert code == 143 and "Traceback" not in err, err
    assert (tmp_path / "search" / "summary.md").read_text().count("| ") > 3


@pytest.mark.slow
def test_joblib_multirun_ctrl_c_with_an_idle_worker_lets_the_running_job_save(tmp_path):
    """A worker whose job is done waits for the next: the Ctrl-C killed it (a KeyboardInterrupt
    while it read the job queue), loky called the pool broken and SIGKILLed the worker still
    training, mid-save: ``BrokenProcessPool``, exit 1, and that job's checkpoint was lost. Idle
    workers now ignore the signal; the running job saves and the sweep ends in its one line."""
    sweep_dir = tmp_path / "sweep"
    code, err = _signalled(
        tmp_path, signal.SIGINT, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=3",
        f"hydra.sweep.dir={sweep_dir}", wait_for="result.json", steps="2000,100000000",
    )  # fmt: skip
    assert code == 130 and "Traceback" not in err, err
    summary = (sweep_dir / "summary.md").read_text()
    assert summary.count("COMPLETED") == 1 and summary.count("INTERRUPTED") == 1, summary
    (running,) = sweep_dir.glob("1_*")
    _assert_saved_and_flushed(running)


def _loky_workers_started(group: int) -> bool:
    """Whether a joblib (loky) worker process of process group ``group`` exists (it may be importing)."""
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError):
            if os.getpgid(int(entry.name)) == group and b"LokyProcess" in (entry / "cmdline").read_bytes():
                return True
    return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_joblib_multirun_signal_while_its_workers_start_is_one_line(tmp_path, sig):
    """The workers were still importing, with Python's default handlers: the group's Ctrl-C killed
    them, and the sweep ended in joblib's ``TerminatedWorkerError`` traceback, exit 1, no summary.
    They now start with the signals blocked; the jobs do not start, the summary says so."""
    sweep_dir = tmp_path / "sweep"
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "train.py"), "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         "budget.total_env_steps=2000,3000", "logging.progress_bar=false", f"hydra.sweep.dir={sweep_dir}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 60
    while not _loky_workers_started(process.pid) and time.time() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, sig)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 128 + sig and "Traceback" not in err, err
    assert (sweep_dir / "summary.md").is_file()


@pytest.mark.slow
def test_joblib_multirun_ctrl_c_as_it_ends_is_no_traceback(tmp_path):
    """The sweep was done, and its summary printed: at exit, loky's join of its pool turned the
    Ctrl-C into ``Exception ignored in: <module 'threading'> ... KeyboardInterrupt``."""
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "train.py"), "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2",
         "budget.total_env_steps=2000,3000", "logging.progress_bar=false", f"hydra.sweep.dir={tmp_path}/s"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:
        if "COMPLETED" in line:  # the summary table: every job is done, the program ends
            time.sleep(0.3)
            os.killpg(process.pid, signal.SIGINT)
            break
    _, err = process.communicate(timeout=120)
    assert process.returncode in (0, 130) and "Traceback" not in err and "KeyboardInterrupt" not in err, err


@pytest.mark.slow
def test_submitit_local_multirun_ctrl_c_lets_every_running_job_save(tmp_path):
    """submitit's local launcher runs each job under a controller process: on Ctrl-C the controller
    sent its job a second SIGINT (quit at once, mid-save: a traceback, exit 1) and SIGKILLed it a
    second later. Now the controllers ignore SIGINT and the jobs save as the joblib workers do."""
    sweep_dir = tmp_path / "sweep"
    code, err = _signalled(
        tmp_path, signal.SIGINT, "-m", "seed=0,1", "hydra/launcher=submitit_local",
        f"hydra.sweep.dir={sweep_dir}", "checkpoint.every_steps=2000", wait_for="checkpoint.pt",
    )  # fmt: skip
    assert code == 130 and "Traceback" not in err, err
    assert (sweep_dir / "summary.md").read_text().count("INTERRUPTED") == 2
    for job in sorted(path for path in sweep_dir.iterdir() if path.name[:2] in ("0_", "1_")):
        _assert_saved_and_flushed(job)


def test_results_table_says_where_it_wrote_as_a_path_from_anywhere(tmp_path, monkeypatch, capsys):
    """``out=rel/t.md`` printed ``wrote rel/t.md``, which names no file from another folder."""
    code, err, out = script("results_table.py", "presets=[short_corridor]", "seeds=1", "out=rel/t.md",
                            monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    assert (
        out.splitlines()[-1] == f"wrote {Path.cwd() / 'rel' / 't.md'}"
        and (tmp_path / "rel" / "t.md").is_file()
    )


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_results_table_signal_keeps_the_complete_table_and_writes_the_finished_presets_beside_it(
    tmp_path, signum
):
    """Its resume line named a temporary folder already deleted; then the finished presets' table
    replaced a complete earlier one in ``out`` (docs/results.md), and stderr said "saving a
    checkpoint" and then "not kept". Now ``out`` stays, the finished presets go to
    ``results.partial.md``, and the two lines agree."""
    out = tmp_path / "results.md"
    earlier = f"# Results\n\n{TABLE_BEGIN}\nthe complete table\n{TABLE_END}\n"
    out.write_text(earlier)
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "results_table.py"), "presets=[short_corridor,acrobot]", "seeds=1",
         f"out={out}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    for line in process.stdout:  # the first preset is done: the second is training
        if line.startswith("short_corridor:"):
            break
    time.sleep(1.5)
    process.send_signal(signum)
    _, err = process.communicate(timeout=120)
    name, partial = signal.Signals(signum).name, tmp_path / "results.partial.md"
    hint = {  # a SIGTERM's sender (kill, a scheduler) may have no terminal to press Ctrl-C in
        signal.SIGINT: "press Ctrl-C again to quit at once",
        signal.SIGTERM: "a second SIGTERM or Ctrl-C quits at once",
    }[signum]
    assert process.returncode == 128 + signum and "Traceback" not in err, err
    assert err.strip().splitlines() == [
        f"{name}: stopping; the presets that finished are written, this one is dropped ({hint})",
        f"{name}: stopped during experiment=acrobot, seed 0; the presets that finished are in {partial} "
        f"({out} is unchanged)",
    ]
    assert out.read_text() == earlier
    text = partial.read_text()
    assert "Not run: acrobot (stopped by a signal during experiment=acrobot)." in text
    assert "`experiment=short_corridor`" in text


@pytest.mark.slow
def test_multirun_ctrl_c_stops_the_sweep_and_writes_the_summary(tmp_path):
    sweep_dir = tmp_path / "sweep"
    code, err = _signalled(
        tmp_path,
        signal.SIGINT,
        "-m",
        "seed=0,1",
        f"hydra.sweep.dir={sweep_dir}",
        "checkpoint.every_steps=2000",
        wait_for="checkpoint.pt",
    )
    assert code == 130 and "Traceback" not in err, err
    summary = (sweep_dir / "summary.md").read_text()
    assert summary.count("INTERRUPTED") == 1 and summary.count("| NOT_LAUNCHED |") == 1  # seed=1's
    (job,) = [path for path in sweep_dir.iterdir() if path.name.startswith("0_")]
    _assert_saved_and_flushed(job)


SIGNAL_IN_FINAL_SAVE = """
import os, runpy, signal, sys
replace = os.replace
def replace_after_a_signal(source, target, *args, **kwargs):
    if str(target).endswith("checkpoint.pt") and not getattr(os, "signalled", False):
        os.signalled = True  # SIGTERM arrives while the final checkpoint is being written
        os.kill(os.getpid(), signal.SIGTERM)
    return replace(source, target, *args, **kwargs)
os.replace = replace_after_a_signal
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.parametrize(
    ("mode", "folders"),
    [
        ([], [""]),
        pytest.param(["num_seeds=2"], ["seed0", "seed1"], marks=pytest.mark.slow),  # (the quick suite
        (["num_seeds=2", "seed_mode=batched"], ["seed0", "seed1"]),  # stays near 5 minutes)
    ],
    ids=["single", "exact-seeds", "batched-seeds"],
)
def test_a_signal_during_the_final_save_lets_it_finish(tmp_path, mode, folders):
    """The saves complete; the run had done all its work, so it ends as finished (exit 0, its
    summary printed): it used to exit 143 with a resume line, which resume= then refused."""
    run = tmp_path / "run"
    child = subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_FINAL_SAVE, str(SCRIPTS / "train.py"), *mode, f"run_dir={run}",
         "logging.progress_bar=false", "budget.total_env_steps=2000", "budget.stop_at_target=false"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == 0 and "Traceback" not in child.stderr, child.stderr
    assert "SIGTERM: saving a checkpoint (a second SIGTERM or Ctrl-C quits at once)" in child.stderr
    assert "resume with" not in child.stderr
    assert "finished: 2" in child.stdout if not mode else "2 seeds in" in child.stdout
    for folder in folders:
        assert load_checkpoint(run / folder)["counters"]["env_steps"] > 0
    assert not list(run.rglob("*.tmp"))


@pytest.mark.slow  # a 3-job sweep in a real process (~12 s)
def test_a_signal_during_a_sweep_jobs_final_save_still_stops_the_sweep(tmp_path):
    """The job had finished, so it ended as finished; but the sweep then ran every later job and
    exited 0: the signal was meant for the sweep too."""
    sweep = tmp_path / "sweep"
    child = subprocess.run(
        [sys.executable, "-c", SIGNAL_IN_FINAL_SAVE, str(SCRIPTS / "train.py"), "-m",
         "agent.lr=0.01,0.02,0.03", f"hydra.sweep.dir={sweep}", "logging.progress_bar=false",
         "budget.total_env_steps=500"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert child.returncode == 143 and "Traceback" not in child.stderr, child.stderr
    summary = (sweep / "summary.md").read_text()
    assert summary.count("COMPLETED") == 1 and summary.count("| NOT_LAUNCHED |") == 2, summary
    assert len(list(sweep.glob("*/checkpoint.pt"))) == 1  # the later jobs did not train


def test_resume_with_another_run_dir_is_one_line(tmp_path, monkeypatch, capsys):
    """run_dir= beside resume= was dropped without a word (the run went on in its own folder)."""
    run_dir = tmp_path / "run"
    assert run_train(*TINY, f"run_dir={run_dir}", capsys=capsys)[0] == 0
    other = tmp_path / "elsewhere"
    code, err, _ = run_train(*TINY, f"resume={run_dir}", f"run_dir={other}", capsys=capsys)
    assert_one_line(code, err, 2, f"resume= continues the run in its own folder {run_dir}, not run_dir=")
    assert not other.exists()


@pytest.mark.parametrize("mode", ["single", "batched"])
def test_a_run_folder_that_takes_no_files_is_one_line(tmp_path, monkeypatch, capsys, mode):
    """Resuming from a read-only run folder printed the line and a TensorBoard writer thread's
    traceback; now one line before anything is written (``os.access`` stands in for the
    permissions, which root ignores)."""
    run_dir = tmp_path / "run"
    assert run_train(*TINY, *MODES[mode], f"run_dir={run_dir}", capsys=capsys)[0] == 0
    before = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != run_dir and real_access(path, mode))
    code, err, _ = run_train(*TINY, *MODES[mode], f"run_dir={run_dir}", "budget.total_env_steps=600",
                             *([f"resume={run_dir}"] if mode == "single" else []), capsys=capsys)  # fmt: skip
    assert_one_line(code, err, 2, f"cannot write into run_dir {run_dir} (read-only, or its permissions)")
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == before


@pytest.mark.parametrize(
    ("mode", "in_the_way", "problem"),
    [
        ("batched", "seeds", "{run_dir}/seeds is a file, not a folder"),
        ("batched", "seed0/config.yaml/", "{run_dir}/seed0/config.yaml is a folder, not a file"),
        ("batched", "seed1/checkpoint.pt/", "{run_dir}/seed1/checkpoint.pt is a folder, not a file"),
        ("seeds", "seed0/config.yaml/", "{run_dir}/seed0/config.yaml is a folder, not a file"),
        ("single", "config.yaml/", "{run_dir}/config.yaml is a folder, not a file"),
        ("single", "checkpoint.pt/", "{run_dir}/checkpoint.pt is a folder, not a file"),  # (after training)
        ("single", "checkpoint_best.pt/", "{run_dir}/checkpoint_best.pt is a folder, not a file"),
        ("single", ".lock/", "{run_dir}/.lock is a folder, not a file"),  # "Is a directory", no path
    ],
)
def test_a_file_or_folder_in_the_way_in_the_run_folder_is_named(tmp_path, capsys, mode, in_the_way, problem):
    """The batched mode said ``cannot write into run_dir ...: File exists (free space, or choose
    another run_dir)``, naming neither the file ``seeds`` in the way nor a folder named like a file
    it writes, and the other modes pointed at the disk's free space too; a folder named
    ``checkpoint.pt`` failed the save once the run had trained (the training lost)."""
    run_dir = tmp_path / "run"
    place = run_dir / in_the_way
    place.parent.mkdir(parents=True)
    place.mkdir() if in_the_way.endswith("/") else place.write_text("x")
    before = sorted(run_dir.rglob("*"))
    code, err, _ = run_train(*TINY, *MODES[mode], f"run_dir={run_dir}", capsys=capsys)
    where = (
        run_dir / in_the_way.split("/")[0] if in_the_way.startswith("seed") and "/" in in_the_way else run_dir
    )
    fix = "(move it away, or choose another run_dir)"
    assert_one_line(
        code, err, 2, f"cannot write into run_dir {where}: {problem.format(run_dir=run_dir)} {fix}"
    )
    assert sorted(run_dir.rglob("*")) == before  # what the run had made is gone


@pytest.mark.parametrize("mode", ["batched", "seeds"])
def test_a_num_seeds_run_keeps_a_config_yaml_in_a_seed_folder(tmp_path, capsys, mode):
    """The batched mode wrote over ``seed1/config.yaml`` (and removed it where another seed
    failed), and the exact mode, which refused it, removed it as it cleaned up after the refusal."""
    (tmp_path / "run" / "seed1").mkdir(parents=True)
    (tmp_path / "run" / "seed1" / "config.yaml").write_text("mine\n")
    code, err, _ = run_train(*TINY, *MODES[mode], f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(
        code, err, 2, f"run_dir={tmp_path / 'run' / 'seed1'} holds a config.yaml, which a run there"
    )
    assert (tmp_path / "run" / "seed1" / "config.yaml").read_text() == "mine\n"
    assert sorted(path.name for path in (tmp_path / "run").rglob("*")) == ["config.yaml", "seed1"]


def test_a_num_seeds_runs_top_folder_may_hold_folders_named_like_a_seeds_files(tmp_path, capsys):
    """Its checkpoints are in its seed folders: a ``checkpoint_best.pt`` folder at its top was refused."""
    for mode in ("batched", "seeds"):
        (tmp_path / mode / "checkpoint_best.pt").mkdir(parents=True)
        code, err, _ = run_train(*TINY, *MODES[mode], f"run_dir={tmp_path / mode}", capsys=capsys)
        assert code == 0, err


def test_a_resume_with_a_folder_in_the_way_is_told_to_move_it_only(tmp_path, capsys):
    """It said "or choose another run_dir", which a resume refuses: it continues in its own folder."""
    run_dir = tmp_path / "run"
    assert run_train(*TINY, f"run_dir={run_dir}", capsys=capsys)[0] == 0
    (run_dir / "checkpoint_best.pt").mkdir()
    code, err, _ = run_train(*TINY, "budget.total_env_steps=600", f"resume={run_dir}", capsys=capsys)
    in_the_way = run_dir / "checkpoint_best.pt"
    said = f"cannot write into run_dir {run_dir}: {in_the_way} is a folder, not a file (move it away)"
    assert_one_line(code, err, 2, said)


def test_a_full_disk_under_a_run_folder_still_says_to_free_space(tmp_path):
    full = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "run" / "config.yaml"))
    assert str(unwritable_run_dir(tmp_path / "run", full)) == (
        f"cannot write into run_dir {tmp_path / 'run'}: {tmp_path / 'run' / 'config.yaml'}: No space left on "
        "device (free space, or choose another run_dir)"
    )


@pytest.mark.parametrize("mode", ["single", "seeds", "batched"])
def test_a_new_run_into_a_finished_runs_folder_is_refused(tmp_path, monkeypatch, capsys, mode):
    run_dir = tmp_path / "run"

    def files() -> dict[Path, bytes]:
        return {
            path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file() and path.name != ".lock"
        }

    code, _, _ = run_train(*TINY, *MODES[mode], f"run_dir={run_dir}", capsys=capsys)
    assert code == 0
    before = files()
    code, err, _ = run_train(*TINY, *MODES[mode], "agent.lr=0.5", f"run_dir={run_dir}", capsys=capsys)
    assert_one_line(code, err, 2, f"run_dir={run_dir}")
    assert "already holds a run" in err
    assert ("resume=" in err) == (mode != "batched")  # a batched run cannot be resumed: no such hint
    assert files() == before  # not a byte changed, no file added


def test_rewards_too_large_for_float32_say_that_float64_holds_their_sum():
    """float64 learns from rewards of 2e38 (their sum fits), but the line said only that no policy
    could learn from them; the observations' line names float64 where it holds them."""
    from agents.runtime.env_failures import nonfinite_env_data

    obs = np.zeros((3, 4))
    said = nonfinite_env_data(obs, np.full(3, 2e38), torch.float32)
    wider = "agent.dtype=float64 holds this batch's sum"
    assert said == f"rewards too large to add up in float32 (largest |r| 2e+38; {wider})"
    assert nonfinite_env_data(obs, np.full(3, 2e38), torch.float64) is None
    beyond = nonfinite_env_data(obs, np.full(3, 1e308), torch.float32)  # no float sums them
    assert beyond == "rewards too large to add up in float32 (largest |r| 1e+308)"


def test_episode_returns_past_float64_are_blamed_on_the_env_and_the_last_good_state_resumes(tmp_path, capsys):
    """Rewards of 1e306 over 500-step episodes: the discounted returns fit float64, so the run
    trained on, with an inf mean return, and ended with exit 0; a resume then refused its own
    checkpoint ("counters.best_mean_return holds inf ... the file was altered")."""
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    env = "env=fault_envs:fault/Hugereturn-v0"
    code, err, _ = run_train(*TINY, "budget.total_env_steps=3000", env, "agent.dtype=float64",
                             "budget.stop_at_target=false", f"run_dir={run_dir}", capsys=capsys)  # fmt: skip
    assert_one_line(
        code, err, 2, f"{env} returned rewards too large to add up in float64 (largest |r| 1e+306)"
    )
    assert err.count("the last good state is in") == 1, err
    fault_envs.FaultyEnv.calls = -(10**9)  # mended: the last good state resumes
    more = ["budget.total_env_steps=4000"]
    code, err, _ = run_train(f"resume={run_dir}", *more, "logging.progress_bar=false", capsys=capsys)
    assert code == 0, err


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("fault", "what"),
    [("Nanobs", "nan/inf observations"), ("Nanreward", "nan/inf rewards"),
     ("Hugereward", "rewards too large to add up in float32"),  # it blamed agent.lr
     ("Hugeobs", "observations too large for float32 (largest |obs| 9.97e+299; agent.dtype=float64 holds")],
)  # fmt: skip
@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's overflow warnings came before the line
def test_nan_from_the_env_is_blamed_on_the_env(tmp_path, monkeypatch, capsys, mode, fault, what):
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        *TINY, "budget.total_env_steps=2000", f"env=fault_envs:fault/{fault}-v0", *MODES[mode],
        f"run_dir={run_dir}", capsys=capsys,
    )  # fmt: skip
    assert_one_line(code, err, 2, f"env=fault_envs:fault/{fault}-v0 returned {what}")
    assert "agent.lr" not in err and err.count("last good state is in") == 1, err  # it came twice
    if mode in ("single", "vector") and fault != "Nanobs":  # said "before" the step that returned them
        assert "in the episodes up to env step" in err
    for folder in [run_dir] if mode in ("single", "vector") else [run_dir / "seed0", run_dir / "seed1"]:
        assert all(torch.isfinite(value).all() for value in load_checkpoint(folder)["policy"].values())
    if mode == "batched" or fault == "Hugeobs":  # no resume; an env whose every observation is huge
        return
    # the last good state resumes once the env is mended: its nan/inf returns (and episodes) were
    fault_envs.FaultyEnv.calls = -(10**9)  # refused as "the file was altered"
    for folder in [run_dir] if mode in ("single", "vector") else [run_dir / "seed0", run_dir / "seed1"]:
        code, err, _ = run_train(f"resume={folder}", "budget.total_env_steps=3000", capsys=capsys)
        assert code == 0, err
        assert load_checkpoint(folder)["counters"]["env_steps"] == 3000


class SqrtOfNegative(gym.Env):
    """An env whose own step computes ``np.sqrt(-1.0)`` (a bug of its own): numpy's warning is its."""

    observation_space, action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float64), gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2), {}

    def step(self, action):
        self.t += 1
        health = np.sqrt(np.float64(-1.0))  # nan, with numpy's "invalid value encountered in sqrt"
        return np.zeros(2), float(not np.isnan(health)), self.t >= 10, False, {}


gym.register("fault/SqrtOfNegative-v0", entry_point=SqrtOfNegative)


@pytest.mark.parametrize("mode", list(MODES))
def test_the_envs_own_numpy_warnings_are_not_silenced(tmp_path, capsys, mode):
    """The training loops' np.errstate ignored invalid values too (for an MLP's inf * 0): the env's
    own sqrt of a negative number then trained on silently, where it had always warned."""
    with pytest.warns(RuntimeWarning, match="invalid value encountered in sqrt"):
        run_dir = f"run_dir={tmp_path / 'run'}"
        code, err, _ = run_train(*TINY, "env=fault/SqrtOfNegative-v0", *MODES[mode], run_dir, capsys=capsys)
    assert code == 0, err


@pytest.mark.parametrize("mode", list(MODES))
def test_an_update_that_overflows_the_parameters_saves_the_last_good_ones(tmp_path, capsys, mode):
    """sgd at lr=1e37: seed_mode=batched saved the overflowed (non-finite) parameters as the seed's
    "last good state"; the other modes keep the ones before the failed step."""
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        *TINY, "budget.total_env_steps=3000", "agent.optimizer=sgd", "agent.lr=1e37",
        "agent.normalize_returns=false", *MODES[mode], f"run_dir={run_dir}", capsys=capsys,
    )  # fmt: skip
    if code:  # (single: the parameters grow huge but stay finite, and the run ends)
        assert_one_line(code, err, 2, "numerical failure")
    for folder in [run_dir] if mode in ("single", "vector") else [run_dir / "seed0", run_dir / "seed1"]:
        assert all(torch.isfinite(value).all() for value in load_checkpoint(folder)["policy"].values()), (
            folder
        )


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_nan_observations_leave_the_saved_running_statistics_usable(tmp_path, monkeypatch, capsys, bad):
    """features=normalized folded a nan batch into its mean and variance before the update failed
    on it, and the failure's save wrote them: the resumed or evaluated policy saw nan features. An
    inf observation, which the clipped features let through the update, made them nan a batch later."""
    real_step = fault_envs.FaultyEnv.step

    def step(self, action):
        obs, *rest = real_step(self, action)
        return (np.where(np.isnan(obs), bad, obs), *rest)

    monkeypatch.setattr(fault_envs.FaultyEnv, "step", step)
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        *TINY, "budget.total_env_steps=2000", "env=fault_envs:fault/Nanobs-v0", "features=normalized",
        f"run_dir={run_dir}", capsys=capsys,
    )  # fmt: skip
    assert_one_line(code, err, 2, "env=fault_envs:fault/Nanobs-v0 returned nan/inf observations")
    features = load_checkpoint(run_dir)["features"]
    assert features["count"] > 100 and all(torch.isfinite(features[k]).all() for k in ("mean", "var"))


class TableFeatures(gym.Env):
    """States 3, 4, 5 (Discrete(3, start=3)) whose phi(s, .) a dict holds (no row for the state 0
    the hook was probed with); ``count`` rows of it per state, ``broken`` raises for every state."""

    observation_space, action_space = gym.spaces.Discrete(3, start=3), gym.spaces.Discrete(2)

    def __init__(self, count: int = 2, broken: bool = False) -> None:
        self.count, self.broken, self.t = count, broken, 0
        self.PHI = {state: np.eye(2) * state for state in (3, 4, 5)}

    def action_features(self, obs: np.ndarray) -> np.ndarray:
        if self.broken:
            raise RuntimeError("no table loaded")
        return np.stack([np.resize(self.PHI[int(state)], (self.count, 2)) for state in np.ravel(obs)])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return 3, {}

    def step(self, action):
        self.t += 1
        return 3 + self.t % 3, float(action), self.t >= 5, False, {}


gym.register("fault/TableFeatures-v0", entry_point=TableFeatures)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ((), None),  # a KeyError traceback: the hook was probed with the state 0
        (("+env_kwargs.count=3",),
         "action_features(obs) returned shape (1, 3, 2) for a batch of one observation; agent.policy=action "
         "needs [1, 2, d]"),
        (("+env_kwargs.broken=true",),
         "action_features(obs), which raised on observation [3]: RuntimeError: no table loaded"),
    ],
)  # fmt: skip
def test_the_envs_action_features_are_probed_with_a_state_it_has(tmp_path, capsys, kwargs, message):
    code, err, _ = run_train(
        *TINY, "env=fault/TableFeatures-v0", "agent.policy=action", *kwargs, f"run_dir={tmp_path / 'run'}",
        capsys=capsys,
    )  # fmt: skip
    if message is None:
        assert code == 0, err
    else:
        assert_one_line(code, err, 2, message)


class LateFeatures(TableFeatures):
    """phi(s, .) that passes its probe and its first ``good`` calls (in this process), then raises,
    changes shape or returns nan: the env's fault, mid-run."""

    calls = 0

    def __init__(self, fault: str = "raise", good: int = 30) -> None:
        super().__init__()
        self.fault, self.good = fault, good

    def action_features(self, obs: np.ndarray) -> np.ndarray:
        LateFeatures.calls += 1
        phi = super().action_features(obs)
        if self.fault == "bigbatch" and len(obs) > 2:  # acting's batches pass, an update's does not
            raise RuntimeError("batch too large for the phi table")
        if LateFeatures.calls <= self.good or self.fault == "bigbatch":
            return phi
        if self.fault == "raise":
            raise RuntimeError("phi table evicted")
        return phi[..., :1] if self.fault == "shape" else phi * np.nan


gym.register("fault/LateFeatures-v0", entry_point=LateFeatures)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize(
    ("fault", "said"),
    [("raise", "action_features(obs) raised on a batch of"),
     ("shape", "action_features(obs) returned shape"),
     ("nan", "action_features(obs) returned nan/inf features"),
     ("bigbatch", "action_features(obs) raised on a batch of")],  # in an update (exact mode: a bare line)
)  # fmt: skip
def test_the_envs_action_features_failing_mid_run_is_one_line_with_the_state_saved(
    tmp_path, capsys, mode, fault, said
):
    """The hook was checked once, on one observation: failing later (on a batch, or after a while)
    was a traceback (exit 1) with no checkpoint, and its nan a "numerical failure" blamed on agent.lr."""
    LateFeatures.calls = 0
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        *TINY, "env=fault/LateFeatures-v0", "agent.policy=action", f"+env_kwargs.fault={fault}", *MODES[mode],
        f"run_dir={run_dir}", capsys=capsys,
    )  # fmt: skip
    # acting's fault is in the next step; an update's follows the last one (it said "at env step N+1")
    where = "in the update after" if fault == "bigbatch" else "at"
    assert_one_line(code, err, 2, f"fault/LateFeatures-v0 failed {where} ")
    assert said in err and "agent.lr" not in err
    for folder in [run_dir] if mode in ("single", "vector") else [run_dir / "seed0", run_dir / "seed1"]:
        assert (folder / CHECKPOINT_NAME).is_file(), err
        assert all(torch.isfinite(value).all() for value in load_checkpoint(folder)["policy"].values())
    if mode != "batched":  # the line's env step: the saved one's next, or (after an update) the saved one
        step = int(re.search(r"env step (\d+)", err).group(1))
        saved = load_checkpoint(run_dir / ("" if mode in ("single", "vector") else "seed0"))["counters"]
        assert step == saved["env_steps"] + (fault != "bigbatch"), err


def test_the_envs_action_features_failing_in_evaluation_is_one_line(tmp_path, monkeypatch, capsys):
    LateFeatures.calls = 0
    run_dir = tmp_path / "run"
    late = ["env=fault/LateFeatures-v0", "agent.policy=action", "+env_kwargs.good=100000"]
    code, err, _ = run_train(*TINY, *late, f"run_dir={run_dir}", capsys=capsys)
    assert code == 0, err
    LateFeatures.calls = 100000 - 1  # the probe passes, the first call while acting raises
    config = OmegaConf.structured(EvaluateConfig(checkpoint=str(run_dir)))
    code, err, _ = call(lambda: evaluate(config), capsys)
    assert_one_line(code, err, 2, "the env's action_features(obs) raised on a batch of 1 observation: ")
    assert "fault/LateFeatures-v0 failed in greedy evaluation: the env's action_features" in err  # was
    assert "nothing was written: fix the env and evaluate again" in err  # the bare fault, naming no env


CTRL_C_WHILE_IMPORTING = """
import builtins, os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal (a background job's is ignored)
import agents.tools.commands as commands
real_import = builtins.__import__
def import_then_ctrl_c(name, *args, **kwargs):
    if name == "hydra":  # the start-up's heavy imports: Ctrl-C lands inside one
        os.kill(os.getpid(), signal.SIGINT)
    return real_import(name, *args, **kwargs)
builtins.__import__ = import_then_ctrl_c
sys.argv = [sys.argv[1]]
getattr(commands, sys.argv[0])()
"""


@pytest.mark.parametrize("program", ["train", "evaluate", "compare_gradients"])
def test_ctrl_c_during_start_up_is_one_line(tmp_path, program):
    child = subprocess.run(
        [sys.executable, "-c", CTRL_C_WHILE_IMPORTING, program], cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert child.returncode == 130, child.stderr
    assert child.stderr.strip() == "interrupted: quit at once (files written before are intact)", child.stderr


CTRL_C_INSIDE_AN_IMPORT = """
import os, pathlib, signal, sys, time
from agents.runtime import interrupts
signal.signal(signal.SIGINT, interrupts.interrupt)
pathlib.Path("slow_module.py").write_text(
    "import os, signal, time\\nos.kill(os.getpid(), signal.SIGINT)\\ntime.sleep(0.3)\\nDONE = True\\n"
)
sys.path.insert(0, ".")
try:
    import slow_module
    time.sleep(5)
    print("never interrupted")
except KeyboardInterrupt:
    print("interrupted after the import:", getattr(sys.modules.get("slow_module"), "DONE", False))
"""


def test_a_ctrl_c_inside_an_import_waits_until_the_import_is_done(tmp_path):
    """A Ctrl-C 0.25-0.31 s into a benchmark worker landed inside torch's and numpy's imports:
    torch's C++ start-up aborted (SIGABRT, "terminate called after throwing an instance of
    'pybind11::error_already_set'"), or numpy was left half-imported. It now waits for the import."""
    child = subprocess.run(
        [sys.executable, "-c", CTRL_C_INSIDE_AN_IMPORT], cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert child.stdout.strip() == "interrupted after the import: True", child.stdout + child.stderr


SWALLOWED_SIGNAL_THEN_A_FAILURE = """
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal
from agents.errors import UserError
from agents.tools.exits import run_or_exit
from agents.tools.commands import command


def fail():
    if sys.argv[1] == "user-error":  # what a half-imported numpy made of building the env
        raise UserError("env=CartPole-v1 could not be made: module 'numpy' has no attribute 'logical_or'")
    raise AttributeError("module 'numpy' has no attribute 'matrix'")


@command
def program():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except BaseException:  # a library's bare except swallows the interrupt
        pass
    run_or_exit(fail)


program()
"""


@pytest.mark.parametrize("failure", ["user-error", "bug"])
def test_a_failure_after_a_swallowed_ctrl_c_is_the_ctrl_c_line(tmp_path, failure):
    """What fails after a signal that a library swallowed is its aftermath: the signal's one line
    and 130, not a traceback (exit 1) or an error blaming the env (exit 2)."""
    child = subprocess.run(
        [sys.executable, "-c", SWALLOWED_SIGNAL_THEN_A_FAILURE, failure], cwd=tmp_path, capture_output=True,
        text=True, timeout=60,
    )  # fmt: skip
    assert child.returncode == 130, child.stderr
    assert child.stderr.strip() == "interrupted: quit at once (files written before are intact)", child.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_swallowed_signal_stops_the_run_before_it_trains(monkeypatch, sig):
    """A start-up that went on after a library swallowed the Ctrl-C trained to the end (exit 0);
    then it quit as the run's block began, leaving its files and no checkpoint. Now the run in the
    block is asked to stop, as by a signal there: it saves at its first step and exits 130/143."""
    from agents.runtime import interrupts

    monkeypatch.setattr(interrupts, "received", [sig])
    monkeypatch.setattr(StopOnSignal, "doing", None)  # (no line)
    with StopOnSignal([]) as stop:
        assert stop.signum == sig and not interrupts.received


TWO_SIGNALS = """
import os
import signal

import gymnasium as gym


class TwoSignals(gym.Wrapper):
    \"\"\"Sends this process a signal twice in its 300th step (the second comes as the run saves).\"\"\"

    def step(self, action):
        self.steps = getattr(self, "steps", 0) + 1
        if self.steps == 300:
            os.kill(os.getpid(), signal.{name})
            os.kill(os.getpid(), signal.{name})
        return self.env.step(action)
"""


@pytest.mark.parametrize(  # the sweeps in make test-slow (CI): the quick suite stays near 5 minutes
    "sweep", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["run", "basic-launcher-sweep"]
)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_second_signal_quits_at_once_with_the_line_and_130_or_143(tmp_path, sig, sweep):
    """A second SIGTERM (or a SIGTERM after a Ctrl-C) ended the run at once with Python's default
    handling: no line but the first signal's, killed by the signal, and the checkpoint's temporary
    file could stay behind. It now quits as a second Ctrl-C does; in a sweep's job (the basic
    launcher runs it in the sweep's own process) a second signal quits too, where it once took a
    third as it went back to the sweep's handler."""
    (tmp_path / "two_signals.py").write_text(TWO_SIGNALS.replace("{name}", signal.Signals(sig).name))
    options, where = ["-m"], ["seed=0,1", f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    if not sweep:
        options, where = [], [f"run_dir={tmp_path / 'run'}"]
    process = subprocess.run(
        [sys.executable, str(SCRIPTS / "train.py"), *options, *TINY[:1], "budget.total_env_steps=5000",
         "env_wrappers=[{_target_:two_signals.TwoSignals}]", *where],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert process.returncode == 128 + sig, process.stderr[-2000:]
    name = "interrupted" if sig == signal.SIGINT else "terminated"
    last_line = process.stderr.strip().splitlines()[-1]
    assert last_line == f"{name}: quit at once (files written before are intact)"
    assert not list(tmp_path.rglob(".*.tmp"))
    if not sweep:  # its log ended with the run's last progress line (or was empty)
        assert (tmp_path / "run" / "train.log").read_text().splitlines()[-1].endswith(last_line)
    if sweep:  # the summary had no row for either job: the one cut short, the one never launched
        summary = (tmp_path / "sweep" / "summary.md").read_text()
        assert re.search(r"\| 0 .*\| QUIT +\|\n\| 1 .*\| NOT_LAUNCHED \|", summary), summary
        assert "#0 QUIT: a second signal quit the sweep at once while it ran" in summary, summary


def test_a_stop_requests_watcher_has_ended_when_its_block_has(tmp_path, monkeypatch):
    """In a sweep's job the stop file's watcher thread, which holds the request and with it the
    runs' tensors, was still ending as a second signal's quit exited: the interpreter's finalization
    ended it inside torch's C++ as it let go of them, and the process aborted (SIGABRT, about one
    quit in ten on a busy machine) after its line. The block now ends after its watcher."""
    import threading

    from agents.runtime.sweep_stop import SWEEP_STOP_VARIABLE, StopRequest

    monkeypatch.setenv(SWEEP_STOP_VARIABLE, str(tmp_path / "stop"))
    before = set(threading.enumerate())
    for _ in range(20):
        with StopRequest():
            assert len(set(threading.enumerate()) - before) == 1  # its watcher
        assert set(threading.enumerate()) == before


def test_a_second_signal_that_a_launchers_worker_ignored_unwinds_and_stops_quit_to_the_program():
    """A joblib worker ignores SIGTERM between jobs: a second one in its job's save got Python's
    default (killed mid-save: a temporary file stayed in the job's folder). It now unwinds the job;
    a stop-asking handler before it (the sweep's, or another stop's) quits through the program's."""
    from agents.runtime import interrupts
    from agents.runtime.sweep_stop import StopRequest, quit_at_the_next_signal
    from agents.tools.multirun_stop import stop_sweep

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        quit_at_the_next_signal({signal.SIGINT: signal.SIG_IGN, signal.SIGTERM: signal.SIG_IGN})
        assert signal.getsignal(signal.SIGTERM) is interrupts.unwind
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
        for asker in (stop_sweep, StopRequest()._handle):
            quit_at_the_next_signal({signal.SIGINT: asker, signal.SIGTERM: asker})
            assert signal.getsignal(signal.SIGINT) is interrupts.interrupt
            assert signal.getsignal(signal.SIGTERM) is interrupts.terminate
        api_callers = {signal.SIGINT: signal.SIG_DFL, signal.SIGTERM: signal.SIG_DFL}
        quit_at_the_next_signal(api_callers)
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_a_signal_deferred_once_and_taken_elsewhere_does_not_end_the_next_ones_wait():
    """A signal deferred in an import (or while async workers are forked) whose redelivery a
    stop's handler took stayed recorded as waiting since then: every later signal in an import was
    delivered at once, inside it."""
    from agents.runtime import interrupts

    long_ago = time.monotonic() - 100
    interrupts._deferred_since[signal.SIGUSR1] = (long_ago, long_ago, "held")
    try:
        with interrupts.held():
            assert interrupts.deferred(signal.SIGUSR1, None)  # waits: the old one is long over
    finally:
        interrupts.reset()


CHAINED_IMPORT = """
import signal, sys
import chain_log
from agents.runtime import interrupts

for seconds in chain_log.WAITS[__name__]:  # the import runs this long, asking at each point
    chain_log.clock[0] += seconds
    chain_log.deferred.append(interrupts.deferred(signal.SIGUSR2, sys._getframe()))
"""


def test_a_signal_waits_for_each_import_of_a_chain_and_a_hung_one_hears_it(tmp_path, monkeypatch):
    """A Ctrl-C in the env's import waited for it, then for the optimizer's ``torch._dynamo`` import,
    3 s in all: on a busy machine it was delivered inside the second, which stayed half-imported
    (``partially initialized module 'torch._dynamo' has no attribute 'decorators'`` at the next
    ``agents.train``). Each import now has its own wait; one that hangs still hears the signal."""
    from agents.runtime import interrupts

    (tmp_path / "chain_log.py").write_text("clock, deferred = [0.0], []\nWAITS = {}\n")
    for name in ("env_module", "dynamo", "hung"):
        (tmp_path / f"{name}.py").write_text(CHAINED_IMPORT)
    monkeypatch.syspath_prepend(str(tmp_path))
    import chain_log

    # seconds between the redeliveries that land in each import (every 50 ms; here fewer, wider apart)
    chain_log.WAITS.update(env_module=[0.0] + [0.3] * 8, dynamo=[0.04] + [0.3] * 8, hung=[0.04] + [0.3] * 34)
    monkeypatch.setattr(interrupts, "time", SimpleNamespace(monotonic=lambda: chain_log.clock[0]))
    previous = signal.signal(signal.SIGUSR2, lambda *_: None)  # the redeliveries land here
    try:
        import dynamo  # noqa: F401
        import env_module  # noqa: F401

        assert chain_log.deferred == [True] * 18  # 4.84 s in all (3 s was the most: False from 3.04 s)
        import hung  # noqa: F401

        assert chain_log.deferred[18:] == [True] * 34 + [False]  # 10.2 s in one import: delivered
    finally:
        interrupts.reset()
        signal.signal(signal.SIGUSR2, previous)
        for name in ("chain_log", "env_module", "dynamo", "hung"):
            sys.modules.pop(name, None)


def test_a_ctrl_c_while_async_workers_are_forked_waits_for_them(monkeypatch):
    """A Ctrl-C while an async vector env forked its workers raised in Python's at-fork hooks
    (``Exception ignored in: <function _releaseLock>``, a traceback): blocking the signals in the
    main thread did not keep them out, as one of torch's threads took them. The program's handler
    now waits until the workers are made, as it does for an import."""
    from agents.runtime import interrupts, runners

    made = []

    def forking(*args: object) -> gym.vector.VectorEnv:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.3)  # the handler runs here (the sleep is resumed after it)
        made.append(True)
        return gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")

    monkeypatch.setattr(runners, "make_vector_env", forking)
    previous = signal.signal(signal.SIGINT, interrupts.interrupt)
    runner = None
    try:
        with pytest.raises(KeyboardInterrupt):
            runner = runners.VectorEnvRunner("CartPole-v1", 2, "async")
            time.sleep(1.0)  # the signal comes now
        assert runner is not None
        runner.close()
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.reset()
    assert made == [True]


def test_sigterm_stops_evaluate_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    train(compose_train_config([*TINY, f"run_dir={run_dir}"]))
    process = subprocess.Popen(
        [sys.executable, str(SCRIPTS / "evaluate.py"), f"checkpoint={run_dir}", "episodes=1000000",
         f"csv={tmp_path / 'e.csv'}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(3.0)  # in start-up or in the episodes: either way one line and 143
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert err.strip() == "terminated: quit at once (files written before are intact)" or (
        err.strip().startswith("SIGTERM: stopped evaluating") and err.strip().count("\n") == 0
    ), err
    assert not (tmp_path / "e.csv").exists()


SIGNAL_AT_THE_THIRD_EPISODE = """
import os, runpy, signal, sys
import agents.runtime.evaluation as evaluation
play, played, name = evaluation.run_episode, [], sys.argv[1]
def run_episode_then_signal(*args, **kwargs):
    played.append(1)
    if len(played) == 3:  # a signal while the first job evaluates: to the group, as Ctrl-C
        (os.killpg if name == "SIGINT" else os.kill)(os.getpid(), getattr(signal, name))
    return play(*args, **kwargs)
evaluation.run_episode = run_episode_then_signal
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("sig", "mode"),
    [(signal.SIGINT, ["-m", "seed=0,1"]), (signal.SIGTERM, [])],
    ids=["ctrl-c-multirun", "single"],
)
def test_a_signal_stops_the_evaluation_running(tmp_path, sig, mode):
    """In a multirun (``evaluate.py -m``) the first Ctrl-C was ignored by the running evaluation,
    which played all its episodes and wrote its csv; only the next job did not start. Now the
    episodes stop at once, nothing is written and the sweep ends: one line, 130/143."""
    run_dir = tmp_path / "run"
    train(compose_train_config([*TINY, f"run_dir={run_dir}"]))
    child = subprocess.run(
        [sys.executable, "-c", SIGNAL_AT_THE_THIRD_EPISODE, signal.Signals(sig).name,
         str(SCRIPTS / "evaluate.py"), *mode, f"checkpoint={run_dir}", "episodes=500",
         f"csv={tmp_path}/e${{seed}}.csv"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, start_new_session=True,
    )  # fmt: skip
    name = signal.Signals(sig).name
    assert_one_line(child.returncode, child.stderr, 128 + sig, f"{name}: stopped evaluating {run_dir}")
    assert "greedy episodes; no csv was written" in child.stderr
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob(".*.tmp"))
    assert " from " not in child.stdout  # no job printed a report: the second did not start


def test_an_interrupted_csv_write_keeps_the_previous_file(tmp_path, monkeypatch):
    """A second Ctrl-C while the csv was written left it truncated: it is written whole or not at all."""
    from agents.runtime import evaluation

    path = tmp_path / "e.csv"
    path.write_text("episode,mode,return,length\n0,greedy,9.0,9\n0,sampled,9.0,9\n")  # an earlier evaluation
    before = path.read_bytes()
    writer = evaluation.csv.writer

    class InterruptedWriter:
        def __init__(self, handle):
            self.writer, self.rows = writer(handle), 0

        def writerow(self, row):
            self.rows += 1
            if self.rows == 3:
                raise KeyboardInterrupt
            return self.writer.writerow(row)

    monkeypatch.setattr(evaluation.csv, "writer", InterruptedWriter)
    summary = evaluation.ModeSummary([1.0, 2.0, 3.0], [1, 2, 3], 0)
    with pytest.raises(KeyboardInterrupt):
        evaluation.write_csv(path, {"greedy": summary})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["e.csv"]


LONG_NAME = "a" * 300  # more than the 255 bytes a name may have


@pytest.mark.parametrize(
    "args",
    [["run_dir=new/" + LONG_NAME], ["hydra.run.dir=new/" + LONG_NAME], ["resume=new/" + LONG_NAME],
     ["-m", "seed=0,1", "hydra.sweep.dir=new/" + LONG_NAME]],
    ids=["run_dir", "hydra.run.dir", "resume", "hydra.sweep.dir"],
)  # fmt: skip
def test_a_folder_name_too_long_is_one_line_and_makes_no_folder(tmp_path, monkeypatch, capsys, args):
    """Was a traceback of three chained OSErrors (the last from the error line's own helper), exit 1,
    and Hydra had made ``new/`` on the way."""
    code, err, _ = script("train.py", *TINY, *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    key = args[-1].split("=")[0]
    said = (
        f"cannot use {key}=new/{LONG_NAME}: its name {'a' * 20}... has 300 bytes, more than the 255 a name "
    )
    assert_one_line(code, err, 2, said + "may have (choose a shorter path)")
    assert list(tmp_path.iterdir()) == []


def test_a_path_too_long_is_one_line_in_python_and_to_evaluate(tmp_path, monkeypatch, capsys):
    with pytest.raises(
        agents.UserError, match=r"^cannot use run_dir .*: File name too long \(choose another"
    ):
        agents.train("CartPole-v1", *TINY, f"run_dir={tmp_path / 'new' / LONG_NAME}")
    assert list(tmp_path.iterdir()) == []  # new/ made on the way is gone
    with pytest.raises(
        agents.UserError, match=r"^cannot use .*: File name too long \(choose a shorter path\)$"
    ):
        agents.load(tmp_path / LONG_NAME)
    code, err, _ = script("evaluate.py", f"checkpoint={tmp_path / LONG_NAME}", monkeypatch=monkeypatch,
                          capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, "File name too long (choose another location)")


@pytest.mark.parametrize(
    ("program", "args"),
    [("evaluate.py", ["checkpoint={trained}", "csv=new/{long}.csv"]),  # (after every episode)
     ("plot.py", ["runs=[{trained}]", "out=new/{long}"]), ("results_table.py", ["out=new/{long}.md"])],
    ids=["evaluate-csv", "plot-out", "results_table-out"],
)  # fmt: skip
def test_an_output_name_too_long_is_one_line_and_makes_no_folder(trained, tmp_path, monkeypatch, capsys,
                                                                 program, args):  # fmt: skip
    """Each was one line, but only after making ``new/`` on the way to the name it could not write."""
    filled = [arg.format(trained=trained, long=LONG_NAME[:-10]) for arg in args]
    code, err, _ = script(program, *filled, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert_one_line(code, err, 2, "bytes, more than the 255 a name may have (choose a shorter path")
    assert list(tmp_path.iterdir()) == []


def test_hydra_run_dir_of_a_finished_run_keeps_its_record(tmp_path, monkeypatch, capsys):
    """Hydra writes ``.hydra/`` into ``hydra.run.dir`` before the run starts: the folder is checked first."""
    run_dir = tmp_path / "run"
    code, _, _ = script("train.py", *TINY, f"hydra.run.dir={run_dir}", monkeypatch=monkeypatch, capsys=capsys,
                        cwd=tmp_path)  # fmt: skip
    assert code == 0 and (run_dir / ".hydra" / "overrides.yaml").is_file()
    before = {
        path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file() and path.name != ".lock"
    }
    code, err, _ = script("train.py", *TINY, "seed=3", f"hydra.run.dir={run_dir}", monkeypatch=monkeypatch,
                          capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, "already holds a run")
    after = {
        path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file() and path.name != ".lock"
    }
    assert after == before


FOLDER_CROSSINGS = [
    ([], ["num_seeds=2"], "checkpoint.pt); continue it with resume="),
    ([], ["num_seeds=2", "seed_mode=batched"], "checkpoint.pt); continue it with resume="),
    (["num_seeds=2"], [], "seed0/checkpoint.pt); continue it with resume=%s/seed0 (and its other seed"),
    (["num_seeds=2", "seed_mode=batched"], [], "seed0/checkpoint.pt); give a new run_dir"),
]


@pytest.mark.parametrize(("first", "second", "fragment"), FOLDER_CROSSINGS)
def test_a_folder_holding_any_run_is_refused_to_any_new_run(tmp_path, capsys, first, second, fragment):
    """A num_seeds run trained into a single run's folder (and back), beside its files."""
    run_dir = tmp_path / "run"
    code, err, _ = run_train(*TINY, *first, f"run_dir={run_dir}", capsys=capsys)
    assert code == 0, err
    before = snapshot(run_dir)
    code, err, _ = run_train(*TINY, *second, f"run_dir={run_dir}", capsys=capsys)
    assert_one_line(code, err, 2, fragment.replace("%s", str(run_dir)))
    assert_intact(before, run_dir)
    assert {path.name for path in run_dir.iterdir()} == {path.split("/")[0] for path in before} | {".lock"}


@pytest.mark.parametrize("where", ["", "seed3/"], ids=["run", "num_seeds-seed-folder"])
def test_a_folder_holding_the_curves_of_a_run_that_saved_nothing_is_refused(tmp_path, capsys, where):
    """A many-seeds run stopped while it set up its seed folders (SIGTERM before the first save)
    left ``seed*/`` folders with an event file and no checkpoint; a new run there was accepted and
    its curves mixed with them (two event files per seed in TensorBoard)."""
    run_dir = tmp_path / "run"
    (run_dir / where).mkdir(parents=True)
    stale = run_dir / where / "events.out.tfevents.1.host.1.0"
    stale.write_bytes(b"")
    code, err, _ = run_train(*TINY, "num_seeds=4", f"run_dir={run_dir}", capsys=capsys)
    assert_one_line(code, err, 2, f"holds the TensorBoard curves of a run that saved no checkpoint ({stale};")
    assert sorted(path.relative_to(run_dir).as_posix() for path in run_dir.rglob("*")) == sorted(
        {*([where.rstrip("/")] if where else []), stale.relative_to(run_dir).as_posix()}
    )


def test_a_folder_holding_another_runs_best_checkpoint_is_refused(tmp_path, capsys):
    """A new run kept a foreign checkpoint_best.pt (it writes none of its own until it beats -inf),
    which evaluate.py which=best then took for this run's."""
    source = tmp_path / "source"
    assert run_train(*TINY, f"run_dir={source}", capsys=capsys)[0] == 0
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "checkpoint_best.pt").write_bytes((source / "checkpoint.pt").read_bytes())
    code, err, _ = run_train(*TINY, f"run_dir={run_dir}", capsys=capsys)
    assert_one_line(code, err, 2, f"already holds a run ({run_dir / 'checkpoint_best.pt'})")
    assert sorted(path.name for path in run_dir.iterdir()) == ["checkpoint_best.pt"]


@pytest.mark.parametrize(
    ("name", "args"),
    [("train.py", ["agent.lr=-1"]), ("train.py", ["env=Nope-v0"]), ("train.py", ["seed=${oops}"]),
     ("results_table.py", ["seeds=0"]), ("train.py", ["hydra.run.dir=new/folder", "agent.lr=-1"])],
)  # fmt: skip
def test_a_mistaken_command_line_leaves_no_output_folder(tmp_path, monkeypatch, capsys, name, args):
    """Hydra made outputs/<env>/<time>/ with its .hydra/ record and an empty log before the run
    refused the mistake."""
    (tmp_path / "outputs" / "mine").mkdir(parents=True)
    code, err, _ = script(name, *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert code == 2, err
    assert sorted(str(path.relative_to(tmp_path)) for path in tmp_path.rglob("*")) == [
        "outputs",
        "outputs/mine",
    ]


def test_a_given_hydra_run_dir_that_existed_is_kept_after_a_mistake(tmp_path, monkeypatch, capsys):
    folder = tmp_path / "given"
    folder.mkdir()
    code, err, _ = script("train.py", f"hydra.run.dir={folder}", "agent.lr=-1", monkeypatch=monkeypatch,
                          capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 2 and folder.is_dir(), err


def test_resume_of_a_folder_a_run_is_writing_names_that_run(tmp_path, capsys):
    """Before that run's first save it said "no checkpoint at ..."."""
    run_dir = tmp_path / "run"
    holder = Trainer(compose_train_config([*TINY, f"run_dir={run_dir}"]))
    code, err, _ = run_train(f"resume={run_dir}", capsys=capsys)
    assert_one_line(code, err, 2, f"run folder {run_dir} is in use by another run (pid {os.getpid()})")
    holder.run()


def test_nan_observations_in_compare_gradients_are_blamed_on_the_env(tmp_path, monkeypatch, capsys):
    """It printed a nan table and "FAIL float64: 126 samples above 1e-10", exit 1: the math's fault."""
    fault_envs.FaultyEnv.calls = 0
    code, err, _ = script("compare_gradients.py", "env=fault_envs:fault/Nanobs-v0", monkeypatch=monkeypatch,
                          capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, "env=fault_envs:fault/Nanobs-v0 returned nan/inf observations while the")


def test_an_evaluate_sweep_leaves_no_hydra_folders(trained, tmp_path, monkeypatch, capsys):
    """evaluate.yaml keeps no Hydra record, but -m wrote multirun/<date>/<time>/ and empty job folders."""
    work = tmp_path / "work"
    work.mkdir()
    args = ["-m", f"checkpoint={trained}", "episodes=1,2"]
    code, err, out = script("evaluate.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=work)
    assert code == 0, err
    assert out.count("greedy: return") == 2 and not list(work.iterdir())


def test_a_mistake_is_said_before_the_folder_that_holds_a_run(tmp_path, monkeypatch, capsys):
    """With run_dir= of a finished run, the folder's line hid env=Nope-v0 until the folder was fixed."""
    run_dir = tmp_path / "run"
    assert run_train(*TINY, f"run_dir={run_dir}", capsys=capsys)[0] == 0
    for mistake, fragment in (("env=Nope-v0", "env=Nope-v0 is not a registered Gymnasium id"),
                              ("agent.lr=-1", "agent.lr=-1.0 must be > 0")):  # fmt: skip
        args = [f"run_dir={run_dir}", mistake]
        code, err, _ = script("train.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
        assert_one_line(code, err, 2, fragment)
    code, err, _ = script(
        "train.py", f"run_dir={run_dir}", monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path
    )
    assert_one_line(code, err, 2, "already holds a run")


def test_a_wrapper_target_that_is_no_wrapper_class_is_never_called(tmp_path, capsys):
    """env_wrappers=[{_target_: os.system}] ran os.system(env), then said the wrapper did not fit."""
    marker = tmp_path / "ran"
    wrapper = f"+env_wrappers=[{{_target_:pydoc.pipepager,cmd:'touch {marker}'}}]"
    code, err, _ = run_train(*TINY, wrapper, f"run_dir={tmp_path / 'run'}", capsys=capsys)
    assert_one_line(code, err, 2, "env_wrappers[0]._target_=pydoc.pipepager is not a gymnasium.Wrapper class")
    time.sleep(0.5)
    assert not marker.exists()


def test_a_mistake_in_a_program_whose_run_dir_is_the_working_folder_keeps_it(tmp_path, monkeypatch, capsys):
    """evaluate.py runs in "." (no Hydra record): an empty working folder is no unused output folder."""
    work = tmp_path / "empty"
    work.mkdir()
    args = ["checkpoint=/nonexistent"]
    code, err, _ = script("evaluate.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=work)
    assert_one_line(code, err, 2, "no checkpoint at /nonexistent")
    assert work.is_dir()


def test_a_wrapper_module_in_the_working_folder_is_imported_as_an_env_module_is(
    tmp_path, monkeypatch, capsys
):
    """The working folder was importable for env=module:Id only: a wrapper there could not be imported."""
    (tmp_path / "wrapper_only_module.py").write_text(
        "import gymnasium as gym\n\nclass Bonus(gym.RewardWrapper):\n"
        "    def reward(self, reward):\n        return reward + 1.0\n"
    )
    monkeypatch.setattr(sys, "path", [entry for entry in sys.path if entry not in ("", str(tmp_path))])
    wrapper = "+env_wrappers=[{_target_:wrapper_only_module.Bonus}]"
    code, err, _ = script("train.py", *TINY, wrapper, f"run_dir={tmp_path / 'run'}", monkeypatch=monkeypatch,
                          capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    sys.modules.pop("wrapper_only_module", None)


def test_a_mistake_removes_only_what_the_run_added(tmp_path, monkeypatch, capsys):
    """The cleanup removed folders the user had made (an empty parent, the given folder itself) and
    left Hydra's record and the lock in a given folder that existed."""
    for name in ("E", "P", "P2", "W"):
        (tmp_path / name).mkdir()
    (tmp_path / "W" / "notes.txt").write_text("mine")
    for args, cwd in ((["hydra.run.dir=x/../E"], tmp_path), (["hydra.run.dir=P/run1"], tmp_path),
                      (["run_dir=P2/run1"], tmp_path), (["hydra.run.dir=."], tmp_path / "W")):  # fmt: skip
        code, err, _ = script(
            "train.py", "env=Nope-v0", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=cwd
        )
        assert_one_line(code, err, 2, "env=Nope-v0 is not a registered Gymnasium id")
    assert {path.name for path in tmp_path.iterdir()} >= {"E", "P", "P2", "W"}
    assert all(not list((tmp_path / name).iterdir()) for name in ("E", "P", "P2"))
    assert [path.name for path in (tmp_path / "W").iterdir()] == ["notes.txt"]


def test_resuming_a_finished_seed_folder_leaves_it_untouched(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    assert run_train(*TINY, "num_seeds=2", f"run_dir={run_dir}", capsys=capsys)[0] == 0
    before = snapshot(run_dir)
    code, err, _ = script("train.py", f"resume={run_dir / 'seed1'}", monkeypatch=monkeypatch, capsys=capsys,
                          cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, "has nothing left to do: it took its 300 env steps")
    assert snapshot(run_dir) == before  # it added an empty train.log and rewrote .lock


@pytest.mark.parametrize("name", ["new,dir", "br[1]", "it's", "b\\s2", "ünï"])  # ü: Hydra reads it quoted
def test_a_new_run_dir_with_hydra_characters_is_trained_into(tmp_path, monkeypatch, capsys, name):
    """run_dir= became an unquoted hydra.run.dir=, which Hydra refused (or read as another folder)."""
    from agents.runtime.program import hydra_override

    run_dir = tmp_path / name
    args = [*TINY, hydra_override("run_dir", run_dir)]
    code, err, _ = script("train.py", *args, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert code == 0, err
    assert (run_dir / "checkpoint.pt").is_file() and (run_dir / ".hydra").is_dir()
    assert sorted(path.name for path in tmp_path.iterdir()) == [name]


REWARD_MODES = {
    "single": [],
    "async1": ["vector.num_envs=1", "vector.mode=async"],
    "async": ["vector.num_envs=2", "vector.mode=async"],
    "seeds-async": ["num_seeds=2", "vector.num_envs=2", "vector.mode=async"],
    "batched-async": ["num_seeds=2", "seed_mode=batched", "vector.mode=async"],
    "sync": ["vector.num_envs=2", "vector.mode=sync"],  # (a user's env: checked before Gymnasium stores them)
    "batched": ["num_seeds=2", "seed_mode=batched"],
}


@pytest.mark.parametrize("mode", list(REWARD_MODES))
@pytest.mark.parametrize(
    ("fault", "what"),
    [("Nonereward", "step returned reward None (NoneType), not a number"),  # was "nan/inf rewards"
     ("Arrayreward", "reward array(["),  # async: a buffer.py traceback, exit 1, nothing saved
     ("Noneterminated", "step returned terminated=None (NoneType), not a bool"),  # no episode ended
     ("Strtruncated", "step returned truncated='no' (str), not a bool")],  # every step ended one
)  # fmt: skip
def test_a_reward_or_end_flag_of_a_wrong_kind_is_one_line_in_every_mode(tmp_path, capsys, mode, fault, what):
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        "logging.progress_bar=false", "budget.total_env_steps=1000", f"env=fault_envs:fault/{fault}-v0",
        *REWARD_MODES[mode], f"run_dir={run_dir}", capsys=capsys,
    )  # fmt: skip
    step = "vector step" if mode.startswith("batched") else "env step"
    assert_one_line(code, err, 2, f"env=fault_envs:fault/{fault}-v0 failed at {step}")
    assert what in err and "last good state is in" in err
    folders = (
        [run_dir] if "seeds" not in mode and "batched" not in mode else [run_dir / "seed0", run_dir / "seed1"]
    )
    for folder in folders:
        assert 0 < load_checkpoint(folder)["counters"]["env_steps"] < 1000


def test_an_env_returning_one_array_each_step_is_stored_as_it_returned_it(tmp_path):
    """An env that writes each observation into one array it returns every time: the trainer,
    which stores ``S_t`` after the step that returned ``S_{t+1}``, stored ``S_{t+1}`` for every
    ``S_t`` and learned from the wrong states, without a word (a one-env run; Gymnasium's sync and
    async vector envs copy). The measurements' episodes were collected the same way."""
    fault_envs.FaultyEnv.calls = 0
    trainer = Trainer(compose_train_config([
        *TINY, "env=fault_envs:fault/Inplace-v0", "agent.episodes_per_update=1000", f"run_dir={tmp_path}",
    ]))  # fmt: skip
    env = trainer.envs.env.unwrapped
    for _ in range(15):  # within the first episode (20 steps)
        trainer.step(trainer.actor(trainer.agent.inputs(trainer.obs)))
    stored = trainer.buffer.obs[: trainer.buffer.t, 0]
    assert np.array_equal(stored, np.stack(env.returned[:15]))
    trainer.abandon()
    env = gym.make("fault_envs:fault/Inplace-v0")
    _, observations = collect_episodes(env, trainer.agent.inputs, trainer.agent.policy, 1, seed=0)
    assert np.array_equal(observations, np.stack(env.unwrapped.returned[:-1]))


def test_a_resumed_run_of_an_env_returning_one_array_is_exact(tmp_path, capsys):
    """The episode in progress is replayed on resume: its last observation was the env's own array,
    so the first step after it stored S_{t+1} as S_t and the run left the uninterrupted one."""
    same = [*TINY, "env=fault_envs:fault/Inplace-v0", "agent.lr_schedule=constant"]
    whole, split = tmp_path / "whole", tmp_path / "split"
    assert run_train(*same, f"run_dir={whole}", capsys=capsys)[0] == 0
    assert run_train(*same, "budget.total_env_steps=150", f"run_dir={split}", capsys=capsys)[0] == 0
    assert run_train(*same, f"resume={split}", capsys=capsys)[0] == 0
    assert torch.equal(load_checkpoint(whole)["policy"]["weight"], load_checkpoint(split)["policy"]["weight"])


@pytest.mark.parametrize(
    ("fault", "said"),
    # a user's env is checked before Gymnasium's sync vector env stores None as nan (the line said that),
    # and a reward array as one number (it said "a reward, terminated or truncated that is not one value")
    [("Arrayreward", "failed at env step 149: step returned reward array([1.]) (ndarray of shape (1,)), "
                     "not a number"),
     ("Nonereward", "failed at env step 149: step returned reward None (NoneType), not a number")],
)  # fmt: skip
def test_a_sync_vector_env_says_which_reward_it_could_not_take(tmp_path, capsys, fault, said):
    fault_envs.FaultyEnv.calls = 0
    code, err, _ = run_train(
        "logging.progress_bar=false", "budget.total_env_steps=1000", f"env=fault_envs:fault/{fault}-v0",
        "vector.num_envs=2", "vector.mode=sync", f"run_dir={tmp_path / 'run'}", capsys=capsys,
    )  # fmt: skip
    assert_one_line(code, err, 2, said)


@pytest.mark.parametrize("mode", [[], ["vector.num_envs=2", "vector.mode=sync"]], ids=["single", "sync"])
def test_a_nan_reward_is_not_said_to_be_a_none_the_sync_env_stored(tmp_path, capsys, mode):
    """A nan reward from one env stepped by hand was said to be what vector.mode=sync makes of None;
    a user's env's None is now refused before a sync vector env stores it, so a nan is a nan."""
    fault_envs.FaultyEnv.calls = 0
    code, err, _ = run_train(
        "logging.progress_bar=false", "budget.total_env_steps=1000", "env=fault_envs:fault/Notanumber-v0",
        *mode, f"run_dir={tmp_path / 'run'}", capsys=capsys,
    )  # fmt: skip
    assert_one_line(code, err, 2, "returned nan/inf rewards")
    assert "(vector.mode=sync stores a reward of None as nan)" not in err


OBSERVATION_MODES = {
    "single": [],
    "sync": ["vector.num_envs=2", "vector.mode=sync"],
    "async": ["vector.num_envs=2", "vector.mode=async"],
    "batched-async": ["num_seeds=2", "seed_mode=batched", "vector.mode=async"],
}


@pytest.mark.parametrize("mode", list(OBSERVATION_MODES))
@pytest.mark.parametrize(
    ("fault", "what"),
    # Fraction: async cast 1.7 to 1
    [("Fraction", "returned float64 observations; the observation_space Discrete(4) holds integers"),
     ("Intfloats", "returned float64 observations; the observation_space Box(-5, 5, (4,), int64) holds "
                   "integers"),  # single: trained; sync: "TypeError: Cannot cast array data"
     ("Longer", "returned an observation of shape (5,) and dtype float32; its observation_space says shape "
                "(4,), dtype float32")],  # sync: "all input arrays must have the same shape"
)  # fmt: skip
def test_an_observation_the_space_does_not_hold_is_refused_alike_in_every_mode(
    tmp_path, capsys, mode, fault, what
):
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    code, err, _ = run_train(
        "logging.progress_bar=false", "budget.total_env_steps=1000", f"env=fault_envs:fault/{fault}-v0",
        *OBSERVATION_MODES[mode], f"run_dir={run_dir}", capsys=capsys,
    )  # fmt: skip
    assert_one_line(code, err, 2, what)
    assert "failed at" in err and "last good state is in" in err


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["single", "sync", "batched-sync"])  # the runners', the batched envs' hold
def test_what_the_first_step_returned_is_refused_in_one_line_without_gymnasiums_warning(tmp_path, mode):
    """A reward of None at the first step, which Gymnasium's passive env checker checks, printed its
    two-line UserWarning (colour codes and all) before the project's line saying the same (an
    async env's workers, and num_seeds=2's runners, were checked by hand: one line too)."""
    modes = {**OBSERVATION_MODES, "batched-sync": ["num_seeds=2", "seed_mode=batched", "vector.mode=sync"]}
    paths = os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    completed = subprocess.run(
        [sys.executable, str(SCRIPTS / "train.py"), "env=fault_envs:fault/FirstNonereward-v0",
         "logging.progress_bar=false", f"run_dir={tmp_path / 'run'}", *modes[mode]],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": paths},
    )  # fmt: skip
    assert_one_line(
        completed.returncode, completed.stderr, 2, "step 1: step returned reward None (NoneType), not"
    )


@pytest.mark.parametrize("mode", list(OBSERVATION_MODES))
def test_a_bool_state_in_a_discrete_space_trains_alike_in_every_mode(tmp_path, capsys, mode):
    """``True`` for a ``Discrete(4)`` state, which Gymnasium's ``Discrete.contains`` takes (as 1): one
    env stepped by hand and an async vector env refused it ("bool observations; ... holds
    integers"), a sync vector env stored it as 1 and trained."""
    fault_envs.FaultyEnv.calls = 0
    code, err, _ = run_train(
        "logging.progress_bar=false", "budget.total_env_steps=1000", "env=fault_envs:fault/Boolstate-v0",
        *OBSERVATION_MODES[mode], f"run_dir={tmp_path / 'run'}", capsys=capsys,
    )  # fmt: skip
    assert code == 0 and "Traceback" not in err, err
    agent = agents.load(tmp_path / "run" / ("seed0" if "num_seeds=2" in OBSERVATION_MODES[mode] else ""))
    assert agent.predict(True) == agent.predict(1) and agent.predict(np.array([False, True])).shape == (2,)


@pytest.mark.parametrize(
    ("fault", "said"),
    # was a TypeError traceback from play_episode's float(reward), exit 1, no checkpoint.pt
    [("Evalnonereward", "returned reward None (NoneType), not a number in step 10 of episode 2"),
     # the run went on, logging an evaluation mean of nan at every evaluation (and never a best)
     ("Evalnanreward", "returned nan/inf rewards (episode 3's return is nan)")],
)  # fmt: skip
def test_a_reward_that_is_no_number_in_the_evaluation_env_saves_and_names_the_step(
    tmp_path, capsys, fault, said
):
    fault_envs.FaultyEnv.calls = (
        0  # training's 100 steps (its env's first seed is 0: it pays), then evaluation
    )
    run_dir = tmp_path / "run"
    overrides = [f"env=fault_envs:fault/{fault}-v0", "eval.every_steps=100", f"run_dir={run_dir}"]
    code, err, _ = run_train(*TINY, *overrides, capsys=capsys)
    assert_one_line(
        code,
        err,
        2,
        f"env=fault_envs:fault/{fault}-v0 failed in the evaluation after env step 100: "
        f"the evaluation env {said}",
    )
    assert load_checkpoint(run_dir)["counters"]["env_steps"] == 100


@pytest.mark.filterwarnings("ignore::UserWarning")  # Gymnasium's env checker warns of the shape first
def test_an_observation_of_another_shape_in_compare_gradients_is_one_line(tmp_path, monkeypatch, capsys):
    """It was numpy's "shapes (1,6) and (5,2) not aligned" from the policy's logits, a traceback."""
    fault_envs.FaultyEnv.calls = 0
    code, err, _ = script("compare_gradients.py", "env=fault_envs:fault/Longer-v0", "num_states=400",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(
        code, err, 2, "returned an observation of shape (5,) and dtype float32; its observation_space"
    )


@pytest.mark.parametrize("fault", ["Resetshape", "Outofbox"])
def test_the_env_checkers_warnings_in_compare_gradients_only_where_the_env_runs(
    tmp_path, monkeypatch, capsys, fault
):
    """Gymnasium's passive env checker warned of the first observation above the one line that
    says it anyway (compare_gradients, evaluate, training's evaluation env): now its warnings are
    shown only when the episodes go on (an observation outside the Box is no fault of ours)."""
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        code, err, _ = script("compare_gradients.py", f"env=fault_envs:fault/{fault}-v0", "num_states=64",
                              "num_random_states=4", "repeats=1", monkeypatch=monkeypatch, capsys=capsys,
                              cwd=tmp_path)  # fmt: skip
    checker = [warning for warning in shown if "not within the observation space" in str(warning.message)]
    if fault == "Resetshape":
        assert_one_line(
            code, err, 2, "returned an observation of shape (3,) and dtype float32; its observation_"
        )
        assert not checker
    else:
        assert code == 0 and checker, err


def test_a_warning_of_the_users_env_is_shown_as_often_as_python_shows_it(tmp_path, monkeypatch, capsys):
    """Holding the start's warnings with ``warnings.catch_warnings`` reset Python's once-per-place
    registries: a warning the env gave at every reset was shown at every episode (20 times in an
    evaluation, 89 in a training run with evaluations), where Python shows it once."""
    run_dir = tmp_path / "run"
    overrides = [*TINY, "budget.total_env_steps=300", "env=fault_envs:fault/Warnreset-v0",
                 "eval.every_steps=100", "eval.episodes=5", f"run_dir={run_dir}"]  # fmt: skip
    for program in ("train", "evaluate"):  # each a process of its own for the user
        with warnings.catch_warnings(record=True) as shown:
            warnings.simplefilter("default")
            if program == "train":
                train(compose_train_config(overrides))
            else:
                code, err, _ = script("evaluate.py", f"checkpoint={run_dir}", "episodes=10",
                                      monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
                assert code == 0, err
        assert [str(warning.message) for warning in shown].count("the simulator runs slow") == 1, program


def test_a_reward_that_is_no_number_in_evaluate_and_compare_gradients_is_one_line(
    tmp_path, monkeypatch, capsys
):
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    train(compose_train_config([*TINY, "budget.total_env_steps=100", "env=fault_envs:fault/Arrayreward-v0",
                                f"run_dir={run_dir}"]))  # fmt: skip
    before = snapshot(run_dir)
    fault_envs.FaultyEnv.calls = 0
    code, err, _ = script("evaluate.py", f"checkpoint={run_dir}", monkeypatch=monkeypatch, capsys=capsys,
                          cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, "failed in greedy evaluation: returned reward array([")
    assert "(ndarray of shape (1,)), not a number in step 10 of episode 7" in err
    assert_intact(before, run_dir)
    fault_envs.FaultyEnv.calls = 0
    code, err, _ = script("compare_gradients.py", "env=fault_envs:fault/Nonereward-v0", "num_states=400",
                          monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert_one_line(code, err, 2, "returned reward None (NoneType), not a number in step 10 of episode 7")


@pytest.mark.parametrize(
    ("fault", "expected"),
    [("Notanumber", "note: 3 of 10 greedy episodes have a nan or inf return: "
                    "env=fault_envs:fault/Notanumber-v0 returned nan/inf rewards"),
     ("Bigreward", "return 5.1e+300 +- 8.12958e+300 over 10 episodes")],  # was 300 digits and "+- inf"
)  # fmt: skip
@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's "x = um.square(x, out=x)" overflow warning
@pytest.mark.filterwarnings("ignore:.*The reward is a NaN value")  # Gymnasium's env checker's own warning
def test_evaluate_reports_non_finite_and_huge_returns_readably(
    tmp_path, monkeypatch, capsys, fault, expected
):
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    train(compose_train_config([*TINY, "budget.total_env_steps=100", f"env=fault_envs:fault/{fault}-v0",
                                f"run_dir={run_dir}"]))  # fmt: skip
    fault_envs.FaultyEnv.calls = 0
    code, err, out = script("evaluate.py", f"checkpoint={run_dir}", monkeypatch=monkeypatch, capsys=capsys,
                            cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    assert expected in " ".join(out.split()), out
    assert "um.square" not in err and max(len(word) for word in out.split()) < 200


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("num_seeds=2",),
        ("num_seeds=2", "seed_mode=batched"),
        ("logging.print_every_seconds=0.001",),
        ("eval.every_steps=200",),
    ],
    ids=["single", "exact", "batched", "lines", "eval"],
)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's "x = um.square(x, out=x)" overflow warning
def test_training_prints_huge_returns_readably(tmp_path, monkeypatch, capsys, overrides):
    """Returns of ~1e301 (finite in float64): the summary, the seeds table and the progress lines
    printed each one with all its 300 digits, and the spread over seeds was an overflow warning
    and inf."""
    fault_envs.FaultyEnv.calls = 0
    code, err, out = script("train.py", *TINY, "budget.total_env_steps=400", "agent.dtype=float64",
                            "env=fault_envs:fault/Bigreward-v0", f"run_dir={tmp_path / 'run'}", *overrides,
                            monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    printed = out + err
    assert "e+30" in out and max(len(word) for word in printed.split() if "/" not in word) < 60, printed
    assert "um.square" not in printed and "inf" not in printed.replace("info", ""), printed


@pytest.mark.filterwarnings("error::RuntimeWarning")
def test_plot_of_returns_past_float32_is_a_table_without_warnings(tmp_path, monkeypatch, capsys):
    """TensorBoard keeps float32 scalars: returns of 1e301 are inf there, and the table's bootstrap
    printed numpy's "invalid value encountered in scalar subtract" above it."""
    fault_envs.FaultyEnv.calls = 0
    run_dir = tmp_path / "run"
    code, err, _ = script("train.py", *TINY, "budget.total_env_steps=400", "agent.dtype=float64",
                          "env=fault_envs:fault/Bigreward-v0", f"run_dir={run_dir}", monkeypatch=monkeypatch,
                          capsys=capsys, cwd=tmp_path)  # fmt: skip
    assert code == 0, err
    plot = ("plot.py", f"runs=[{run_dir}]", f"out={tmp_path / 'fig'}")
    code, err, out = script(*plot, monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)
    assert code == 0 and "Warning" not in err, err
    assert "| inf " in out, out


def _train_with_file_size_limit(
    tmp_path: Path, limit: int, *overrides: str
) -> subprocess.CompletedProcess[str]:
    """``scripts/train.py`` where no file may grow past ``limit`` bytes: what a full disk does to
    the writes (``EFBIG`` for ``ENOSPC``; ``SIGXFSZ`` ignored, so the write fails instead of killing)."""

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    command = [sys.executable, str(ROOT / "scripts" / "train.py"), "logging.progress_bar=false", *overrides]
    return subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=120, preexec_fn=limited
    )


@pytest.mark.slow
@pytest.mark.parametrize("limit", [1000, 20000])
@pytest.mark.parametrize("mode", [[], ["num_seeds=3"], ["num_seeds=3", "seed_mode=batched"]])
def test_a_full_disk_is_one_line(tmp_path, limit, mode):
    """A write that fails for want of space was a traceback: torch's ``RuntimeError`` ("unexpected
    pos") for a checkpoint, an ``OSError`` for ``config.yaml`` (in every run mode)."""
    completed = _train_with_file_size_limit(
        tmp_path, limit, "run_dir=r", "budget.total_env_steps=2000", *mode
    )
    if completed.returncode == 0:  # the batched run's small checkpoints fit 20000 bytes
        assert limit == 20000 and "seed_mode=batched" in mode
        return
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr and len(completed.stderr.strip().splitlines()) == 1
    assert "cannot write" in completed.stderr and "File too large" in completed.stderr


@pytest.mark.slow
def test_a_resume_on_a_full_disk_keeps_the_runs_files(tmp_path):
    """A resume rewrites ``config.yaml``: in place, a full disk left it cut short."""
    trained = _train_with_file_size_limit(tmp_path, 10**8, "run_dir=r", "budget.total_env_steps=2000")
    assert trained.returncode == 0, trained.stderr
    config, checkpoint = (
        (tmp_path / "r" / "config.yaml").read_text(),
        (tmp_path / "r" / CHECKPOINT_NAME).read_bytes(),
    )
    resumed = _train_with_file_size_limit(tmp_path, 500, "resume=r", "budget.total_env_steps=4000")
    assert resumed.returncode == 2, resumed.stderr
    assert "Traceback" not in resumed.stderr and "cannot write" in resumed.stderr
    assert (tmp_path / "r" / "config.yaml").read_text() == config
    assert (tmp_path / "r" / CHECKPOINT_NAME).read_bytes() == checkpoint


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")  # the thread's traceback
def test_a_full_disk_under_the_event_file_is_one_line_naming_it_with_the_state_saved(
    tmp_path, capsys, event_file_fills_up, mode
):
    """TensorBoard's writer thread printed its traceback ("Exception in thread Thread-1: ..."), the
    line said "cannot write: No space left on device" naming no file, and (the log flushed before
    the checkpoint) the run saved no checkpoint; the batched mode saved none either."""
    run_dir = tmp_path / "run"
    code, err, _ = run_train(*TINY, "budget.total_env_steps=3000", *MODES[mode], f"run_dir={run_dir}",
                             capsys=capsys)  # fmt: skip
    assert_one_line(
        code, err, 2, f"cannot write {'' if mode == 'batched' else 'the TensorBoard event file in '}{run_dir}"
    )
    assert "No space left on device (free space, or choose another location)" in err
    for folder in [run_dir] if mode in ("single", "vector") else [run_dir / "seed0", run_dir / "seed1"]:
        assert load_checkpoint(folder)["counters"]["env_steps"] > 0


@pytest.mark.parametrize("resuming", [False, True])
def test_ctrl_c_while_tensorboard_starts_leaves_the_folder_as_it_was(tmp_path, capsys, monkeypatch, resuming):
    """A new run left its config.yaml and event file, so the same command was refused ("holds the
    TensorBoard curves of a run that saved no checkpoint"); a resume left config.yaml saying the
    agent.lr it had been given, which the checkpoint lacked, and an empty event file."""
    import agents.runtime.trainer as trainer_module

    run_dir = tmp_path / "run"
    if resuming:
        assert run_train(*TINY, f"run_dir={run_dir}", capsys=capsys)[0] == 0
    before = snapshot(run_dir) if resuming else None
    real_logger = trainer_module.Logger

    def ctrl_c_while_starting(*args, **kwargs):
        real_logger(*args, **kwargs).close()  # its event file is there (closed: as Logger's own Ctrl-C)
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module, "Logger", ctrl_c_while_starting)
    again = [f"resume={run_dir}", "agent.lr=0.05", "budget.total_env_steps=600"] if resuming else []
    code, err, _ = run_train(*TINY, *(again or [f"run_dir={run_dir}"]), capsys=capsys)
    assert code == 130 and "quit at once" in err, err
    if resuming:
        assert snapshot(run_dir) == before
    else:
        assert not run_dir.exists() or not [path.name for path in run_dir.iterdir() if path.name != ".lock"]
    monkeypatch.undo()
    code, err, _ = run_train(*TINY, *(again or [f"run_dir={run_dir}"]), capsys=capsys)
    assert code == 0, err


def test_ctrl_c_while_a_batched_run_writes_its_folders_leaves_none(tmp_path, capsys, monkeypatch):
    """It left config.yaml and seed*/config.yaml: the same command was then refused ("holds a
    config.yaml, which a run there would write over")."""
    import agents.runtime.many_seeds as many_seeds

    real_event_file, made = many_seeds.EventFile, []

    def ctrl_c_at_the_second(folder):
        made.append(real_event_file(folder))
        if len(made) == 2:
            raise KeyboardInterrupt
        return made[-1]

    monkeypatch.setattr(many_seeds, "EventFile", ctrl_c_at_the_second)
    run_dir, batched = tmp_path / "run", [*TINY, *MODES["batched"]]
    code, err, _ = run_train(*batched, f"run_dir={run_dir}", capsys=capsys)
    assert code == 130 and "quit at once" in err, err
    assert not run_dir.exists() or not list(run_dir.iterdir())
    monkeypatch.undo()
    code, err, _ = run_train(*batched, f"run_dir={run_dir}", capsys=capsys)
    assert code == 0, err


@pytest.mark.parametrize("mode", list(MODES))
def test_a_fault_of_a_run_with_env_wrappers_says_the_env_is_wrapped(tmp_path, capsys, mode):
    """A wrapper given a string for its function failed at the first step, and the line blamed the
    env alone ("env=CartPole-v1 failed at env step 1: TypeError: 'str' object is not callable")."""
    wrapped = "env_wrappers=[{_target_:gymnasium.wrappers.TransformReward,func:abs}]"
    code, err, _ = run_train(*TINY, wrapped, *MODES[mode], f"run_dir={tmp_path / 'run'}", capsys=capsys)
    at = "vector step 1" if mode == "batched" else "env step 1"
    assert_one_line(code, err, 2, f"env=CartPole-v1 (with its env_wrappers) failed at {at}: TypeError: 'str'")


@pytest.mark.parametrize("mode", list(MODES))
def test_a_ctrl_c_as_the_run_starts_its_clock_saves_it(tmp_path, capsys, monkeypatch, mode):
    """A Ctrl-C that an import deferred by 50 ms landed after TensorBoard had started, as the
    progress bar's thread started, before the run handled signals: its config.yaml and event file
    stayed, with no checkpoint, and the same command was refused (no checkpoint to resume either)."""
    import agents.runtime.many_seeds as many_seeds

    def ctrl_c() -> None:  # once (a second Ctrl-C quits at once)
        os.kill(os.getpid(), signal.SIGINT)

    if mode == "batched":
        monkeypatch.setattr(many_seeds, "SeedsProgress", first_call_after(ctrl_c, many_seeds.SeedsProgress))
    else:
        monkeypatch.setattr(Trainer, "start_clock", first_call_after(ctrl_c, Trainer.start_clock))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as from a terminal
    run_dir = tmp_path / "run"
    try:
        code, err, _ = run_train(*TINY, *MODES[mode], f"run_dir={run_dir}", capsys=capsys)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert code == 130, err
    seeds = assert_saved_at_step_zero(run_dir, mode)
    if mode != "batched":
        monkeypatch.undo()
        for folder in seeds:
            assert run_train(f"resume={folder}", capsys=capsys)[0] == 0


def test_a_ctrl_c_as_a_resume_logs_its_changes_leaves_the_run_as_it_was(tmp_path, capsys, monkeypatch):
    """Between its start and its first step a resume logs its changes: a Ctrl-C there left its
    config.yaml with settings the checkpoint lacks, and a new event file."""
    import agents.runtime.trainer as trainer_module

    run_dir = tmp_path / "run"
    assert run_train(*TINY, f"run_dir={run_dir}", capsys=capsys)[0] == 0
    before = snapshot(run_dir)

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(trainer_module.Logger, "text", ctrl_c)
    more = [f"resume={run_dir}", "agent.lr=0.05", "budget.total_env_steps=600"]
    code, err, _ = run_train(*more, capsys=capsys)
    assert code == 130 and "quit at once" in err, err
    assert snapshot(run_dir) == before
    monkeypatch.undo()
    assert run_train(*more, capsys=capsys)[0] == 0


class OnceNanCartPole(CartPoleEnv):
    """CartPole whose ``at``-th step call (in this process, over all its sub-envs) returns a nan reward."""

    calls, at = 0, 0

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        OnceNanCartPole.calls += 1
        return obs, np.nan if OnceNanCartPole.calls == self.at else reward, terminated, truncated, info


gym.register("fault/OnceNanCartPole-v0", entry_point=OnceNanCartPole, max_episode_steps=500)


@pytest.mark.parametrize("at", [301, 421, 501, 611])
def test_the_last_good_state_after_one_sub_envs_nan_reward_resumes(tmp_path, capsys, at):
    """With vector envs the saved rows from the oldest episode in progress on held the other
    sub-env's nan row (its episode refused by the update): "buffer.rewards holds nan/inf (the file
    was altered)", for some steps of the fault."""
    OnceNanCartPole.calls, OnceNanCartPole.at = 0, at
    run_dir = tmp_path / "run"
    two = ["env=fault/OnceNanCartPole-v0", "vector.num_envs=2", "vector.mode=sync"]
    code, err, _ = run_train(*TINY, "budget.total_env_steps=3000", *two, f"run_dir={run_dir}", capsys=capsys)
    assert_one_line(code, err, 2, "returned nan/inf rewards in the episodes up to env step")
    OnceNanCartPole.at = 0  # mended
    code, err, _ = run_train(f"resume={run_dir}", capsys=capsys)
    assert code == 0, err


@pytest.mark.parametrize("mode", list(MODES))
def test_a_ctrl_c_a_library_swallowed_as_the_run_started_saves_it(tmp_path, capsys, monkeypatch, mode):
    """A Ctrl-C whose KeyboardInterrupt a library caught while the run wrote its folder was raised
    again as the run began handling signals, before its block: "quit at once", with config.yaml and
    an event file and no checkpoint (no resume, and the same command refused)."""
    import agents.runtime.interrupts as interrupts
    import agents.runtime.many_seeds as many_seeds
    import agents.runtime.trainer as trainer_module

    def swallowed() -> None:  # what interrupts.interrupt records before it raises
        interrupts.received.append(signal.SIGINT)

    if mode == "batched":
        monkeypatch.setattr(many_seeds, "EventFile", first_call_after(swallowed, many_seeds.EventFile))
    else:
        monkeypatch.setattr(trainer_module, "Logger", first_call_after(swallowed, trainer_module.Logger))
    run_dir = tmp_path / "run"
    try:
        code, err, _ = run_train(*TINY, *MODES[mode], f"run_dir={run_dir}", capsys=capsys)
    finally:
        interrupts.reset()
    assert code == 130 and "interrupted: quit at once" not in err, err
    assert_saved_at_step_zero(run_dir, mode)


def first_call_after(action, real):
    """``real``, whose first call ``action()`` precedes."""
    done = []

    def called(*args, **kwargs):
        if not done:
            done.append(action())
        return real(*args, **kwargs)

    return called


def assert_saved_at_step_zero(run_dir: Path, mode: str) -> list[Path]:
    """Each run folder of the ``mode`` run in ``run_dir`` holds a checkpoint at env step 0; the folders."""
    seeds = [run_dir] if mode in ("single", "vector") else [run_dir / "seed0", run_dir / "seed1"]
    for folder in seeds:
        assert load_checkpoint(folder)["counters"]["env_steps"] == 0
    return seeds


@pytest.mark.slow  # processes of several seconds each: make test-slow (CI); the quick suite stays near 5 min
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("finished", [True, False], ids=["finished", "refused"])
def test_a_signal_while_the_interpreter_shuts_down_ends_in_one_line(tmp_path, signum, finished):
    """A second Ctrl-C just after a stopped run's ``resume with:`` line (or one as a finished run
    exits) landed in an exit hook (torch's library finalizer, torch._dynamo's, tqdm's __del__):
    "Exception ignored in atexit callback", a traceback, and exit 0 after a finished run. An exit
    hook registered before the program's runs after its hooks, as torch's do. A finished run ends
    as finished, with 0 (a scheduler's SIGTERM as it exited marked its job failed, 143), as one
    whose final save a signal came in; a refused one, past its own exit hook, with its 2 and its one
    line (it quit with 130/143 and a second line)."""
    budget = 300 if finished else -5
    program = (
        "import atexit, os, runpy, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as at a terminal (xdist ignores it)
        f"atexit.register(lambda: (os.kill(os.getpid(), {int(signum)}), time.sleep(2)))\n"
        f"sys.argv = ['train.py', 'logging.progress_bar=false', 'budget.total_env_steps={budget}', "
        f"'run_dir={tmp_path / 'run'}']\n"
        f"runpy.run_path({str(SCRIPTS / 'train.py')!r}, run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in done.stderr, done.stderr
    if finished:
        assert done.returncode == 0 and "quit at once" not in done.stderr, done.stderr
        assert done.stdout.splitlines()[-1].startswith("tensorboard: ")  # what was printed reached its reader
        assert (tmp_path / "run" / "checkpoint.pt").is_file()
        return
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stderr)
    assert lines[0].startswith("error: budget.total_env_steps=-5 must be")


def _train_with_a_signal_in_teardown(
    signum: int, overrides: list[str], before_the_run: str = ""
) -> subprocess.CompletedProcess[str]:
    """``train.py <overrides>`` in a process that a finalizer of a module sends ``signum`` as the
    interpreter tears the modules down, after it put the default signal actions back."""
    program = (
        "import os, runpy, signal, sys, time, types\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as at a terminal (xdist ignores it)
        "kill, pid, sleep = os.kill, os.getpid(), time.sleep\n"
        "class Late:\n"
        f"    def __del__(self): kill(pid, {int(signum)}); sleep(0.5)\n"
        "module = types.ModuleType('zz_late')\n"
        "module.late = Late()\n"
        "sys.modules['zz_late'] = module\n"  # cleared with the modules, after the signal handlers
        f"{before_the_run}"
        f"sys.argv = ['train.py', 'logging.progress_bar=false', *{overrides!r}]\n"
        f"runpy.run_path({str(SCRIPTS / 'train.py')!r}, run_name='__main__')\n"
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # processes of several seconds each: make test-slow (CI); the quick suite stays near 5 min
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_after_the_interpreter_began_to_shut_down_still_ends_a_finished_run_with_0(tmp_path, signum):
    """The interpreter puts the default actions back as it shuts down (before the modules go, which
    takes half a second after torch): a signal then, after the last line, killed a finished run
    (130/143, no line), which the README says ends with 0. A finalizer of a module sends it here."""
    done = _train_with_a_signal_in_teardown(
        signum, ["budget.total_env_steps=300", f"run_dir={tmp_path / 'run'}"]
    )
    assert done.returncode == 0 and not done.stderr.strip(), (done.returncode, done.stderr)
    assert done.stdout.splitlines()[-1].startswith("tensorboard: ")


@pytest.mark.slow  # processes of several seconds each: make test-slow (CI); the quick suite stays near 5 min
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
@pytest.mark.parametrize("ending", ["stopped", "refused"])
def test_a_signal_after_the_interpreter_began_to_shut_down_keeps_the_programs_exit(tmp_path, signum, ending):
    """The same for a program that ended otherwise: a second Ctrl-C (or a scheduler's SIGTERM) in the
    half second after a stopped run's ``resume with:`` line killed the process by the signal, with
    no line (-15 to a Python parent, not 130), as it did a refused run's (not 2). Its work is over
    and said: it ends with the status it was ending with."""
    steps = "budget.total_env_steps=-5" if ending == "refused" else "budget.total_env_steps=100000"
    first_ctrl_c = (
        "import agents.runtime.trainer as trainer\n"
        "update = trainer.Trainer._update\n"
        "def update_then_ctrl_c(self, elapsed):\n"  # the run's own first Ctrl-C, at its first update
        "    update(self, elapsed); kill(pid, signal.SIGINT)\n"
        "trainer.Trainer._update = update_then_ctrl_c\n"
    )
    done = _train_with_a_signal_in_teardown(signum, [steps, f"run_dir={tmp_path / 'run'}"], first_ctrl_c)
    lines = done.stderr.strip().splitlines()
    if ending == "refused":
        assert done.returncode == 2 and len(lines) == 1, (done.returncode, done.stderr)
        assert lines[0].startswith("error: budget.total_env_steps=-5 must be")
        return
    assert done.returncode == 128 + signal.SIGINT, (done.returncode, done.stderr)
    assert "resume with: " in lines[-1] and "quit at once (" not in done.stderr, done.stderr
    assert load_checkpoint(tmp_path / "run")["counters"]["updates"] == 1


def test_a_signal_during_a_slow_exit_hook_still_ends_a_finished_run_at_once(tmp_path):
    """An exit hook registered during the run (an env module's) that takes long: a Ctrl-C then cut
    it short with 0, until 036fef1 ignored every signal from the end of the work (the run then
    waited out the hook)."""
    program = (
        "import atexit, runpy, signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "import agents.runtime.run as run\n"
        "printed = run.print_tensorboard_line\n"
        "def and_a_slow_hook(folder):\n"
        "    printed(folder)\n"
        "    sys.stdout.flush()\n"
        "    atexit.register(time.sleep, 60)\n"
        "run.print_tensorboard_line = and_a_slow_hook\n"
        f"sys.argv = ['train.py', 'logging.progress_bar=false', 'budget.total_env_steps=300', "
        f"'run_dir={tmp_path / 'run'}']\n"
        f"runpy.run_path({str(SCRIPTS / 'train.py')!r}, run_name='__main__')\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", program], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        for line in process.stdout:
            if line.startswith("tensorboard: "):
                break
        time.sleep(0.5)  # in the hook by now
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        assert process.wait(timeout=30) == 0, process.stderr.read()
        assert time.monotonic() - started < 10
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("how", ["file", "python -c in scripts/"])
def test_a_script_of_ones_own_that_goes_on_after_a_program_stays_interruptible(tmp_path, how):
    """A script's top level calling ``plot([...])`` and going on was taken for one of the project's
    scripts, whose process ends with the program: a later Ctrl-C ended the script with 0 at once,
    skipping its ``finally`` blocks and the rest (``python -c`` run in ``scripts/`` too: its
    ``<string>`` read as a file there)."""
    import agents

    agents.train("CartPole-v1", *TINY, f"run_dir={tmp_path / 'run'}")
    script = tmp_path / "mine.py"
    runs, out = f"runs=[{tmp_path / 'run'}]", f"out={tmp_path / 'fig'}"
    script.write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"  # as at a terminal (xdist ignores it)
        "from agents.tools.commands import plot\n"
        f"plot([{runs!r}, {out!r}])\n"
        "try:\n"
        "    print('plotted', flush=True)\n"
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    print('my own handler', flush=True)\n"
        "    sys.exit(5)\n"
    )
    command = [sys.executable, str(script)] if how == "file" else [sys.executable, "-c", script.read_text()]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=SCRIPTS,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )  # fmt: skip
    try:
        for line in process.stdout:
            if line.startswith("plotted"):
                break
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 5, process.stderr.read()
        assert process.stdout.read().strip() == "my own handler"
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize(("env", "other"), [("Acrobot-v1", "env=Acrobot-v1"), ("CartPole-v1", "seed=5")])
def test_a_checkpoint_copied_over_another_runs_is_refused_and_the_folder_stays(tmp_path, env, other):
    """Another run's checkpoint copied (or linked) over a folder's own was resumed without a word:
    it trained that run there, rewrote the folder's config.yaml and cut its curves at the copy's step."""
    import agents

    quiet = ["logging.progress_bar=false", "budget.stop_at_target=false"]
    agents.train("CartPole-v1", *quiet, f"run_dir={tmp_path / 'mine'}", "budget.total_env_steps=1500")
    agents.train(env, *quiet, f"run_dir={tmp_path / 'other'}", "budget.total_env_steps=500", other)
    shutil.copy(tmp_path / "other" / "checkpoint.pt", tmp_path / "mine" / "checkpoint.pt")
    before = {path: path.read_bytes() for path in (tmp_path / "mine").rglob("*") if path.is_file()}
    key, _, value = other.partition("=")
    said = rf"checkpoint.pt is a checkpoint of {key}={value}, but .*mine/config.yaml says {key}=\S+: it comes"
    with pytest.raises(agents.UserError, match=said):
        agents.train(env, *quiet, f"resume={tmp_path / 'mine'}", "budget.total_env_steps=3000")
    assert {path: path.read_bytes() for path in (tmp_path / "mine").rglob("*") if path.is_file()} == before
    agents.train(env, *quiet, f"resume={tmp_path / 'other'}", "budget.total_env_steps=1000")  # its own


def test_a_key_the_command_line_fixes_is_no_part_of_the_probed_space():
    """Optuna's sweeper drops a space's key that the command line gives a plain value: the probe
    still tried the preset's agent.baseline=mean and refused a search that runs."""
    from agents.runtime.config import register_configs
    from agents.tools.sweep_checks import search_base_config, search_probe_jobs
    from agents.tools.usage import CONFIG_DIR

    register_configs()
    argv = ["-m", "hparams_search=cartpole_tpe", "seed_mode=batched", "num_seeds=2", "agent.baseline=none"]
    probes = search_probe_jobs(search_base_config(argv, "train", CONFIG_DIR), argv)
    assert probes and not [probe for probe in probes if probe.setting.startswith("agent.baseline")]
    assert all(probe.job[3] == "agent.baseline=none" for probe in probes)


def test_a_search_spaces_range_is_probed_at_its_ends():
    """Each value of a range() was a probe job: seed=range(0,100000) would compose 100,000 configs
    (~0.01 s each) before the search's first trial."""
    from agents.runtime.config import register_configs
    from agents.tools.sweep_checks import search_base_config, search_probe_jobs
    from agents.tools.usage import CONFIG_DIR

    register_configs()
    argv = ["-m", "hparams_search=cartpole_tpe", "seed=range(0,100000)"]
    probes = search_probe_jobs(search_base_config(argv, "train", CONFIG_DIR), argv)
    settings = [probe.setting for probe in probes]
    assert settings == [
        "agent.lr=0.001",
        "agent.lr=0.3",
        "agent.gamma=0.999",
        "agent.baseline=mean",
        "agent.baseline=value",
        "seed=100000",
    ]  # fmt: skip (Optuna draws a range's stop too)
    first = ["agent.lr=0.001", "agent.gamma=0.9", "agent.baseline=none", "seed=0"]
    assert probes[0].job == ["hparams_search=cartpole_tpe", *first]


def test_a_resume_reads_past_a_config_yaml_that_does_not_resolve(tmp_path):
    """The check that a folder's checkpoint is its own read config.yaml's seed: ``seed: ${oops}``
    was an InterpolationKeyError traceback, where the run had resumed."""
    import agents

    quiet = ["logging.progress_bar=false", "budget.stop_at_target=false"]
    agents.train("CartPole-v1", *quiet, f"run_dir={tmp_path / 'run'}", "budget.total_env_steps=500")
    (tmp_path / "run" / "config.yaml").write_text("seed: ${oops}\nenv: CartPole-v1\n")
    result = agents.train("CartPole-v1", *quiet, f"resume={tmp_path / 'run'}", "budget.total_env_steps=1000")
    assert result.env_steps == 1000


def test_a_signal_in_a_finalizer_waits_for_it(monkeypatch):
    """A Ctrl-C as a finished run exits landed in tqdm's __del__: "Exception ignored in", a
    traceback, and the signal lost (exit 0)."""
    from agents.runtime import interrupts

    monkeypatch.setattr(interrupts, "REDELIVERY_SECONDS", 600.0)  # cancelled below, never sent
    said = []

    class Finalized:
        def __del__(self) -> None:
            said.append(interrupts.deferred(signal.SIGINT, sys._getframe()))

    try:
        Finalized()
        assert said == [True]  # sent again once __del__ is done
        assert not interrupts.deferred(signal.SIGINT, sys._getframe())
    finally:
        interrupts.reset()  # the redelivery timer


def test_a_sweep_with_a_config_dir_checks_every_job_and_probes_its_search(tmp_path, monkeypatch, capsys):
    """With -cd, a basic sweep checked no job (job #0 trained, #1 failed as it started), and a
    search's probe of an option in the folder failed to compose and was skipped (trial #0 failed)."""
    mine = tmp_path / "mine"
    (mine / "hparams_search").mkdir(parents=True)
    (mine / "experiment").mkdir()
    (mine / "experiment" / "fast.yaml").write_text("# @package _global_\nagent:\n  lr: 0.05\n")
    (mine / "hparams_search" / "mine.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /hydra/sweeper: optuna\n"
        "seed_mode: batched\nnum_seeds: 2\n"
        "hydra:\n  sweeper:\n    n_trials: 2\n    params:\n      agent.baseline: choice(none, time)\n"
    )
    sweeps = {
        "basic": (["-cd", str(mine), "experiment=fast", "num_seeds=2", "seed_mode=batched",
                   "agent.baseline=none,mean"], "error: job #1 ("),
        "search": ([f"--config-dir={mine}", "hparams_search=mine"],
                   "error: the search space's agent.baseline=time would fail its trials"),
    }  # fmt: skip
    for name, (sweep, said) in sweeps.items():
        code, err, _ = script("train.py", "-m", *sweep, *TINY, f"hydra.sweep.dir={tmp_path / name}",
                              monkeypatch=monkeypatch, capsys=capsys, cwd=tmp_path)  # fmt: skip
        assert_one_line(code, err, 2, said)
        assert not (tmp_path / name).exists()  # nothing ran


@pytest.mark.slow
def test_a_sweep_with_the_command_lines_searchpath_knows_its_options(tmp_path, monkeypatch, capsys):
    """The jobs checked before a sweep left the command line's ``hydra.searchpath`` out: a basic
    sweep over ``features=raw,mine`` with ``mine`` there was refused ("Could not find
    'features/mine'"), and since the search's probe names such a value, so was a search."""
    from agents.tools.usage import CONFIG_DIR

    mine = tmp_path / "mine"
    (mine / "features").mkdir(parents=True)
    (mine / "features" / "mine.yaml").write_text((Path(CONFIG_DIR) / "features" / "raw.yaml").read_text())
    sweeps = {
        "basic": ["features=raw,mine"],
        "search": ["hydra/sweeper=optuna", "hydra.sweeper.n_trials=2", "features=choice(raw,mine)"],
    }
    for name, sweep in sweeps.items():
        code, err, _ = script("train.py", "-m", f"hydra.searchpath=[file://{mine}]", *sweep, *TINY,
                                f"hydra.sweep.dir={tmp_path / name}", monkeypatch=monkeypatch, capsys=capsys,
                                cwd=tmp_path)  # fmt: skip
        assert code == 0, err
        assert len(list((tmp_path / name).glob("*/checkpoint.pt"))) == 2


def test_a_signal_the_work_outran_ends_the_program_as_the_signal(monkeypatch, capsys):
    """A SIGTERM that landed in an import near the end (evaluate's Adam imports torch._dynamo)
    waited to be sent again; the work ended first, the program's end cancelled it: exit 0."""
    from agents.runtime import interrupts
    from agents.tools.commands import command

    monkeypatch.setattr(interrupts, "REDELIVERY_SECONDS", 600.0)  # never sent: the command's end acts on it

    class Finalized:
        def __del__(self) -> None:
            interrupts.deferred(signal.SIGTERM, sys._getframe())

    @command
    def work() -> None:
        Finalized()

    with pytest.raises(SystemExit) as exit_info:
        work()
    assert exit_info.value.code == 143
    assert capsys.readouterr().err == "terminated: quit at once (files written before are intact)\n"
