"""Shared fixtures: float64 policies with random parameters, composed configs for train()."""

from __future__ import annotations

import itertools
import logging
import os
import signal
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

from agents.tools.composing import compose_train_config


def pytest_configure(config: pytest.Config) -> None:
    """The suite tests the programs as a terminal runs them. Where pytest was started with SIGINT
    ignored (a script's background job, a CI runner), its worker processes and every program a test
    starts would inherit that, and a program started so keeps ignoring Ctrl-C, as POSIX programs do
    (tested on its own: ``test_a_run_started_with_sigint_ignored_keeps_ignoring_it``)."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def make_config(tmp_path: Path):
    """``make_config(*overrides)`` -> a composed train config writing into ``tmp_path / "run"``
    (the second call's into ``run1``, and so on: a folder holding a run is not trained into again;
    a ``resume=`` call into the resumed run's folder)."""
    calls = itertools.count()

    def compose(*overrides: str) -> DictConfig:
        call = next(calls)
        if any(override.startswith("resume=") for override in overrides):  # the run's own folder
            return compose_train_config(["logging.progress_bar=false", *overrides])
        run_dir = tmp_path / (f"run{call}" if call else "run")
        return compose_train_config(["logging.progress_bar=false", f"run_dir={run_dir}", *overrides])

    return compose


@pytest.fixture
def generator() -> torch.Generator:
    return torch.Generator().manual_seed(1234)


@pytest.fixture(autouse=True)
def restore_root_logging():
    """A Hydra app run in-process (``main()`` of a script) configures the root logger with a handler
    on that test's captured stdout; restore the root logger after each test, so that a later
    test's log record (TensorBoard's reader warns through ``logging``) is not written to a closed
    stream ("--- Logging error ---" on stderr)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(autouse=True)
def restore_signal_handlers():
    """A script run in-process as ``__main__`` (``runpy.run_path(..., run_name="__main__")``) is a
    program whose process ends with it: it leaves handlers that quit the process at once on a later
    SIGINT/SIGTERM. A later test of the same worker that signals itself (a run's second Ctrl-C) then
    ended the worker ("node down: Not properly terminated"); restore them after each test."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


@pytest.fixture(autouse=True)
def reset_process_wide_state():
    """What a test may leave behind for the next test of its worker: a Ctrl-C met outside a
    program's ``command()`` (``run_or_exit`` in a test's ``call``) sets ``interrupts.quitting``,
    after which its handlers ignore SIGINT (a later test's "DID NOT RAISE KeyboardInterrupt"); a
    fault env's step counter set far back made a later test's fault env never fail."""
    yield
    from agents.runtime import interrupts

    interrupts.reset()
    os.environ.pop(interrupts.SIGINT_IGNORED_VARIABLE, None)  # a program run in-process with SIGINT ignored
    fault_envs = sys.modules.get("fault_envs")
    if fault_envs is not None:
        fault_envs.FaultyEnv.calls = 0


@pytest.fixture
def central_difference_score():
    """``(policy, inputs, actions, step) -> [B, *param.shape]``: ``d log pi(a|s) / d theta_k`` by
    central differences, one entry of ``policy.param`` at a time (float64 policies)."""

    def score(policy, inputs: torch.Tensor, actions: torch.Tensor, step: float = 1e-6) -> torch.Tensor:
        flat = policy.param.view(-1)
        numeric = torch.zeros(actions.shape[0], flat.numel(), dtype=flat.dtype)
        with torch.no_grad():
            for index in range(flat.numel()):
                flat[index] += step
                plus = policy.log_prob(inputs, actions)
                flat[index] -= 2 * step
                minus = policy.log_prob(inputs, actions)
                flat[index] += step
                numeric[:, index] = (plus - minus) / (2 * step)
        return numeric.reshape(actions.shape[0], *policy.param.shape)

    return score


@pytest.fixture
def event_file_fills_up(monkeypatch):
    """TensorBoard's event file meets a full disk after its first 5 records (``ENOSPC``)."""
    import errno

    from tensorboard.summary.writer.record_writer import RecordWriter

    real_write, records = RecordWriter.write, itertools.count()

    def full_after_a_while(self, data):
        if next(records) >= 5:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(RecordWriter, "write", full_after_a_while)
