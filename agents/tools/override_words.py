"""The command line's words, checked before Hydra reads them: override keys, a bare env id or
checkpoint (``CartPole-v1`` for ``env=CartPole-v1``), Hydra's own switches (``-m``, ``--info``)."""

from __future__ import annotations

import argparse
import os
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from agents.errors import UserError
from agents.tools.override_paths import config_folder, expand_home, named_folder
from agents.tools.presets import is_sweep, override_key, parsed_override_value
from agents.tools.usage import program_name

MULTIRUN_FLAGS = ("-m", "--multirun")


def is_multirun(argv: Sequence[str]) -> bool:
    """Hydra's ``-m`` / ``--multirun`` is among ``argv``."""
    return any(arg in MULTIRUN_FLAGS for arg in argv)


def shows_info(argv: Sequence[str]) -> bool:
    """Hydra's ``--info [all|config|...]`` (``-i``) is among ``argv``: Hydra prints it through a log
    handler on stdout that it makes itself, before any of our code runs."""
    return hydra_args(argv)[0].info is not None


BARE_WORD_KEYS = {"train": "env", "evaluate": "checkpoint", "compare": "env"}
"""Program (primary config) -> the key a bare word on its command line most likely meant:
``train.py CartPole-v1`` is ``env=CartPole-v1``, ``evaluate.py <run>`` is ``checkpoint=<run>``."""

ENV_ID_SHAPE = re.compile(r"(?:[\w.]+:)?(?:[\w.-]+/)?[\w.-]+-v\d+")
"""What a Gymnasium id looks like (``CartPole-v1``, ``ALE/Pong-v5``, ``my_envs:Maze-v0``)."""


def check_override_keys(overrides: Sequence[str]) -> None:
    """``=1`` or ``+=1`` (no key before the ``=``) is one line; Hydra's ValueError ("Config group
    override must be a string or a list. Got int") was a traceback."""
    for word in overrides:
        key, sep, _ = word.partition("=")
        if sep and not word.startswith("-") and not key.lstrip("+~").strip():
            raise UserError(f"{word!r} has no key before '=': settings are key=value (e.g. seed=1)")


def check_bare_words(config_name: str, overrides: Sequence[str], command_line: bool = True) -> None:
    """A word with no ``=`` (``train.py CartPole-v1``) is one line saying which ``key=`` it needs; Hydra
    said "cannot parse override 'CartPole-v1': Error parsing override" and linked its grammar.
    ``command_line``: the words are a command line's (not Python's ``agents.train`` overrides), where
    ``--help`` lists the keys and an empty one is most likely an unset shell variable."""
    previous = ""
    for word in overrides:
        a_path = "/" in word.partition("=")[0] and Path(word).exists()  # a sweep job's folder: "0_lr=0.1"
        if ("=" in word and not a_path) or word.startswith("~"):
            previous = word
            continue
        if not word.strip():
            if command_line:
                raise UserError(f"an empty argument ({word!r}) is not key=value: an unset shell variable?")
            raise UserError(f"an empty override ({word!r}) is not key=value")
        if previous.endswith("="):  # "key= value": the shell split it
            hint = f"did you mean {previous}{word} (no space after =)?"
        else:
            key = _bare_word_key(config_name, word)
            hint = f"did you mean {key}={word}?" if key else "settings are key=value"
        raise UserError(
            f"{word!r} is not key=value: {hint}{' (--help lists the keys)' if command_line else ''}"
        )


def _bare_word_key(config_name: str, word: str) -> str | None:
    """The key a bare ``word`` most likely meant, where one does: a run folder or checkpoint file
    for training is ``resume=``, an env id ``env=``, anything for evaluation ``checkpoint=``."""
    import gymnasium as gym

    from agents.runtime.checkpoint import CHECKPOINT_NAME

    key = BARE_WORD_KEYS.get(config_name)
    path = Path(word)
    if config_name == "train" and (
        (path / CHECKPOINT_NAME).is_file() or (path.suffix == ".pt" and path.is_file())
    ):
        return "resume"
    if key == "env" and not (ENV_ID_SHAPE.fullmatch(word) or word in gym.registry):
        return None
    return key


def check_options(argv: Sequence[str], config_name: str = "") -> None:
    """Hydra's own options (``-m``, ``--cfg job``, ``--config-dir``, ...) pass; any other ``-x``, one
    without its value (``--config-dir`` with no folder) and a bare word are one line each (Hydra's
    parser would print its usage, eight lines, and exit 0 or 2)."""
    args, unknown = hydra_args(argv)
    flags = [arg for arg in unknown if arg.startswith("-")]
    if flags:
        raise UserError(
            f"unknown option {flags[0]}: settings are key=value without dashes (e.g. seed=1); the options "
            "are -m (sweep), --cfg job, --config-dir <folder>, --help, --version"
        )
    modes = {"--run": args.run, "-m": args.multirun, "--cfg": args.cfg, "--info": args.info,
             "--shell-completion": args.shell_completion}  # fmt: skip
    given = [option for option, value in modes.items() if value]
    if len(given) > 1:  # Hydra's ValueError for it was a traceback
        raise UserError(f"{' and '.join(given)} cannot be combined: give one of {', '.join(modes)}")
    names = [item.partition("=")[0] for item in args.overrides]
    subcommands = [name for name in names if name in ("install", "uninstall", "query")]
    if args.shell_completion and len(subcommands) != 1:  # as Hydra counts them
        raise UserError("--shell-completion needs one of install=bash, uninstall=bash or query=bash")
    if args.shell_completion and subcommands == ["query"] and "COMP_LINE" not in os.environ:  # Hydra's
        raise UserError(  # KeyError was a traceback
            "-sc query=bash answers a Tab: bash runs it with the line typed so far in COMP_LINE, which "
            f'is not set here; to turn tab completion on, run: eval "$({program_name()} -sc install=bash)"'
        )
    if args.resolve and not (args.cfg or args.help):  # Hydra's ValueError was a traceback
        raise UserError("--resolve resolves the interpolations --cfg prints: give --cfg job --resolve")
    if args.package is not None and not args.cfg:  # Hydra ignored it and ran
        raise UserError(f"--package selects what --cfg prints: give --cfg job --package {args.package}")
    folder = args.config_dir  # Hydra: "Additional config directory '<cwd>/<folder>' not found"
    if folder is not None and not Path(expand_home(folder)).is_dir():
        setting = f"; {folder} looks like a setting: put it after the folder" if "=" in folder else ""
        what = "a file, not a folder" if Path(expand_home(folder)).exists() else "no such folder"
        raise UserError(f"--config-dir {folder}: {what}{setting} (give your own configs' folder)")
    folder = args.config_path  # Hydra: "Primary config module 'agents.tools.<folder>' not found"
    if folder is not None and not folder.startswith("pkg://") and not Path(config_folder(folder)).is_dir():
        relative = "" if Path(named_folder(folder)).is_absolute() else (
            f" (a relative one is read from the working folder, {Path.cwd()})"
        )  # fmt: skip
        raise UserError(f"--config-path {folder}: no such folder{relative}: give your configs' folder")
    if unknown:  # "seed=1 -m agent.lr=0.01,0.02": Hydra's parser takes settings before its options only
        settings = [*args.overrides, *unknown]
        options = [arg for arg in argv if arg not in settings]  # with their values (--cfg job)
        raise UserError(
            f"{unknown[0]!r} comes after an option, where Hydra does not read settings: put the options "
            f"first ({program_name()} {shlex.join([*options, *settings])})"
        )
    check_override_keys(args.overrides)
    check_bare_words(config_name, args.overrides)
    sweep_dir = parsed_override_value(list(args.overrides), "hydra.sweep.dir")
    for key in ("hydra.run.dir", "hydra.sweep.dir", "hydra.sweep.subdir"):
        value = parsed_override_value(list(args.overrides), key)
        if value == "" and key != "hydra.sweep.subdir":  # Hydra wrote the run into the working folder
            raise UserError(f"{key} is empty (an unset shell variable?): give a folder, or leave it out")
        if not value or (key == "hydra.sweep.subdir" and sweep_dir is None and not os.path.isabs(value)):
            continue  # (a subdir below the default sweep folder, which lies below the working one)
        folder = os.path.join(sweep_dir or "", value) if key == "hydra.sweep.subdir" else value  # as Hydra
        if "${" not in folder and os.path.realpath(folder) == os.path.abspath(os.sep):  # it wrote into /
            raise UserError(f"{key}={value} makes the run folder the file system's root: give one of its own")
    rerun = args.experimental_rerun
    if rerun is not None and not Path(rerun).is_file():  # Hydra's ValueError was a traceback
        raise UserError(f"--experimental-rerun {rerun}: no such file (give a job's .hydra/config.pickle)")
    if rerun is not None and not _a_hydra_config_pickle(Path(rerun)):  # pickle.load's EOFError
        raise UserError(
            f"--experimental-rerun {rerun}: not a job's .hydra/config.pickle (Hydra unpickles the file, "
            "which runs whatever code it names: give only a pickle Hydra wrote)"
        )


def _a_hydra_config_pickle(path: Path) -> bool:
    """Whether ``path`` holds a pickle (protocol 2+) named as Hydra names the one it writes, read
    without unpickling it (a text file or an empty one made ``pickle.load`` raise a traceback)."""
    try:
        with path.open("rb") as handle:
            return path.name == "config.pickle" and handle.read(1) == b"\x80"
    except OSError:
        return False


def hydra_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """``argv`` as Hydra's app parses it: its switches apart from the overrides, and what it does
    not know. An option without its value (``--config-dir`` with no folder) or with one it does not
    take (``--cfg foo``) is one line; argparse printed its usage, eight lines.

    :raises UserError: naming the option and a value it takes."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    parser.exit_on_error = False

    def refuse(message: str) -> NoReturn:  # what argparse reports past exit_on_error: its usage block
        raise UserError(f"{message}: give the whole option")  # "ambiguous option: --config- could match"

    parser.error = refuse  # type: ignore[method-assign]
    try:
        return parser.parse_known_args(list(argv))
    except argparse.ArgumentError as error:  # "--config-dir/-cd", "expected one argument"
        option = (error.argument_name or "").split("/")[0]
        example = "" if "choose from" in error.message else f" (e.g. {OPTION_EXAMPLES.get(option, option)})"
        raise UserError(f"{option}: {error.message}{example}") from None


OPTION_EXAMPLES = {
    "--config-dir": "--config-dir <folder of your configs>",
    "--config-name": "--config-name train",
    "--config-path": "--config-path <folder>",
    "--cfg": "--cfg job",
    "--info": "--info config",
    "--package": "--package _global_",
    "--experimental-rerun": "--experimental-rerun <run>/.hydra/config.pickle",
}
"""Hydra's options that take a value, each with one it takes."""


SWEPT_KEYS_VARIABLE = "SOFTMAX_REINFORCE_SWEPT_KEYS"
"""The keys a ``-m`` command line sweeps (``agent.lr=0.01,0.02``), one per line: set by the
command line for the sweep's jobs (a launcher's workers inherit it) and by the check of their
folders; read by :func:`~agents.tools.job_names.short_overrides`."""


def swept_keys(argv: Sequence[str]) -> str:
    """The value of :data:`SWEPT_KEYS_VARIABLE` for the sweep ``argv``: its swept keys, one a line."""
    return "\n".join(override_key(arg) for arg in argv if is_sweep(arg))
