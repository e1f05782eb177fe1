"""--help of the programs (groups, keys, tab completion; answered before torch is imported) and
the start-up measurement behind scripts/benchmark.py's start-up rows (figures are not asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agents.tools.startup import FIRST_STEP, StartupTimes

ROOT = Path(__file__).resolve().parent.parent


def help_of(program: str, cwd: Path, flag: str = "--help") -> subprocess.CompletedProcess[str]:
    """``python scripts/<program>.py --help`` in a fresh process, from ``cwd``."""
    script = ROOT / "scripts" / f"{program}.py"
    return subprocess.run([sys.executable, str(script), flag], cwd=cwd, capture_output=True, text=True)


def test_train_help_lists_groups_keys_and_completion(tmp_path):
    done = help_of("train", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    text = done.stdout
    assert "features=auto|fourier|normalized|onehot|polynomial|raw|rbf|tile  (default: auto)" in text
    assert "experiment=acrobot|" in text and "|cartpole|" in text and "_schema" not in text
    assert "  eval:" in text and "every_steps: 0" in text and "print_every_seconds: 10" in text
    assert 'tab completion (bash): eval "$(python ' in text and "scripts/train.py -sc install=bash)" in text
    # each group's keys, as its default option sets them
    assert "  agent:  (agent=reinforce: configs/agent/reinforce.yaml; agent.<key>=value)" in text
    assert "    lr: 0.1 " in text and "    num_envs: 1 " in text and "hydra/launcher=" in text


def test_help_lists_the_options_of_ones_own_config_folder(tmp_path):
    """``-cd my_configs --help`` listed the project's options only (Hydra's own help lists both)."""
    (tmp_path / "myc" / "agent").mkdir(parents=True)
    (tmp_path / "myc" / "agent" / "mine.yaml").write_text("defaults:\n  - reinforce\n  - _self_\nlr: 0.05\n")
    script = ROOT / "scripts" / "train.py"
    done = subprocess.run([sys.executable, str(script), "-cd", "myc", "--help"], cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "  agent=mine|mlp|reinforce  (default: reinforce)" in done.stdout
    assert "    agent=mine sets:\n      lr: 0.05" in done.stdout


def test_help_shows_the_keys_of_every_feature_map():
    """``features=auto`` sets only ``name``, so --help showed ``features: name: auto`` and none of
    the feature maps' settings (``features.num_tilings``, ``features.degree``, ...)."""
    from agents.tools.usage import app_help

    text = app_help("train")
    features = text[text.index("  features:  (features=auto") : text.index("  vector:  (")]
    expected = [("fourier", "degree: 3"), ("rbf", "num_centers: 5"), ("tile", "num_tilings: 8"),
                ("tile", "hash_size: 4096"), ("raw", "bias: true"), ("polynomial", "bounds: []")]  # fmt: skip
    for option, key in expected:
        block = features.split(f"    features={option} sets:\n")[1].split(" sets:\n")[0]
        assert any(line.startswith(f"      {key} ") for line in block.splitlines()), (option, key)
    assert "features=onehot sets" not in features and "features=auto sets" not in features


def test_the_env_kwargs_example_in_help_works_as_written():
    """``--help`` (train.yaml's comment) showed ``env_kwargs.is_slippery=false``, which Hydra refuses
    (env_kwargs is empty, so the key is new and needs ``+``)."""
    from agents.tools.composing import compose_train_config
    from agents.tools.usage import app_help

    (line,) = [line for line in app_help("train").splitlines() if line.startswith("  env_kwargs:")]
    example = line.split("e.g. ")[1].split()[0]
    assert example == "+env_kwargs.is_slippery=false"
    assert compose_train_config(["env=FrozenLake-v1", example]).env_kwargs == {"is_slippery": False}


@pytest.mark.parametrize(
    ("program", "expected"), [("evaluate", "checkpoint: ???"), ("compare_gradients", "num_states:")]
)
def test_every_hydra_program_has_it(tmp_path, program, expected):
    done = help_of(program, tmp_path, "-h")
    assert done.returncode == 0 and expected in done.stdout


def test_benchmark_help_lists_its_keys_without_hydras_switches(tmp_path):
    """The benchmark composes its config but is no Hydra app: no -m, --cfg or tab completion."""
    done = help_of("benchmark", tmp_path)
    assert done.returncode == 0 and done.stderr == ""
    assert "  num_envs: 1 " in done.stdout and "  steps_per_seed: 100000 " in done.stdout
    assert not any(text in done.stdout for text in ("_schema", "-m sweeps", "tab completion"))


def test_help_imports_neither_torch_nor_hydra():
    code = (
        "import sys; sys.argv = ['train.py', '--help']\n"
        "from agents.tools.commands import train; train()\n"
        "print(sorted({'torch', 'hydra', 'gymnasium'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"


def test_startup_table_ratios():
    table = StartupTimes(import_torch=2.0, help=0.5, first_step=3.0).table().splitlines()
    assert table[2] == "| python -c 'import torch' | 2.00 | 1.00 | baseline |"
    assert table[3] == "| python scripts/train.py --help | 0.50 | 0.25 | <= 1.5 |"
    assert table[4] == "| time to the first env step | 3.00 | 1.50 | <= 2 |"


def test_the_first_step_child_stops_at_the_first_env_step(tmp_path):
    """The child exits 0 right after one env step: the run folder exists, no checkpoint was written."""
    done = subprocess.run([sys.executable, "-c", FIRST_STEP, str(tmp_path / "run")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "config.yaml").is_file() and not (tmp_path / "run" / "checkpoint.pt").exists()


def test_the_startup_help_command_runs_installed_too(tmp_path, monkeypatch):
    """Installed from the wheel (no scripts/), ``benchmark`` ran scripts/train.py beside the package:
    a CalledProcessError traceback after minutes of measuring."""
    import subprocess

    import agents.tools.startup as startup

    assert startup.help_command(sys.executable)[1].endswith("scripts/train.py")  # in the repo
    monkeypatch.setattr(startup, "ROOT", tmp_path)  # as in site-packages
    command = startup.help_command(sys.executable)
    assert command[1:4] == ["-m", "agents.tools.console", "train"]
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=120)


TAB_PRESSES = {
    "softmax-reinforce tr": {"train"},
    "softmax-reinforce train agent.l": {"agent.lr=", "agent.lr_schedule="},
    "softmax-reinforce evaluate episo": {"episodes="},
    "softmax-reinforce plot r": set(),  # not a Hydra app: bash's own file completion
}
"""The line typed so far -> what one Tab offers."""


def test_the_console_commands_tab_completion_completes_in_bash(tmp_path):
    """``eval "$(softmax-reinforce train -sc install=bash)"``, as ``--help`` says, bound the completion
    to ``softmax-reinforce train`` (two commands), and each Tab ran ``softmax-reinforce -sc
    query=bash``, which answered "'-sc' is not a command": nothing ever completed. Here a real bash
    installs the script and presses Tab after each line of :data:`TAB_PRESSES`."""
    program = tmp_path / "softmax-reinforce"
    program.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m agents.tools.console "$@"\n')
    program.chmod(0o755)
    script = 'eval "$(softmax-reinforce train -sc install=bash)"\n'
    script += "complete -p softmax-reinforce && ! complete -p train 2>/dev/null\n"
    for typed in TAB_PRESSES:
        script += f'COMP_LINE="{typed}"; COMP_POINT=${{#COMP_LINE}}; COMP_CWORD={len(typed.split()) - 1}\n'
        script += 'hydra_bash_completion; echo "${COMPREPLY[*]}"\n'
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path)}
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    binding, *offers = done.stdout.splitlines()
    assert binding.endswith("-F hydra_bash_completion softmax-reinforce")
    assert [set(offer.split()) for offer in offers] == list(TAB_PRESSES.values()), done.stdout + done.stderr


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["train"], "usage: Training run: softmax-reinforce train env=<gymnasium id> "),
        (["plot"], "usage: softmax-reinforce plot runs=["),
        (["evaluate"], "usage: Evaluation: softmax-reinforce evaluate checkpoint=<run dir> "),
    ],
)
def test_the_console_commands_help_names_the_console_command(tmp_path, command, expected):
    """``softmax-reinforce train --help`` said "usage: ... python scripts/train.py", and
    ``python scripts/plot.py --help`` "usage: plot runs=...": each named the other entry point."""
    done = subprocess.run(
        [sys.executable, "-m", "agents.tools.console", *command, "--help"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.startswith(expected), done.stdout[:300] + done.stderr
    as_in_the_readme = [sys.executable, f"scripts/{command[0]}.py", "--help"]  # from the repo: the first
    done = subprocess.run(as_in_the_readme, cwd=ROOT, capture_output=True, text=True)  # fix named it twice
    as_script = expected.replace(f"softmax-reinforce {command[0]}", f"python scripts/{command[0]}.py")
    assert done.stdout.startswith(as_script), done.stdout[:300]


def test_the_console_commands_completion_takes_one_subcommand(tmp_path):
    """``softmax-reinforce -sc install=bash query=bash`` answered the query, exit 0; the scripts say
    it needs one of them, as Hydra counts them."""
    done = subprocess.run(
        [sys.executable, "-m", "agents.tools.console", "-sc", "install=bash", "query=bash"],
        cwd=tmp_path, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr == "error: --shell-completion needs one of install=bash, uninstall=bash or query=bash\n"
    )


def test_option_help_shows_the_field_docs_as_plain_text():
    """``reproduce_sutton_barto.py --help`` showed ``out=docs/sutton_barto`` with its reStructuredText
    double backticks."""
    from agents.tools.cli import options_help
    from agents.tools.commands import SuttonBartoOptions

    text = options_help(SuttonBartoOptions, "reproduce-sutton-barto")
    assert "curves.csv (out=docs/sutton_barto rewrites the README's" in text and "``" not in text


@pytest.mark.parametrize("program", ["train", "evaluate", "plot", "benchmark"])
def test_version_gives_ours_and_the_main_libraries(tmp_path, program):
    """``train.py --version`` printed ``Hydra 1.3.8`` (Hydra's own switch), the other programs
    ``error: '--version' is not key=value``, the console command "not a command"."""
    from importlib.metadata import version

    ours = f"softmax-reinforce {version('softmax-reinforce')} (Python {sys.version.split()[0]}, torch "
    console = ["-m", "agents.tools.console"]
    for command in ([str(ROOT / "scripts" / f"{program}.py")], [*console, program], console):
        for flag in ("--version", "-V", "--vers"):  # argparse took --vers in a Hydra app: Hydra's
            done = subprocess.run([sys.executable, *command, flag], cwd=tmp_path, capture_output=True,
                                  text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip
            assert done.returncode == 0 and done.stderr == "", done.stderr
            assert done.stdout.startswith(ours) and f"hydra-core {version('hydra-core')}" in done.stdout
    helped = help_of(program, tmp_path)
    assert "--version prints the versions of this package" in helped.stdout  # plot's help did not say


def test_a_version_flag_in_sys_argv_leaves_a_callers_own_arguments(monkeypatch, capsys):
    """``plot(["runs=[...]"])`` called from a script started with ``-V`` printed the version and
    returned: the flag was looked for in ``sys.argv``, not in the arguments given."""
    from agents.tools.commands import plot

    monkeypatch.setattr(sys, "argv", ["my_script.py", "-V"])
    with pytest.raises(SystemExit) as exit_info:
        plot(["runs=[/nonexistent/runs]"])
    assert exit_info.value.code == 2 and "softmax-reinforce 0.1.0" not in capsys.readouterr().out
