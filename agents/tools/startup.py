"""Start-up time, measured in fresh processes: ``train.py --help`` and the time to the first env
step of a default run, each against ``python -c "import torch"`` on the same machine at the same
moment (a ratio within one benchmark run, as every figure of ``scripts/benchmark.py``).

``--help`` is answered from the config files before torch is imported
(:mod:`agents.tools.usage`); a run imports what it needs (torch, Hydra, Gymnasium, TensorBoard's
writer) and nothing for plotting or sweeps. The first-step child runs the real entry point
(:func:`agents.tools.commands.train`) with the single-env runner's ``step`` wrapped to exit the
process right after the first env step, so the time covers imports, composing, checks, building
the agent and the env, and that step.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

FIRST_STEP = """
import os, sys
import agents.runtime.runners as runners
step = runners.SingleEnvRunner.step
def first_step(self, actions):
    step(self, actions)
    os._exit(0)
runners.SingleEnvRunner.step = first_step
sys.argv = ["train", "logging.progress_bar=false", "hydra.run.dir=" + sys.argv[1]]
from agents.tools.commands import train
train()
raise SystemExit("no env step was taken")
"""


def best_process_seconds(command: list[str], repeats: int, cwd: str | Path) -> float:
    """Wall seconds of the fastest of ``repeats`` runs of ``command`` (each must exit 0)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True, timeout=600)
        best = min(best, time.perf_counter() - start)
    return best


@dataclass
class StartupTimes:
    """Best-of wall seconds of three fresh processes, measured in turns."""

    import_torch: float
    """``python -c "import torch"``."""
    help: float
    """``python scripts/train.py --help``."""
    first_step: float
    """From process start to the first env step of ``python scripts/train.py`` (defaults)."""

    def table(self) -> str:
        rows = [
            ("python -c 'import torch'", self.import_torch, "baseline"),
            ("python scripts/train.py --help", self.help, "<= 1.5"),
            ("time to the first env step", self.first_step, "<= 2"),
        ]
        lines = ["| process | seconds | / import torch | target |", "|---|---|---|---|"]
        for name, seconds, target in rows:
            lines.append(f"| {name} | {seconds:.2f} | {seconds / self.import_torch:.2f} | {target} |")
        return "\n".join(lines)


def help_command(python: str) -> list[str]:
    """``python scripts/train.py --help`` in the repo; installed (the wheel has no ``scripts/``),
    the same function through the console command's module."""
    script = ROOT / "scripts" / "train.py"
    if script.is_file():
        return [python, str(script), "--help"]
    return [python, "-m", "agents.tools.console", "train", "--help"]


def measure_startup(repeats: int = 3) -> StartupTimes:
    """The three process times, taken in turns (torch, help, first step; ``repeats`` times) so that
    a busy moment of a shared machine hits all three alike."""
    python = sys.executable
    commands = {"import_torch": [python, "-c", "import torch"], "help": help_command(python)}
    best = dict.fromkeys([*commands, "first_step"], float("inf"))
    with tempfile.TemporaryDirectory() as folder:
        for turn in range(repeats):
            for name, command in commands.items():
                best[name] = min(best[name], best_process_seconds(command, 1, folder))
            run_dir = Path(folder) / f"run{turn}"
            best["first_step"] = min(
                best["first_step"], best_process_seconds([python, "-c", FIRST_STEP, str(run_dir)], 1, folder)
            )
    return StartupTimes(**best)
