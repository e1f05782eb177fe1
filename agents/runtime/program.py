"""How the user starts one of the project's programs, said the way this process was started: the
commands that lines such as "resume with: ..." print.

Under the console command (``softmax-reinforce train ...``, which sets ``sys.argv[0]`` to
``softmax-reinforce train``) a program is ``softmax-reinforce <command>``; under a script of
``scripts/`` (``python /repo/scripts/train.py``) it is the script beside it, named as this one
was (``python /repo/scripts/evaluate.py``); otherwise (``agents.train``, whose caller is told the
Python call instead, or the tests) ``python scripts/<command>.py``, as the README runs them.
A path in such a line is written as Hydra's override grammar and the shell take it
(:func:`path_override`).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

CONSOLE_PROGRAM = "softmax-reinforce"
"""The console command (``[project.scripts]`` in ``pyproject.toml``)."""


def program_command(command: str) -> str:
    """How to start ``command`` (``train``, ``evaluate``, ``compare-gradients``, ...) the way this
    process was started (see the module)."""
    started_as = sys.argv[0] if sys.argv else ""
    if started_as.startswith(f"{CONSOLE_PROGRAM} "):  # "softmax-reinforce train"
        return f"{CONSOLE_PROGRAM} {command}"
    script = f"{command.replace('-', '_')}.py"
    if started_as.endswith(".py") and (Path(started_as).parent / script).is_file():  # one of scripts/
        return f"python {Path(started_as).parent / script}"
    return f"python scripts/{script}"


PLAIN_OVERRIDE_VALUE = re.compile(r"[\w./:@%+~-]+", re.ASCII)
"""Characters a path may hold and still be pasted as ``key=<path>`` (Hydra's grammar and the shell's;
Hydra reads ``ü`` only quoted)."""


def hydra_override(key: str, path: Path | str) -> str:
    """``key=<path>`` in Hydra's override grammar: a path with spaces, quotes, commas or brackets is
    single-quoted, its quotes escaped and the backslashes before a quote (or the end) doubled."""
    text = str(path)
    if PLAIN_OVERRIDE_VALUE.fullmatch(text):
        return f"{key}={text}"
    escaped = re.sub(r"(\\+)(?='|$)", lambda run: run.group(1) * 2, text).replace("'", "\\'")
    return f"{key}='{escaped}'"


def path_override(key: str, path: Path | str) -> str:
    """:func:`hydra_override` as a shell command line takes it (quoted once more for the shell)."""
    override = hydra_override(key, path)
    if override == f"{key}={path}":
        return override
    return f'"{override}"' if not set(override) & set('"$`\\!') else shlex.quote(override)
