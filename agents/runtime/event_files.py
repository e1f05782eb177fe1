"""TensorBoard event files written in the calling thread, for hundreds of runs in one process.

``SummaryWriter`` starts a writer thread and keeps a file open per run: a thousand seeds would
be a thousand threads and open files. :class:`EventFile` instead appends its pending scalars
when :meth:`EventFile.flush` is called (the many-seeds trainer does it every few seconds and at
the end), opening the file only for that; each point is one ``Event`` holding all the tags
logged at that step. TensorBoard reads the files like any other event file.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from pathlib import Path

from tensorboard.compat.proto.event_pb2 import Event
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.summary.writer.record_writer import RecordWriter

_file_numbers = itertools.count()

EVENT_FILE_PREFIX = "events.out.tfevents."
"""How TensorBoard's event files are named (``events.out.tfevents.<time>.<host>...``): ours and
``SummaryWriter``'s."""


class EventFile:
    """One run's event file; :meth:`scalars` queues a point, :meth:`flush` appends the queue.

    :param folder: the run folder (TensorBoard's run name), created if needed.
    """

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = f"{int(time.time())}.{socket.gethostname()}.{os.getpid()}.{next(_file_numbers)}"
        self.path = folder / f"{EVENT_FILE_PREFIX}{stamp}"
        self.pending: list[Event] = [Event(wall_time=time.time(), file_version="brain.Event:2")]

    def scalars(self, env_steps: int, values: dict[str, float]) -> None:
        """Queue ``values`` (tag -> number) at x = ``env_steps``, stamped with the wall time now."""
        summary = Summary(value=[Summary.Value(tag=tag, simple_value=value) for tag, value in values.items()])
        self.pending.append(Event(wall_time=time.time(), step=env_steps, summary=summary))

    def summary(self, summary: Summary, env_steps: int = 0) -> None:
        """Queue a ready-made ``Summary`` (e.g. the HParams plugin's) at x = ``env_steps``."""
        self.pending.append(Event(wall_time=time.time(), step=env_steps, summary=summary))

    def flush(self) -> None:
        """Append the queued points to the file."""
        if not self.pending:
            return
        try:
            with open(self.path, "ab") as handle:
                writer = RecordWriter(handle)
                for event in self.pending:
                    writer.write(event.SerializeToString())
        except OSError as error:  # a full disk's write names no file
            raise OSError(error.errno, error.strerror, str(self.path)) from None
        self.pending = []
