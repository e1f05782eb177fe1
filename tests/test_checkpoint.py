"""Checkpoints cannot run code when loaded (nor can the code their config names, untrusted), bad
files give one line, and saving is atomic."""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import stat
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

import agents
from agents.errors import UserError
from agents.runtime import config as config_module
from agents.runtime.checkpoint import (
    BEST_CHECKPOINT_NAME,
    CHECKPOINT_NAME,
    load_checkpoint,
    resolve_checkpoint,
    save_checkpoint,
    save_checkpoints,
    write_files_atomically,
)
from agents.runtime.evaluation import EvaluateConfig, evaluate
from agents.runtime.run import train
from agents.runtime.trainer import resume_trust
from agents.tools.composing import compose_train_config
from envs.make import code_to_trust

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
    assert "GLOBAL io.open" in str(error.value)  # what the file holds, not torch's advice to
    assert "weights_only" not in str(error.value) and "add_safe_globals" not in str(error.value)  # allow it
    torch.load(path, weights_only=False)  # control: an unsafe load does run the payload
    assert marker.exists()


def _flip_a_bit_of_the_first_tensor(data: bytes) -> bytes:
    """``data`` (a torch zip archive) with one bit of ``archive/data/0``'s stored bytes flipped."""
    flipped = bytearray(data)
    member = zipfile.ZipFile(io.BytesIO(data)).getinfo("archive/data/0")
    offset = member.header_offset  # the local header: 30 bytes, then the name and the extra field
    start = offset + 30 + int.from_bytes(data[offset + 26 : offset + 28], "little")
    start += int.from_bytes(data[offset + 28 : offset + 30], "little")
    flipped[start + 1] ^= 0x40
    return bytes(flipped)


def _another_zip(data: bytes) -> bytes:
    """A zip archive of a text file, not torch.save's."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("a.txt", "hello\n")
    return archive.getvalue()


def _a_zip_with_a_data_pkl(data: bytes) -> bytes:
    """A zip archive with an ``x/data.pkl`` of junk and no ``version``, not torch.save's."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("x/data.pkl", "junk")
    return archive.getvalue()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(lambda data: data[: len(data) // 2], "the file is truncated or corrupt", id="truncated"),
        pytest.param(lambda data: data[:10], "the file is truncated or corrupt", id="truncated-header"),
        pytest.param(lambda data: b"", "the file is truncated or corrupt", id="empty"),
        pytest.param(lambda data: bytes(reversed(data)), "it is not a checkpoint", id="garbage"),  # was:
        pytest.param(
            lambda data: bytes(range(256)) * 8, "it is not a checkpoint", id="random"
        ),  # "WeightsUnpickler"
        pytest.param(  # a plain pickle: torch warned of its protocol (two more lines) before refusing it
            lambda data: pickle.dumps({"policy": {}}), "it is not a checkpoint", id="plain-pickle"
        ),
        pytest.param(
            lambda data: data[:-200] + bytes(200), "the file is truncated or corrupt", id="zeroed-tail"
        ),
        pytest.param(  # one bit of a tensor's bytes flipped: it loaded, with another number there
            _flip_a_bit_of_the_first_tensor,
            "the file is corrupt (archive/data/0 fails its checksum)",
            id="bit",
        ),
        pytest.param(  # was: "pop from empty list"; a text file: "101"
            lambda data: b"env: CartPole-v1\nseed: 0\n",
            "it is not a checkpoint (torch.save writes a zip",
            id="yaml",
        ),
        pytest.param(  # was torch's "[enforce fail at inline_container.cc:180] . file in archive is not
            _another_zip,  # in a subdirectory: a.txt"
            "it is not a checkpoint (a zip archive that torch.save did not write",
            id="another-zip",
        ),
        pytest.param(  # was torch's 'Expected hasRecord("version") to be true, but got false.'
            _a_zip_with_a_data_pkl,
            "it is not a checkpoint (a zip archive that torch.save did not write",
            id="a-zip-with-a-data-pkl",
        ),
    ],
)
def test_a_damaged_checkpoint_is_one_line_naming_the_file(tmp_path, damage, reason):
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(UserError) as error, warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing printed before the line
        load_checkpoint(path)
    assert_one_line_naming(error, path)
    assert str(error.value).startswith(f"cannot load checkpoint {path}: {reason}")


def test_bytes_of_a_tampered_pickle_are_escaped_in_the_line(tmp_path):
    """A data.pkl naming a global with NUL bytes in it printed them raw into the terminal."""
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    pickled = next(name for name in entries if name.endswith("data.pkl"))
    entries[pickled] = b"\x80\x02c\x00os\x00\nsystem\n."
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(UserError) as error:
        load_checkpoint(path)
    assert_one_line_naming(error, path)
    assert "GLOBAL \\x00os\\x00.system" in str(error.value) and "\x00" not in str(error.value)


def test_a_missing_checkpoint_names_what_was_expected(tmp_path):
    with pytest.raises(UserError, match=f"^no checkpoint at {tmp_path / CHECKPOINT_NAME} "):
        load_checkpoint(tmp_path)
    for seed in (3, 4):  # a num_seeds run's folder: one run folder per seed
        (tmp_path / f"seed{seed}").mkdir()
        (tmp_path / f"seed{seed}" / CHECKPOINT_NAME).write_bytes(b"")
    with pytest.raises(UserError, match=f"^{tmp_path} holds 2 seeds' runs, .*e.g. {tmp_path / 'seed3'}$"):
        load_checkpoint(tmp_path)
    run = tmp_path / "seed3"  # a run shorter than the window has no best file: a plain "no
    no_best = f"^{run} holds no {BEST_CHECKPOINT_NAME}: it is written once "
    with pytest.raises(UserError, match=no_best) as info:
        resolve_checkpoint(run, BEST_CHECKPOINT_NAME)  # checkpoint at" said nothing of why
    # a run stopped by Ctrl-C after thousands of episodes was told only of budget.window
    assert "never at a save for a signal (Ctrl-C, SIGTERM)" in str(info.value)
    (tmp_path / "seed4" / "config.yaml").write_text("seed_mode: batched\n")  # never writes one
    with pytest.raises(
        UserError, match=f"^{tmp_path / 'seed4'} holds no .*: a seed_mode=batched run writes none;"
    ):
        resolve_checkpoint(tmp_path / "seed4", BEST_CHECKPOINT_NAME)


@pytest.mark.parametrize("best_too", [False, True], ids=["alone", "beside-a-best-file"])
def test_a_checkpoint_name_that_is_a_folder_is_said_to_be_one(tmp_path, best_too):
    """``<run>/checkpoint.pt`` made a folder: "no checkpoint at <run>/checkpoint.pt/checkpoint.pt"
    for the folder given, or, beside a ``checkpoint_best.pt``, "the save ... was cut short"."""
    folder = tmp_path / CHECKPOINT_NAME
    folder.mkdir()
    if best_too:
        (tmp_path / BEST_CHECKPOINT_NAME).write_bytes(b"")
    for given in (tmp_path, folder):
        with pytest.raises(UserError) as error:
            resolve_checkpoint(given)
        assert (
            str(error.value)
            == f"{folder} is a folder, not a checkpoint file: pass a run folder that holds {CHECKPOINT_NAME}"
        )
    (folder / BEST_CHECKPOINT_NAME).write_bytes(b"")  # a run folder itself named checkpoint.pt, cut short
    with pytest.raises(UserError, match=f"^{folder} holds {BEST_CHECKPOINT_NAME} but no {CHECKPOINT_NAME} "):
        resolve_checkpoint(folder)
    named_best = (
        tmp_path / "runs" / BEST_CHECKPOINT_NAME
    )  # and one named checkpoint_best.pt, without its best
    named_best.mkdir(parents=True)
    (named_best / CHECKPOINT_NAME).write_bytes(b"")
    with pytest.raises(UserError, match=f"^{named_best} holds no {BEST_CHECKPOINT_NAME}: it is written once"):
        resolve_checkpoint(named_best, BEST_CHECKPOINT_NAME)


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


class CtrlCOnThirdWrite:
    """A file whose third ``write`` raises ``KeyboardInterrupt``, as a Ctrl-C landing there does."""

    def __init__(self, handle) -> None:
        self.handle, self.writes = handle, 0

    def write(self, data: bytes) -> int:
        self.writes += 1
        if self.writes == 3:
            raise KeyboardInterrupt
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


@pytest.mark.parametrize(
    "save", [save_checkpoint, lambda path, state: save_checkpoints([(path, state)])], ids=["one", "batched"]
)
def test_a_ctrl_c_inside_torch_save_quits_and_keeps_the_old_file(tmp_path, monkeypatch, save):
    """A second Ctrl-C while a checkpoint was written landed in torch's zip writer, whose exit then
    raised ``RuntimeError: [enforce fail at inline_container.cc] unexpected pos``: the run exited 1
    with a traceback. The save now raises the KeyboardInterrupt (quit at once, exit 130)."""
    path = save_checkpoint(tmp_path / CHECKPOINT_NAME, STATE)
    old_bytes = path.read_bytes()
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, handle: real_save(obj, CtrlCOnThirdWrite(handle)))
    with pytest.raises(KeyboardInterrupt):
        save(path, {"policy": {"weight": torch.zeros(3, 2)}})
    assert path.read_bytes() == old_bytes
    assert os.listdir(tmp_path) == [CHECKPOINT_NAME]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("run")
    agents.train("CartPole-v1", "budget.total_env_steps=300", "logging.progress_bar=false", f"run_dir={run}")
    return run


def crafted_copy(run: Path, folder: Path, **config: object) -> Path:
    """``run``'s checkpoint with ``config`` written over its config, in ``folder``."""
    state = load_checkpoint(run)
    state["config"].update(config)
    folder.mkdir()
    save_checkpoint(folder / CHECKPOINT_NAME, state)
    return folder


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda folder, trust: agents.load(folder, trust_code=trust), id="load"),
        pytest.param(
            lambda folder, trust: evaluate(
                EvaluateConfig(checkpoint=str(folder), episodes=1, trust_code=trust)
            ),
            id="evaluate",
        ),
        pytest.param(
            lambda folder, trust: agents.train(
                load_checkpoint(folder)["config"]["env"] if trust else "CartPole-v1",
                f"resume={folder}",
                f"trust_code={trust}",
            ),  # trusted: the file's env (another is refused: resume cannot change env); untrusted: the
            # caller's own (naming the file's module would choose it, as a new run with it would)
            id="resume",
        ),
    ],
)
def test_code_a_checkpoint_names_runs_only_when_trusted(trained_run, tmp_path, monkeypatch, load):
    """A config's wrapper ``_target_`` may name any callable and ``env=module:Id`` imports the
    module: from a file, neither runs unless the caller trusts it (checked with a shell command
    and a module that leave a marker)."""
    marker = tmp_path / "pwned"
    wrapper = {"_target_": "pydoc.pipepager", "cmd": f"touch {marker}"}  # pipepager(env, cmd) runs cmd
    (tmp_path / "marker_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    crafted = [
        crafted_copy(trained_run, tmp_path / "wrapper", env_wrappers=[wrapper]),
        crafted_copy(trained_run, tmp_path / "module", env="marker_module:CartPole-v1"),
    ]
    for folder, named in zip(
        crafted, ["env_wrappers[0]._target_=pydoc.pipepager", "env=marker_module:"], strict=True
    ):
        with pytest.raises(
            UserError, match=r"names code from outside Gymnasium .*add trust_code=true"
        ) as error:
            load(folder, False)
        assert named in str(error.value) and "\n" not in str(error.value)
        assert not marker.exists()
    with pytest.raises(UserError, match=r"_target_=pydoc.pipepager is not a gymnasium.Wrapper class"):
        load(crafted[0], True)  # trusted or not, a _target_ that is no Wrapper class is never called
    time.sleep(0.5)
    assert not marker.exists()
    try:
        with contextlib.suppress(UserError):  # control: trusted, the named module is imported
            load(crafted[1], True)
        assert marker.exists()
    finally:
        sys.modules.pop("marker_module", None)  # imported, it would need no trust in the next case


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda folder: agents.load(folder), id="load"),
        pytest.param(
            lambda folder: evaluate(EvaluateConfig(checkpoint=str(folder), episodes=1)), id="evaluate"
        ),
    ],
)
def test_a_checkpoint_whose_agent_would_not_fit_is_refused_before_building_it(trained_run, tmp_path, load):
    """An edited config (1000 RBF centres per dimension: 1000^4 on CartPole) was built as given:
    out of memory; training refuses the same config in one line, and so does loading now."""
    features = {**load_checkpoint(trained_run)["config"]["features"], "name": "rbf", "num_centers": 1000}
    with pytest.raises(
        UserError, match=r"the agent of checkpoint .* would need about .* lower features.num_centers"
    ):
        load(crafted_copy(trained_run, tmp_path / "huge", features=features))
    # its value baseline's network was not counted: it allocated 1.3 GB and more before a shape check
    agent = {**load_checkpoint(trained_run)["config"]["agent"], "baseline": "value",
             "value_hidden_sizes": [4096] * 1000}  # fmt: skip
    with pytest.raises(
        UserError, match=r"would need about 500 GiB, .* value baseline's .* agent.value_hidden_sizes$"
    ):
        load(crafted_copy(trained_run, tmp_path / "huge_value", agent=agent))


@pytest.mark.parametrize(
    ("weight", "kind"),
    [
        (torch.zeros(5, 2, dtype=torch.complex64), "a tensor of complex64"),
        (torch.zeros(5, 2).to_sparse(), "a tensor of layout sparse_coo"),
        (torch.zeros(5, 2, dtype=torch.int64), "a tensor of int64"),
    ],
    ids=["complex", "sparse", "int"],
)
@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda folder: agents.load(folder), id="load"),
        pytest.param(
            lambda folder: evaluate(EvaluateConfig(checkpoint=str(folder), episodes=1)), id="evaluate"
        ),
    ],
)
def test_a_policy_weight_that_is_no_real_float_tensor_is_refused(trained_run, tmp_path, load, weight, kind):
    """A complex policy.weight loaded its real part (a warning, then acting on it; its nan escaped the
    nan/inf check, which read float tensors only), a sparse one failed in load_state_dict's copy."""
    state = load_checkpoint(trained_run)
    state["policy"]["weight"] = weight
    (tmp_path / "edited").mkdir()
    save_checkpoint(tmp_path / "edited" / CHECKPOINT_NAME, state)
    with pytest.raises(
        UserError, match=f"holds {kind} in policy.weight, where its config builds a tensor of"
    ):
        load(tmp_path / "edited")


def test_the_printed_resume_command_trusts_the_users_own_env(tmp_path, monkeypatch):
    """Stopped by a signal, a run of the user's own env printed ``resume=<run>``, which then
    asked for trust_code=true: the command now carries it (not for Gymnasium's envs)."""
    (tmp_path / "own_env_module.py").write_text(
        "import gymnasium as gym\n"
        "gym.register('Own-v0', entry_point='gymnasium.envs.classic_control:CartPoleEnv')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    own = agents.TrainConfig(env="own_env_module:Own-v0")
    assert code_to_trust(own.env, []) == ["env=own_env_module:Own-v0"]  # not imported yet
    __import__("own_env_module")
    assert code_to_trust(own.env, []) == []  # this process ran it already; a fresh one has not
    assert resume_trust(own) == " trust_code=true"
    assert resume_trust(agents.TrainConfig(env="CartPole-v1")) == ""


def test_gymnasium_wrappers_and_imported_modules_need_no_trust():
    assert (
        code_to_trust("CartPole-v1", [{"_target_": "gymnasium.wrappers.TimeLimit", "max_episode_steps": 5}])
        == []
    )
    assert code_to_trust("envs:CartPole-v1", []) == []
    assert code_to_trust("CartPole-v1", [{"_target_": "gymnasium.make"}]) == [
        "env_wrappers[0]._target_=gymnasium.make"
    ]  # a Gymnasium function, not a wrapper class
    assert code_to_trust("not_imported_module:X-v0", []) == ["env=not_imported_module:X-v0"]


def test_checkpoint_modes_stale_temporaries_and_the_order_of_saves(make_config, tmp_path, monkeypatch):
    """``mkstemp`` made every checkpoint 0600 (config.yaml and the event files: 0644 under umask
    022), so another user could not evaluate a shared run; a save killed mid-write left its
    ``.checkpoint.pt.*.tmp`` for good. And the best file is written before the latest one."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    stale = run_dir / ".checkpoint.pt.k1ll3d.tmp"
    stale.write_bytes(b"half a checkpoint")
    import agents.runtime.trainer as trainer
    from agents.runtime.run import train

    order = []
    real_save = trainer.save_checkpoint

    def recorded_save(path, state):
        order.append(path.name)
        return real_save(path, state)

    monkeypatch.setattr(trainer, "save_checkpoint", recorded_save)
    train(make_config("budget.total_env_steps=3000", "budget.window=5"))  # into tmp_path / "run"
    assert not stale.exists()
    mode = (run_dir / "config.yaml").stat().st_mode & 0o777
    assert (run_dir / CHECKPOINT_NAME).stat().st_mode & 0o777 == mode
    assert "checkpoint_best.pt" in order
    assert all(order[i + 1] == CHECKPOINT_NAME for i, name in enumerate(order) if name != CHECKPOINT_NAME)


def test_files_written_together_are_replaced_together_even_with_a_folder_in_the_way(tmp_path):
    """A folder where the second file goes: the first was replaced anyway, and the line named the
    temporary file, not the folder in the way."""
    first, second = tmp_path / "fig.png", tmp_path / "fig.svg"
    first.write_text("old")
    second.mkdir()
    writers = [(path, lambda temporary: temporary.write_text("new")) for path in (first, second)]
    with pytest.raises(IsADirectoryError) as error:
        write_files_atomically(writers)
    assert error.value.filename == str(second) and first.read_text() == "old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["fig.png", "fig.svg"]


def test_a_file_name_near_the_limit_is_written_atomically(tmp_path):
    """A name of 250 bytes is valid, but its temporary ``.<name>.<pid>.tmp`` passed the 255-byte
    limit: "File name too long" for a name the file system takes."""
    path = tmp_path / ("a" * 246 + ".csv")
    write_files_atomically([(path, lambda temporary: temporary.write_text("x"))])
    assert path.read_text() == "x" and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_run_saved_before_the_tilings_limit_still_resumes_evaluates_and_loads(tmp_path, monkeypatch):
    """``features.num_tilings`` above ``features.hash_size`` became a refusal for new runs; a run
    saved before it (made here with the old check) was refused by resume, evaluate and load:
    "holds an invalid config: ... raise features.hash_size", which a trained run cannot follow."""
    tiles = ["features=tile", "features.num_tilings=8", "features.hash_size=4", "logging.progress_bar=false"]
    check = config_module.validate_features
    monkeypatch.setattr(
        config_module, "validate_features", lambda features, new_run=True: check(features, False)
    )
    first = train(compose_train_config([*tiles, "budget.total_env_steps=500", f"run_dir={tmp_path}"]))
    monkeypatch.undo()
    with pytest.raises(UserError, match=r"^features\.num_tilings=8 must be <= features\.hash_size=4 "):
        train(compose_train_config([*tiles, f"run_dir={tmp_path / 'new'}"]))
    more = [*tiles, "budget.total_env_steps=1000", f"resume={tmp_path}"]
    resumed = train(compose_train_config(more), overrides=more)
    assert resumed.env_steps > first.env_steps
    agents.load(tmp_path).predict(np.zeros(4, dtype=np.float32))


def test_an_atomic_write_to_a_symbolic_link_replaces_the_file_it_names(tmp_path):
    """``results_table.py out=link.md``, ``evaluate.py csv=link.csv`` or ``plot.py out=lfig`` with the
    output a link replaced the link with a file and left the file it named as it was; a link now
    stays a link and its file gets the new contents (a checkpoint too)."""
    from agents.runtime.checkpoint import write_text_atomically

    (tmp_path / "real").mkdir()
    target, link = tmp_path / "real" / "notes.md", tmp_path / "link.md"
    target.write_text("OLD")
    link.symlink_to(target)
    write_text_atomically(link, "NEW")
    assert link.is_symlink() and target.read_text() == "NEW"
    figures = [(tmp_path / name, tmp_path / "real" / name) for name in ("a.png", "a.svg")]
    for path, real in figures:
        real.write_text("old figure")
        path.symlink_to(real)
    write_files_atomically([(path, lambda temporary: temporary.write_text("new")) for path, _ in figures])
    assert all(path.is_symlink() and real.read_text() == "new" for path, real in figures)
    state = {"config": {"seed": 1}, "weight": torch.ones(2)}
    for save in (lambda path: save_checkpoint(path, state), lambda path: save_checkpoints([(path, state)])):
        saved, kept = tmp_path / "real" / CHECKPOINT_NAME, tmp_path / "run" / CHECKPOINT_NAME
        saved.write_bytes(b"old")
        kept.parent.mkdir(exist_ok=True)
        kept.unlink(missing_ok=True)
        kept.symlink_to(saved)
        save(kept)
        assert kept.is_symlink() and torch.equal(load_checkpoint(kept)["weight"], torch.ones(2))
    dangling, into_nothing = tmp_path / "dangling.md", tmp_path / "nowhere.md"
    dangling.symlink_to(tmp_path / "real" / "new.md")  # a file not there yet, in a folder that is
    into_nothing.symlink_to(tmp_path / "missing" / "x.md")  # a folder not there: the link is replaced
    write_text_atomically(dangling, "made")
    write_text_atomically(into_nothing, "here")
    assert dangling.is_symlink() and (tmp_path / "real" / "new.md").read_text() == "made"
    assert not into_nothing.is_symlink() and into_nothing.read_text() == "here"
    assert not (tmp_path / "missing").exists()
    (tmp_path / "real" / "new.md").unlink()
    assert sorted(path.name for path in (tmp_path / "real").iterdir()) == [
        "a.png",
        "a.svg",
        CHECKPOINT_NAME,
        "notes.md",
    ]


def test_a_kept_copy_is_a_hard_link_that_keeps_its_state_or_a_copy_without_links(tmp_path, monkeypatch):
    """A periodic save's kept copy was a second write and ``fsync`` of the whole state (with a full
    buffer of 256 envs, 4 MB each time): it is a hard link now, which the next save leaves alone,
    and a second save where the file system makes none."""
    from agents.runtime.checkpoint import keep_copy

    latest, kept = tmp_path / CHECKPOINT_NAME, tmp_path / "checkpoint_1000_steps.pt"
    save_checkpoint(latest, {"step": 1000})
    keep_copy(latest, kept, {"step": 1000})
    assert kept.stat().st_ino == latest.stat().st_ino
    save_checkpoint(latest, {"step": 2000})
    assert load_checkpoint(kept)["step"] == 1000 and load_checkpoint(latest)["step"] == 2000

    def no_links(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    keep_copy(latest, tmp_path / "checkpoint_2000_steps.pt", {"step": 2000})
    assert load_checkpoint(tmp_path / "checkpoint_2000_steps.pt")["step"] == 2000
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_a_symbolic_link_to_a_device_a_pipe_or_a_folder_is_replaced_and_what_it_names_stays(tmp_path):
    """``seeds.txt`` (or ``summary.md``, a figure, a checkpoint) linked to ``/dev/full``, ``/dev/null``
    or a named pipe: the write renamed a regular file over the device or the pipe (as root it
    replaced ``/dev/full``) and put its temporary file beside it. The link itself is replaced
    now, and the device, the pipe or the folder stays as it was."""
    from agents.runtime.checkpoint import write_text_atomically

    pipe, folder = tmp_path / "pipe", tmp_path / "folder"
    os.mkfifo(pipe)
    folder.mkdir()
    writes = {
        "text": lambda path: write_text_atomically(path, "table"),
        "files": lambda path: write_files_atomically(
            [(path, lambda temporary: temporary.write_text("table"))]
        ),
        "checkpoint": lambda path: save_checkpoint(path, {"weight": torch.ones(2)}),
        "checkpoints": lambda path: save_checkpoints([(path, {"weight": torch.ones(2)})]),
    }
    for name, write in writes.items():
        for target in (pipe, folder):
            link = tmp_path / f"{name}_{target.name}"
            link.symlink_to(target)
            write(link)
            assert not link.is_symlink() and link.is_file() and link.stat().st_size > 0
    assert stat.S_ISFIFO(pipe.lstat().st_mode) and list(folder.iterdir()) == []
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temporary file left


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(lambda folder: agents.load(folder), id="load"),
        pytest.param(
            lambda folder: evaluate(EvaluateConfig(checkpoint=str(folder), episodes=1)), id="evaluate"
        ),
        pytest.param(lambda folder: agents.train("CartPole-v1", f"resume={folder}"), id="resume"),
    ],
)
def test_an_interpolation_put_into_a_checkpoints_config_is_refused_unread(trained_run, tmp_path, load):
    """A run saves its config resolved; ``env: ${oc.env:HOME}`` put into a file was resolved on
    loading, so the line named the environment's value (``env=/root, which is not registered``)."""
    os.environ["SECRET_FOR_THIS_TEST"] = "s3cr3t-value"
    crafted = crafted_copy(trained_run, tmp_path / "crafted", env="${oc.env:SECRET_FOR_THIS_TEST}")
    with pytest.raises(UserError) as error:
        load(crafted)
    assert str(error.value).startswith(f"checkpoint {crafted}") and str(error.value).endswith(
        " has a config this code cannot read: env holds an interpolation (${...}), which a run never saves "
        "(the file was altered)"
    ), str(error.value)
    nested = crafted_copy(trained_run, tmp_path / "nested", env_wrappers=[{"_target_": "${oc.env:HOME}"}])
    with pytest.raises(UserError, match=r"env_wrappers\[0\]\._target_ holds an interpolation"):
        load(nested)


def test_a_setting_that_resolves_to_an_interpolation_is_refused_before_the_run(tmp_path):
    """``'+env_kwargs.label=cost \\${x}'`` trained and saved ``label: cost ${x}``, which no program
    could read back (an InterpolationKeyError, now the refusal of a ${...} in a checkpoint)."""
    with pytest.raises(
        UserError, match=r"^env_kwargs\.label=cost \$\{x\} holds '\$\{', which the run's checkpoint"
    ):
        agents.train("CartPole-v1", "+env_kwargs.label=cost \\${x}", f"run_dir={tmp_path / 'run'}")
    assert not (tmp_path / "run").exists()
    dollars = agents.train("FrozenLake-v1", "budget.total_env_steps=200", "logging.progress_bar=false",
                           f"run_dir={tmp_path / 'a$b'}")  # fmt: skip
    assert agents.load(dollars.run_dir).predict(0) in range(4)  # a $ alone is no interpolation
