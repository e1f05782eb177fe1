"""How the user starts one of the project's programs, said the way this process was started: the
commands that lines such as "resume with: ..." print.

Under the console command (``softmax-reinforce train ...``, which sets ``sys.argv[0]`` to
``softmax-reinforce train``) a program is ``softmax-reinforce <command>``; otherwise (the scripts,
``agents.train``, whose caller is told the Python call instead) it is
``python scripts/<command>.py``.
"""

from __future__ import annotations

import sys


def program_command(command: str) -> str:
    """``softmax-reinforce <command>`` when this process runs as the console command, else
    ``python scripts/<command>.py`` (``command``: ``train``, ``evaluate``, ...)."""
    started_as = sys.argv[0] if sys.argv else ""
    if " " in started_as and not started_as.endswith(".py"):  # "softmax-reinforce train"
        return f"{started_as.split()[0]} {command}"
    return f"python scripts/{command.replace('-', '_')}.py"
