"""Values written as Hydra overrides that Hydra reads back as the same values (``agents.train``'s
keywords), and the overrides Hydra's sweeper wrote, shown as a user types them: the sweeper
escapes its grammar's characters and writes a bool as Python does (``env=my_envs\\:Maze-v0``,
``logging.progress_bar=False``), where the command line read ``env=my_envs:Maze-v0`` and ``false``."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Sequence
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException

from agents.errors import UserError
from agents.tools.override_paths import quoted


def is_name(key: Any) -> bool:
    """Whether ``key`` is a name Hydra's grammar takes as a key as it is (``is_slippery``, ``_target_``)."""
    return isinstance(key, str) and re.fullmatch(r"[A-Za-z_][\w-]*", key) is not None


def value_text(value: Any, within: bool = False) -> str:
    """``value`` in Hydra's override grammar, read back as the same value (``within`` a list or a
    dict, whose grammar differs: ``[a b]`` is one item, ``[]`` none, ``['']`` one)."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if value is None or isinstance(value, bool | int | float):
        return "null" if value is None else str(value).lower() if isinstance(value, bool) else repr(value)
    if isinstance(value, list | tuple):
        return f"[{','.join(value_text(item, within=True) for item in value)}]"
    if isinstance(value, dict):
        named = [key for key in value if not is_name(key)]
        if named:
            raise UserError(
                f"a dict inside a list takes names as keys (as keyword arguments), not {named[0]!r}"
            )
        items = ",".join(f"{key}:{value_text(item, within=True)}" for key, item in value.items())
        return "{" + items + "}"
    if not isinstance(value, str):
        raise UserError(
            f"{value!r} is of type {type(value).__name__}: give numbers, strings, paths, booleans, None, "
            "lists or dicts, as a config holds"
        )
    text = f"[{value}]" if within else value
    try:
        (parsed,) = OverridesParser.create().parse_overrides([f"key={text}"])
        if parsed.value() == ([value] if within else value):  # as it is: "CartPole-v1", "cuda:1"
            return value
    except HydraException:
        pass
    return quoted(value)  # "true", "1e3", "a b", "x,y", "[1]" and "" stay strings


def as_typed(override: str) -> str:
    """``override`` (one job's ``key=value``, as Hydra's sweeper wrote it) as a user would type it:
    ``env=my_envs\\:Maze-v0`` -> ``env=my_envs:Maze-v0``, ``run_dir=/tmp/a\\,b`` ->
    ``run_dir='/tmp/a,b'``, ``x=False`` -> ``x=false``; as it is where the sweeper wrote it so (no
    escape, no Python literal), and where it is no single value (a sweep, a deletion) or does not
    parse. The summary is rewritten after every job: an override Hydra's parser reads (0.4 ms) is
    read once per process."""
    value = override.partition("=")[2]
    if "\\" not in override and value not in ("True", "False", "None"):
        return override
    return _parsed_as_typed(override)


@functools.lru_cache(maxsize=1 << 16)
def _parsed_as_typed(override: str) -> str:
    try:
        (parsed,) = OverridesParser.create().parse_overrides([override])
        if parsed.is_sweep_override() or parsed.is_delete():
            return override
        key = override.partition("=")[0]
        return f"{key}={value_text(parsed.value())}"
    except (HydraException, UserError, ValueError):
        return override


def shown_job(overrides: Sequence[str]) -> str:
    """A sweep job's overrides as a line shows them: each :func:`as_typed`."""
    return " ".join(as_typed(override) for override in overrides)
