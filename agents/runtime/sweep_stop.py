"""A multirun's stop request, passed from the launching process to its launcher's workers by a file.

On SIGINT/SIGTERM the launching process (:mod:`agents.tools.cli`) writes the signal's number to the
file that :data:`SWEEP_STOP_VARIABLE` names; worker processes (joblib's) inherit the variable, and
may not have got the signal themselves (``kill <pid>``, ``timeout``): their running job stops as if
signalled (:class:`~agents.runtime.trainer.StopOnSignal` looks at the file) and no other starts.
A terminal's Ctrl-C reaches every process of the group, so a worker may hear the same stop twice;
the file is not a second signal and never makes a worker quit without saving.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

SWEEP_STOP_VARIABLE = "SOFTMAX_REINFORCE_SWEEP_STOP"
"""Environment variable naming the stop file of the multirun this process belongs to."""


def sweep_stop_file() -> Path | None:
    """The stop file of this process's multirun, if it is part of one."""
    path = os.environ.get(SWEEP_STOP_VARIABLE)
    return Path(path) if path else None


def sweep_stop_signal(path: Path | None = None) -> int | None:
    """The signal number written to the stop file (``path``, else this process's), if any."""
    path = path or sweep_stop_file()
    if path is None:
        return None
    with suppress(OSError, ValueError):
        return int(path.read_text())
    return None


def request_sweep_stop(signum: int) -> None:
    """Write ``signum`` to this process's stop file (in the launching process's signal handler)."""
    path = sweep_stop_file()
    if path is not None:
        with suppress(OSError):
            path.write_text(str(signum))
