"""``softmax-reinforce <command> [key=value ...]``: every program of the project from one console
command (installed by ``pip install .``), from any folder.

The commands are the functions of :mod:`agents.tools.commands`, the same ones ``scripts/*.py``
run; each takes ``key=value`` arguments and ``--help``. ``train``, ``evaluate`` and
``compare-gradients`` are Hydra apps: ``--config-dir <folder>`` adds a folder of your own configs
(``agent=mine`` then finds ``<folder>/agent/mine.yaml``), ``-m`` sweeps, ``--cfg job`` prints the
composed config.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
from collections.abc import Sequence

from agents.errors import USER_ERROR_EXIT_CODE
from agents.runtime.program import CONSOLE_PROGRAM
from agents.tools.closed_pipe import quiet_when_the_reader_leaves
from agents.tools.usage import print_version, version_requested

COMMANDS = {
    "train": ("train", "train an agent: train env=CartPole-v1 seed=1 agent.lr=0.05"),
    "evaluate": ("evaluate", "evaluate a run: evaluate checkpoint=<run dir> episodes=10"),
    "compare-gradients": (
        "compare_gradients",
        "score vs autograd: compare-gradients env=Acrobot-v1",
    ),
    "plot": ("plot", "learning curves and final table: plot runs=[<run or sweep dir>,...]"),
    "results-table": ("results_table", "train every preset with 5 seeds: results-table out=results.md"),
    "gradient-variance": ("gradient_variance", "REINFORCE vs the exact gradient: gradient-variance p=0.5"),
    "reproduce-sutton-barto": ("reproduce_sutton_barto", "Sutton & Barto figures 13.1 and 13.2"),
    "benchmark": ("benchmark", "speed, score timing, sample efficiency, start-up: benchmark quick=true"),
}
"""Command -> (function in :mod:`agents.tools.commands`, one line of help)."""

HYDRA_APPS = ("train", "evaluate", "compare-gradients")
"""The commands that run as Hydra apps: ``--config-dir``, ``-m`` and tab completion apply."""

SHELL_COMPLETION = ("-sc", "--shell-completion")
"""Hydra's switch: ``-sc install=bash`` prints the completion script, ``-sc query=bash`` answers a Tab."""


def usage() -> str:
    rows = "\n".join(f"  {name:<24}{help_line}" for name, (_, help_line) in COMMANDS.items())
    return (
        f"usage: {CONSOLE_PROGRAM} <command> [key=value ...]\n\ncommands:\n{rows}\n\n"
        f"'{CONSOLE_PROGRAM} <command> --help' lists a command's keys; '{CONSOLE_PROGRAM} --version' "
        "prints the versions."
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command named by the first argument with the rest of the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        with quiet_when_the_reader_leaves():
            print(usage())
        sys.exit(0 if args else USER_ERROR_EXIT_CODE)
    if version_requested(args[:1]):
        print_version()
        return
    name, rest = args[0], args[1:]
    if name in SHELL_COMPLETION or (name in HYDRA_APPS and any(arg in SHELL_COMPLETION for arg in rest)):
        _shell_completion(args if name in SHELL_COMPLETION else rest)
        return
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        print(f"error: {name!r} is not a command ({hint}commands: {', '.join(COMMANDS)})", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
    sys.argv = [f"{CONSOLE_PROGRAM} {name}", *rest]  # Hydra and --help read sys.argv
    _run(name)


def _shell_completion(args: list[str]) -> None:
    """Hydra's tab completion for the whole console command: ``-sc install=bash`` registers it for
    ``softmax-reinforce`` (Hydra registers the program it runs as, and ``softmax-reinforce train``
    would also have been bound to a ``train`` command), and each Tab then runs
    ``softmax-reinforce -sc query=bash`` with the line typed so far in ``COMP_LINE``, which no
    command answered. The query completes the command names while the first word is typed, then
    the keys of that command's Hydra app, which is asked as if it had been started on its own."""
    sys.argv = [CONSOLE_PROGRAM, *args]
    subcommands = [arg for arg in args if arg.partition("=")[0] in ("install", "uninstall", "query")]
    if len(subcommands) != 1 or not subcommands[0].startswith("query="):  # install=, uninstall=, a
        _run("train")  # mistake: the same for every app (the app's check words the mistake)
        return
    line = re.match(r"\s*\S+\s*(\S*)(\s.*)?$", os.environ.get("COMP_LINE", ""), re.DOTALL)
    command, after_command = (line.group(1), line.group(2)) if line else ("", None)
    if after_command is None:  # the command's name is being typed
        names = [name for name in COMMANDS if name.startswith(command)]
        print(("\n" if any(arg == "query=fish" for arg in args) else " ").join(names))
    elif command in HYDRA_APPS:
        os.environ["COMP_LINE"] = CONSOLE_PROGRAM + after_command
        _run(command)


def _run(command: str) -> None:
    """Run ``command``'s function (it reads ``sys.argv``)."""
    getattr(importlib.import_module("agents.tools.commands"), COMMANDS[command][0])()


if __name__ == "__main__":  # python -m agents.tools.console (the benchmark's child processes)
    main()
