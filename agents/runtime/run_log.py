"""The run's log file, ``train.log`` (Hydra's job log: each line the program logs, stamped), and
the last lines a program writes there besides the console: where a stopped run was saved and how
to resume it, why a failed one stopped, that a second signal quit it at once."""

from __future__ import annotations

import logging
import os
from contextlib import suppress
from pathlib import Path

TRAIN_LOG_NAME = "train.log"
"""The run's log file, in its folder (Hydra's job log of ``scripts/train.py``)."""

log = logging.getLogger(__name__)


def write_to_run_logs(message: str) -> None:
    """``message`` in the log file of the program's run (Hydra's job log, ``train.log``), not on the
    console, which prints it as the program's last line: a stopped run's log ended with its last
    progress line, without where it was saved and how to resume it. ``agents.train`` configures no
    such file: nothing is written. A file that cannot take it (a full disk) is left as it is, without
    the traceback a log handler prints then: the console has the line."""
    records = [  # one a line: each seed's stamped as the log's other lines
        log.makeRecord(log.name, logging.WARNING, __file__, 0, line, None, None)
        for line in message.splitlines()
    ]
    for handler in logging.getLogger().handlers:
        named = isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).name == TRAIN_LOG_NAME
        if not named or handler.level > logging.WARNING:
            continue
        text = "".join(handler.format(record) + handler.terminator for record in records)
        with suppress(OSError):  # (non-blocking: a pipe put in the log's place, with no reader, waits not)
            descriptor = os.open(handler.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK)
            with open(descriptor, "a", encoding=handler.encoding) as log_file:
                log_file.write(text)  # after the handler's lines: it flushes each as it writes it
