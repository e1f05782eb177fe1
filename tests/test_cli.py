"""scripts/train.py as users run it: bad input gives one line and exit code 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import agents
from agents.runtime.checkpoint import load_checkpoint
from agents.runtime.unread_settings import unread_settings_note
from agents.tools.composing import compose_train_config

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
        ("+=1", "'+=1' has no key before '='"),  # Hydra's ValueError: a traceback
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


@pytest.mark.slow
@pytest.mark.parametrize("extra", [[], ["num_seeds=2"]])
def test_a_relative_run_dir_is_printed_from_the_root(tmp_path, extra):
    """The README promises absolute paths in the last lines; ``run_dir=rel`` printed ``rel``."""
    completed = run_train(tmp_path, "run_dir=rel", "budget.total_env_steps=1000", *extra)
    assert completed.returncode == 0, completed.stderr
    printed = [line.split(maxsplit=1) for line in completed.stdout.splitlines()
               if line.startswith(("run folder", "checkpoint:", "config:"))]  # fmt: skip
    where = f"{tmp_path / 'rel'}/seed*" if extra else str(tmp_path / "rel")
    assert printed and all(rest.split()[-1].startswith(where.rstrip("*")) for _, rest in printed)
    assert completed.stdout.splitlines()[-1] == f"tensorboard: tensorboard --logdir {tmp_path / 'rel'}"
    resumed = run_train(tmp_path, f"resume=rel{'/seed0' if extra else ''}", "budget.total_env_steps=2000")
    assert resumed.returncode == 0, resumed.stderr
    assert f"run folder:  {tmp_path / 'rel'}" in resumed.stdout


@pytest.mark.slow
def test_a_run_dir_through_a_link_and_dotdot_is_the_folder_the_os_finds(tmp_path):
    """``run_dir=deep/../q`` with ``deep`` a link to ``real/sub/dir``: the OS makes ``real/sub/q``,
    while Hydra's log handler and ``tempfile`` read the text as ``q`` (a traceback, no checkpoint)."""
    (tmp_path / "real" / "sub" / "dir").mkdir(parents=True)
    (tmp_path / "deep").symlink_to(tmp_path / "real" / "sub" / "dir")
    completed = run_train(tmp_path, "run_dir=deep/../q", "budget.total_env_steps=1000")
    assert completed.returncode == 0, completed.stderr
    folder = tmp_path / "real" / "sub" / "q"
    assert (folder / "checkpoint.pt").is_file() and (folder / "train.log").is_file()
    assert f"run folder:  {folder}" in completed.stdout and not (tmp_path / "q").exists()
    resumed = run_train(tmp_path, "resume=deep/../q", "budget.total_env_steps=2000")
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(folder)["counters"]["env_steps"] >= 2000


@pytest.mark.slow
def test_a_path_starting_with_a_tilde_is_in_the_home_folder(tmp_path):
    """zsh and sh pass ``run_dir=~/x`` on unexpanded (bash expands it): it made a folder named ``~``
    in the working folder, and ``resume=~/x``, ``checkpoint=~/x``, ``runs=~/x`` found nothing."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {**os.environ, "HOME": str(home)}

    def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    trained = run("train.py", "logging.progress_bar=false", "run_dir=~/r", "budget.total_env_steps=1000")
    assert trained.returncode == 0, trained.stderr
    assert (home / "r" / "checkpoint.pt").is_file() and not (work / "~").exists()
    resumed = run("train.py", "logging.progress_bar=false", "resume=~/r", "budget.total_env_steps=2000")
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(home / "r")["counters"]["env_steps"] >= 2000
    evaluated = run("evaluate.py", "checkpoint='~/r'", "episodes=2", "csv=~/e.csv")  # csv=: a parse error
    assert evaluated.returncode == 0, evaluated.stderr
    assert (home / "e.csv").is_file()
    plotted = run("plot.py", "runs=~/r", "out=~/fig")
    assert plotted.returncode == 0, plotted.stderr
    assert (home / "fig.png").is_file() and not (work / "~").exists()


def test_each_path_of_a_sweep_starting_with_a_tilde_is_in_the_home_folder(monkeypatch):
    """``-m 'csv=~/a.csv,~/b.csv'`` expanded the first only: Hydra could not parse the second ``~``."""
    from agents.tools.override_paths import expand_home_in_paths

    monkeypatch.setenv("HOME", "/home/me")
    assert expand_home_in_paths(["csv=~/a.csv,~/b.csv", "run_dir=~/x,/y", "run_dir='~/p,q'", "seed=~"]) == [
        "csv=/home/me/a.csv,/home/me/b.csv", "run_dir=/home/me/x,/y", "run_dir='/home/me/p,q'", "seed=~",
    ]  # fmt: skip


def test_cli_trains_and_prints_where_the_run_is(tmp_path):
    completed = run_train(tmp_path, "budget.total_env_steps=2000")
    assert completed.returncode == 0, completed.stderr
    last = completed.stdout.strip().splitlines()
    assert last[-1].startswith("tensorboard: tensorboard --logdir ")
    run_dir = Path(last[-1].split("--logdir ", 1)[1])
    assert (run_dir / "checkpoint.pt").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert list(run_dir.glob("events.out.tfevents.*"))


def run_with_the_reader_gone(
    tmp_path: Path, *command: str, stderr_too: bool = False
) -> subprocess.CompletedProcess[str]:
    """``python <command> | head -c0``: the reader of stdout has closed it before the program writes
    (``stderr_too``: ``2>&1 | head -c0``)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, *command], cwd=tmp_path, stdout=write_end,
            stderr=write_end if stderr_too else subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "command",
    [
        [str(ROOT / "scripts" / "train.py"), "--help"],
        [str(ROOT / "scripts" / "plot.py"), "--help"],  # prints, then exits 0: the flush is at exit
        ["-m", "agents.tools.console", "--help"],
        [str(ROOT / "scripts" / "train.py"), "--info"],  # Hydra logs it, before any code of ours runs
        [str(ROOT / "scripts" / "compare_gradients.py"), "--info", "plugins"],
        [str(ROOT / "scripts" / "train.py"), "--cfg", "job"],
    ],
    ids=["train-help", "plot-help", "console-help", "train-info", "compare-info-plugins", "train-cfg"],
)
def test_output_to_a_reader_that_left_ends_quietly_with_141(tmp_path, command):
    """``train.py --help | head -1`` was a BrokenPipeError traceback (exit 1). Now the program ends
    silently with 141, what the shell reports for a program that SIGPIPE ended (``yes | head``).
    ``--info`` printed '--- Logging error ---' and a traceback for each of its lines, and exited 0."""
    completed = run_with_the_reader_gone(tmp_path, *command)
    assert completed.returncode == 141 and completed.stderr == "", completed.stderr


@pytest.mark.slow
def test_a_run_whose_output_reader_left_trains_saves_and_prints_no_traceback(tmp_path):
    """Its log lines each printed '--- Logging error ---' and a traceback, its closing summary
    Hydra's 'Error executing job' and another (exit 1); now stdout points to the null device once
    its reader has gone, and the run ends as usual."""
    train = [str(ROOT / "scripts" / "train.py"), "logging.progress_bar=false", "budget.total_env_steps=3000"]
    completed = run_with_the_reader_gone(
        tmp_path, *train, "logging.print_every_seconds=1e-9", f"run_dir={tmp_path / 'run'}"
    )
    assert completed.returncode in (0, 141) and completed.stderr == "", completed.stderr
    assert (tmp_path / "run" / "checkpoint.pt").is_file()


@pytest.mark.slow
def test_a_run_piped_with_its_errors_to_a_reader_that_left_trains_saves_and_keeps_the_curves(tmp_path):
    """``train.py ... 2>&1 | head -c0``: the progress bar's first line met the closed pipe, and the
    run exited 141 with no checkpoint, its folder refused by a retry and by resume=. A resume of a
    folder without config.yaml then took itself for a new run and removed the run's event file."""
    train = [str(ROOT / "scripts" / "train.py"), "budget.total_env_steps=2000", f"run_dir={tmp_path / 'run'}"]
    completed = run_with_the_reader_gone(tmp_path, *train, stderr_too=True)
    assert completed.returncode == 141
    run = tmp_path / "run"
    assert (run / "checkpoint.pt").is_file()
    (run / "config.yaml").unlink()  # resume reads the checkpoint's config
    curves = sorted(run.glob("events.out.tfevents.*"))
    resume = [str(ROOT / "scripts" / "train.py"), f"resume={run}", "budget.total_env_steps=3000"]
    assert run_with_the_reader_gone(tmp_path, *resume, stderr_too=True).returncode == 141
    assert load_checkpoint(run)["counters"]["env_steps"] >= 3000
    assert set(curves) < set(run.glob("events.out.tfevents.*"))  # the resume's beside the run's


@pytest.mark.slow
def test_a_sweep_piped_with_its_errors_to_a_reader_that_left_completes_its_jobs(tmp_path):
    """``train.py -m ... 2>&1 | head -c0``: each job's progress bar met the closed pipe, and every job
    was FAILED with "BrokenPipeError" and no checkpoint (exit 1)."""
    sweep = [str(ROOT / "scripts" / "train.py"), "-m", "budget.total_env_steps=1000", "seed=0,1",
             f"hydra.sweep.dir={tmp_path / 'sweep'}"]  # fmt: skip
    assert run_with_the_reader_gone(tmp_path, *sweep, stderr_too=True).returncode == 141
    assert len(list((tmp_path / "sweep").glob("*/checkpoint.pt"))) == 2


@pytest.mark.slow  # processes of several seconds each: make test-slow (CI); the quick suite stays near 5 min
def test_a_results_table_whose_reader_left_trains_every_preset_writes_the_file_then_exits_141(tmp_path):
    """``results-table ... | head -1`` exited 141 at the first preset's line, its out folder made and
    empty; now, as train.py, every preset trains, the file is written, then 141."""
    out = tmp_path / "table" / "results.md"
    command = [str(ROOT / "scripts" / "results_table.py"), "seeds=1", f"out={out}"]
    completed = run_with_the_reader_gone(
        tmp_path, *command, "presets=[short_corridor,frozenlake,frozenlake_slippery]"
    )
    assert completed.returncode == 141 and completed.stderr == "", completed.stderr
    text = out.read_text()
    assert all(
        f"`experiment={name}`" in text for name in ("short_corridor", "frozenlake", "frozenlake_slippery")
    )


def test_another_pipes_broken_pipe_keeps_its_traceback():
    """Only stdout's reader leaving ends a program quietly: a vector env worker's pipe is a failure."""
    from agents.tools.closed_pipe import quiet_when_the_reader_leaves

    with pytest.raises(BrokenPipeError), quiet_when_the_reader_leaves():
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.slow
def test_settings_the_chosen_options_do_not_read_get_a_note(tmp_path, monkeypatch, capsys):
    """``features=raw features.degree=3`` and ``agent.hidden_sizes=[8]`` with a linear policy trained
    as if they had not been given, without a word; a sweep's job gets the note of its own options."""
    from agents.runtime.run import train
    from agents.tools.composing import compose_train_config

    def printed(*overrides: str) -> str:  # scripts/train.py's output, in this process (its train())
        overrides = ("logging.progress_bar=false", *overrides)
        train(compose_train_config(list(overrides)), overrides=list(overrides))
        return capsys.readouterr().out

    monkeypatch.chdir(tmp_path)
    out = printed("features=raw", "features.degree=3", "agent.hidden_sizes=[8]", "agent.value_epochs=2",
                  "budget.total_env_steps=300", "run_dir=r")  # fmt: skip
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: features.degree has no effect with features=raw (read with features=polynomial, fourier); "
        "agent.hidden_sizes has no effect with agent.policy=state (read with agent.policy=mlp); "
        "agent.value_epochs has no effect with agent.baseline=none (read with agent.baseline=value)"
    ]
    read = [
        "features=fourier",
        "features.degree=1",
        "agent.policy=mlp",
        "agent.hidden_sizes=[8]",
        "run_dir=s",
    ]
    out = printed(*read, "budget.total_env_steps=300")
    assert "note:" not in out, out
    sweep = [
        "-m",
        "features=raw,rbf",
        "features.num_centers=2",
        "hydra.sweep.dir=m",
        "budget.total_env_steps=300",
    ]
    command = [sys.executable, str(ROOT / "scripts" / "train.py"), *sweep, "logging.progress_bar=false"]
    completed = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("note: ") == 1 and (
        "note: features.num_centers has no effect with features=raw (read with features=rbf)"
        in completed.stdout
    )
    with pytest.warns(UserWarning, match=r"^features\.degree has no effect with features=auto \(read with"):
        agents.train(
            "CartPole-v1", "features.degree=3", budget={"total_env_steps": 300}, run_dir=tmp_path / "p"
        )


BOX_3 = gym.spaces.Box(
    low=np.array([-1.0, -np.inf, 0.0]), high=np.array([1.0, np.inf, 2.0]), dtype=np.float64
)
BOUNDED = gym.spaces.Box(low=-np.ones(3), high=np.ones(3), dtype=np.float64)


@pytest.mark.parametrize(
    ("overrides", "space", "note"),
    [
        (
            ["features={name:raw,degree:3}"],
            BOX_3,
            "features.degree has no effect with features=raw (read with",
        ),
        (["agent={hidden_sizes:[8]}"], BOX_3, "agent.hidden_sizes has no effect with agent.policy=state"),
        (
            ["features.bias=false"],
            gym.spaces.Discrete(5),
            "features.bias has no effect on Discrete observations",
        ),
        (
            ["features=onehot", "features.bias=false"],
            gym.spaces.Discrete(5),
            "features.bias has no effect on Disc",
        ),
        (
            ["agent.baseline=value", "agent.activation=relu"],
            BOX_3,
            "agent.activation has no effect with agent.poli",
        ),
        (
            ["agent.policy=mlp", "agent.hidden_sizes=[]", "agent.activation=relu"],
            BOX_3,
            "agent.activation has no",
        ),
        (
            ["batched_update_every=4"],
            BOX_3,
            "batched_update_every has no effect with seed_mode=exact num_seeds=1",
        ),
        (
            ["features=rbf", "features.clip=2"],
            BOUNDED,
            "features.clip has no effect: every dimension of the obs",
        ),
        (["features=rbf", "features.clip=2"], BOX_3, None),
        (
            ["features=tile", "features.bounds=[1,1,1]", "features.clip=2"],
            BOX_3,
            "features.clip has no effect: feat",
        ),
        (["features=normalized", "features.clip=2"], BOUNDED, None),  # its own clip, after normalising
        (["agent.policy=mlp", "agent.activation=relu"], BOX_3, None),
        (["agent.baseline=value", "agent.value_hidden_sizes=[4]", "agent.activation=relu"], BOX_3, None),
        (["num_seeds=2", "seed_mode=batched", "batched_update_every=4"], BOX_3, None),
        (  # b = 0 for a batch of one episode: it trained as agent.baseline=none, without a word
            ["agent.baseline=time", "agent.episodes_per_update=1"],
            BOX_3,
            "agent.baseline=time has no effect with agent.episodes_per_update=1: it subtracts",
        ),
        (["agent.baseline=time"], BOX_3, None),  # (2 episodes by default)
        (["agent.baseline=time", "agent.episodes_per_update=1", "vector.num_envs=4"], BOX_3, None),
    ],
)
def test_which_settings_the_note_says_have_no_effect(overrides, space, note):
    """Keys set inside a mapping (``'features={name:raw,degree:3}'``), the activation of a network
    without hidden layers, Discrete observations (one-hot features), a stand-in bound where every
    dimension has its own, and ``batched_update_every`` outside the batched mode got no note."""
    cfg = compose_train_config(["experiment=none", *overrides])
    said = unread_settings_note(cfg, overrides, space)
    assert said == note if note is None else said is not None and said.startswith(note), said


@pytest.mark.parametrize(  # the second and third in make test-slow: the quick suite stays near 5 minutes
    "extra",
    [[], pytest.param(["num_seeds=2"], marks=pytest.mark.slow),
     pytest.param(["experiment=two", "--config-dir=mine"], marks=pytest.mark.slow)],
)  # fmt: skip
def test_a_folder_named_like_a_run_file_is_refused_before_hydra_writes_its_record(tmp_path, extra):
    """``run_dir=d`` with a folder ``d/checkpoint.pt`` was refused only after Hydra had rewritten
    ``d/.hydra/`` with this command's record (a finished run's folder already was refused first); a
    ``num_seeds`` run writes no checkpoint at its top, and takes that folder, also where a preset
    sets ``num_seeds``."""
    (tmp_path / "mine" / "experiment").mkdir(parents=True)
    (tmp_path / "mine" / "experiment" / "two.yaml").write_text("# @package _global_\nnum_seeds: 2\n")
    (tmp_path / "d" / "checkpoint.pt").mkdir(parents=True)
    (tmp_path / "d" / ".hydra").mkdir()
    (tmp_path / "d" / ".hydra" / "config.yaml").write_text("a: 1\n")
    completed = run_train(tmp_path, "run_dir=d", "budget.total_env_steps=300", *extra)
    if extra:
        assert completed.returncode == 0, completed.stderr
        return
    assert completed.returncode == 2 and completed.stderr.count("\n") == 1, completed.stderr
    assert (
        "d/checkpoint.pt is a folder, not a file (move it away, or choose another run_dir)"
        in completed.stderr
    )
    assert sorted(path.name for path in (tmp_path / "d").rglob("*")) == [
        ".hydra",
        "checkpoint.pt",
        "config.yaml",
    ]
    assert (tmp_path / "d" / ".hydra" / "config.yaml").read_text() == "a: 1\n"
