"""Paths in ``key=value`` overrides: ``~`` expanded as a shell would (``run_dir=~/runs/x`` reaches
Hydra unexpanded), and quoted where Hydra's override grammar would read their characters."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

PATH_KEYS = ("resume", "checkpoint", "run_dir", "hydra.run.dir", "hydra.sweep.dir", "csv", "video_dir")
"""Overrides whose value is a path (a run folder the program printed, e.g. a sweep job's)."""
PATH_OPTIONS = ("runs", "out")
"""Keys of the ``key=value`` programs (:func:`~agents.tools.cli.parse_options`) whose values are paths."""
_PARSED_BY_HYDRA = set("=,[]{}()'\" ")


def expand_home(value: str) -> str:
    """A path's leading ``~`` or ``~user`` as the user's home folder (``os.path.expanduser``). bash
    expands ``run_dir=~/x`` itself; zsh, sh and Python callers pass the ``~`` on, which made a
    folder named ``~`` in the working folder."""
    return os.path.expanduser(value) if value.startswith("~") else value


def expand_home_in_paths(overrides: Sequence[str]) -> list[str]:
    """The :data:`PATH_KEYS` overrides with :func:`expand_home` applied to their values (a quoted
    value too: the shell left the quotes, and no run folder is named ``~``)."""
    expanded = []
    for override in overrides:
        key, sep, value = override.partition("=")
        if sep and key in PATH_KEYS:
            quote = value[0] if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0] else ""
            inner = value[1:-1] if quote else value
            paths = [inner] if quote else inner.split(",")  # a sweep's: -m 'csv=~/a.csv,~/b.csv'
            override = f"{key}={quote}{','.join(map(expand_home, paths))}{quote}"
        expanded.append(override)
    return expanded


def quote_paths(overrides: Sequence[str], multirun: bool = False) -> list[str]:
    """``resume=<path>`` (and the other :data:`PATH_KEYS`) quoted for Hydra's override grammar when
    the path holds characters it would parse: a sweep job's folder ``0_lr=0.01,..._seed0`` can then
    be pasted back as printed. A value with ``=``, or letters outside ASCII (``ünï``, which Hydra's
    lexer takes only quoted), cannot be meant any other way; one with ``,`` (a sweep) or brackets
    is quoted only when it names an existing path. In a ``multirun``, a value that is several
    existing paths joined by commas (:func:`path_list_items`) is a sweep over them, each quoted:
    ``-m checkpoint=<job 0's folder>,<job 1's folder>`` was one path, not found."""
    written = []
    for override in overrides:
        key, sep, value = override.partition("=")
        special, non_ascii = _PARSED_BY_HYDRA.intersection(value), not value.isascii()
        unquoted = sep and key in PATH_KEYS and (special or non_ascii) and value[0] not in "'\""
        plain_path = non_ascii and special <= {" "}  # ünï, no sweep: Hydra's lexer refused it unquoted
        if unquoted and ("=" in special or plain_path or Path(value).exists()):
            items = [item.lstrip() for item in path_list_items(value)] if multirun else []
            if len(items) < 2 or not all(Path(item).exists() for item in items):
                items = [value]
            override = f"{key}={','.join(map(quoted, items))}"
        written.append(override)
    return written


def quoted(value: str) -> str:
    """``value`` in single quotes, for Hydra's override grammar, which reads a backslash as itself
    except in a run of them before a quote or the closing quote: there each is doubled, and a quote
    escaped (``C:\\runs`` stays; doubling every backslash gave ``C:\\\\runs`` back)."""
    escaped = re.sub(r"(\\*)'", lambda run: run.group(1) * 2 + "\\'", value)
    escaped = re.sub(r"(\\+)$", lambda run: run.group(1) * 2, escaped)
    return f"'{escaped}'"


def path_list_items(items: str) -> list[str]:
    """A list's unquoted items ``a,b,c`` split at the commas that no existing path holds: the
    longest run of comma-joined pieces naming an existing path is one item (a sweep job's folder
    ``0_lr=0.1,gamma=0.9_seed0``, pasted as printed)."""
    pieces, paths, start = items.split(","), [], 0
    while start < len(pieces):
        ends = range(len(pieces), start + 1, -1)  # (a space after a comma is no part of the path)
        end = next((end for end in ends if Path(",".join(pieces[start:end]).lstrip()).exists()), start + 1)
        paths.append(",".join(pieces[start:end]))
        start = end
    return paths


def config_option(arg: str, short: str, option: str) -> bool:
    """Whether ``arg`` (up to an ``=``) names Hydra's ``option`` (``--config-path``, ``--config-dir``):
    its ``short`` form (``-cp``, ``-cd``), or the option or a prefix of it that argparse takes for it
    (``--config-pa``, ``--config-d``; ``--config-`` is ambiguous, and refused)."""
    name = arg.partition("=")[0]
    return name == short or (len(name) > len("--config-") and option.startswith(name))


def config_path_option(arg: str) -> bool:
    """Whether ``arg`` names ``--config-path`` (:func:`config_option`)."""
    return config_option(arg, "-cp", "--config-path")


def config_dir_option(arg: str) -> bool:
    """Whether ``arg`` names ``--config-dir`` (:func:`config_option`)."""
    return config_option(arg, "-cd", "--config-dir")


def option_values(argv: Sequence[str], is_option: Callable[[str], bool]) -> list[tuple[int, str]]:
    """Where each value of the option ``is_option`` tells in ``argv`` is: its argument's index and
    the text before the value (the option and ``=`` where given inline, else "")."""
    values = []
    for index, arg in enumerate(argv):
        if arg.startswith("-") and is_option(arg):
            if "=" in arg:
                values.append((index, arg.partition("=")[0] + "="))
            elif index + 1 < len(argv):
                values.append((index + 1, ""))
    return values


def config_path_values(argv: Sequence[str]) -> list[tuple[int, str]]:
    """Where each ``--config-path``/``-cp`` value of ``argv`` is (:func:`option_values`)."""
    return option_values(argv, config_path_option)


def config_dir_values(argv: Sequence[str]) -> list[str]:
    """The ``--config-dir``/``-cd`` folders of ``argv``, ``~`` expanded."""
    values = option_values(argv, config_dir_option)
    return [expand_home(argv[index].removeprefix(before)) for index, before in values]


def config_path_from_cwd(argv: Sequence[str]) -> list[str]:
    """``argv`` with a relative ``--config-path``/``-cp`` folder made absolute from the working
    folder, where ``--config-dir`` is read too. Hydra reads a relative one against the file that
    declares ``@hydra.main``, here a module of the package that no one running ``scripts/train.py``
    or ``softmax-reinforce`` sees: ``-cp my_configs`` said "Primary config module
    'agents.tools.my_configs' not found". A ``file://`` folder is that folder (Hydra read it as a
    module too); a ``pkg://`` module stays as it is. A ``--config-dir`` folder's leading ``~`` is
    expanded (a quoted ``-cd '~/mine'`` reached Hydra as a folder named ``~``)."""
    given = list(argv)
    for index, before in config_path_values(given):
        given[index] = before + config_folder(given[index].removeprefix(before))
    for index, before in option_values(given, config_dir_option):
        given[index] = before + expand_home(given[index].removeprefix(before))
    return given


def named_folder(value: str) -> str:
    """A ``--config-path`` value's folder as written: without ``file://``, ``~`` expanded."""
    return expand_home(value.removeprefix("file://"))


def config_folder(folder: str) -> str:
    """A ``--config-path`` value as the folder it names, absolute (a ``pkg://`` module as it is)."""
    if folder.startswith("pkg://"):
        return folder
    return str(Path.cwd() / named_folder(folder))  # an absolute one stays


def config_path_given(argv: Sequence[str]) -> str | None:
    """The folder of the last ``--config-path``/``-cp`` in ``argv``; None without one, or for a
    ``pkg://`` module."""
    values = config_path_values(argv)
    if not values:
        return None
    index, before = values[-1]
    folder = argv[index].removeprefix(before)
    return None if folder.startswith("pkg://") else named_folder(folder)
