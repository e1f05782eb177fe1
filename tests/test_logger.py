"""agents/logger.py: scalars reach the event file in batches, each with its own wall time."""

from __future__ import annotations

import time

from omegaconf import OmegaConf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents.logger import Logger


def test_scalars_are_batched_until_the_handoff_and_keep_their_wall_times(tmp_path, monkeypatch):
    logger = Logger(tmp_path, True, OmegaConf.create({"env": "CartPole-v1"}))
    monkeypatch.setattr(logger, "next_handoff", time.monotonic() + 3600)
    before = time.time()
    for step in range(5):
        logger.scalar("charts/x", float(step), step)
    assert len(logger.batch) == 5  # nothing handed to TensorBoard's thread yet
    logger.next_handoff = time.monotonic()  # the hand-off is due: the next scalar sends all six
    logger.scalar("charts/x", 5.0, 5)
    assert logger.batch == []
    logger.scalar("charts/y", 1.0, 6)  # still batched when the run ends: close() hands it off
    logger.close()
    events = EventAccumulator(str(tmp_path)).Reload()
    xs = events.Scalars("charts/x")
    assert [(e.step, e.value) for e in xs] == [(s, float(s)) for s in range(6)]
    assert [e.step for e in events.Scalars("charts/y")] == [6]
    assert all(before - 1 <= e.wall_time <= time.time() + 1 for e in xs)
    assert [e.wall_time for e in xs] == sorted(e.wall_time for e in xs)


def test_disabled_logger_writes_nothing(tmp_path):
    logger = Logger(tmp_path, False, OmegaConf.create({}))
    logger.scalar("charts/x", 1.0, 0)
    logger.close()
    assert list(tmp_path.iterdir()) == []
