"""Checkpoints cannot run code when loaded, bad files give one line, and saving is atomic."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from agents.errors import UserError
from agents.runtime.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint

STATE = {"policy": {"weight": torch.arange(6.0).reshape(3, 2)}, "counters": {"env_steps": 7}}


class Payload:
    """Unpickling this calls ``open(marker, "w")``: a file appears if the loader runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def assert_one_line_naming(error: pytest.ExceptionInfo[UserError], path: Path) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"cannot load checkpoint {path}: ")


def test_round_trip(tmp_path):
    save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    loaded = load_checkpoint(tmp_path)
    assert torch.equal(loaded["policy"]["weight"], STATE["policy"]["weight"])
    assert loaded["counters"] == {"env_steps": 7}


def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    path, marker = tmp_path / CHECKPOINT_NAME, tmp_path / "pwned"
    torch.save({"policy": Payload(marker)}, path)
    with pytest.raises(UserError) as error:
        load_checkpoint(tmp_path)
    assert not marker.exists()
    assert_one_line_naming(error, path)
    torch.load(path, weights_only=False)  # control: an unsafe load does run the payload
    assert marker.exists()


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: data[:10], id="truncated-header"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: bytes(reversed(data)), id="garbage"),
        pytest.param(lambda data: data[:-200] + bytes(200), id="zeroed-tail"),
    ],
)
def test_a_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, damage):
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UserError) as error:
        load_checkpoint(path)
    assert_one_line_naming(error, path)


def test_a_missing_checkpoint_names_what_was_expected(tmp_path):
    with pytest.raises(UserError, match=f"^no checkpoint at {tmp_path / CHECKPOINT_NAME} "):
        load_checkpoint(tmp_path)


def test_saving_leaves_no_temporary_file(tmp_path):
    save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    assert os.listdir(tmp_path) == [CHECKPOINT_NAME]


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch, failure):
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    old_bytes = path.read_bytes()

    def half_written_then_fail(obj, handle, *args, **kwargs):
        handle.write(old_bytes[: len(old_bytes) // 2])  # the new file is half written...
        raise failure  # ...when the process fails

    monkeypatch.setattr(torch, "save", half_written_then_fail)
    expected = UserError if isinstance(failure, OSError) else type(failure)  # a full disk: one line
    with pytest.raises(expected):
        save_checkpoint(path, {"policy": {"weight": torch.zeros(3, 2)}})
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == [CHECKPOINT_NAME]
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["policy"]["weight"], STATE["policy"]["weight"])
