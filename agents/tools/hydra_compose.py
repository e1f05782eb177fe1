"""``hydra.compose``, where a config file Hydra cannot read as one is said in one line: Hydra's own
errors for them are not its config errors (a ``RecursionError`` of 2,500 lines for a defaults list
that loops, an ``OSError`` for a file that holds a number, a ``ValueError`` for ``defaults: 5``),
so they came out of every program as tracebacks, exit 1."""

from __future__ import annotations

import traceback
from typing import Any

from hydra import compose
from hydra.errors import ConfigCompositionException
from omegaconf import DictConfig


def compose_files(config_name: str, overrides: list[str], **kwargs: Any) -> DictConfig:
    """``hydra.compose(config_name, overrides=overrides, **kwargs)``, raising a
    ``ConfigCompositionException`` that says what is wrong (:func:`unreadable_config`) for a file
    Hydra could not read as a config, which the programs' config-error handling words as one line."""
    try:
        return compose(config_name, overrides=overrides, **kwargs)
    except (RecursionError, OSError, ValueError) as error:
        message = unreadable_config(error)
        if message is None:
            raise
        raise ConfigCompositionException(message) from None


def unreadable_config(error: BaseException) -> str | None:
    """What Hydra met in a config file, read from the frames ``error`` passed through (the options
    it was expanding, the file it loaded); None for an error of another kind."""
    chain, loaded = [], None
    for frame, _ in traceback.walk_tb(error.__traceback__):
        names = frame.f_locals
        if frame.f_code.co_name == "_create_defaults_tree_impl":
            path = getattr(getattr(names.get("root"), "node", None), "get_config_path", None)
            chain.append(path() if callable(path) else "")
        if frame.f_code.co_name == "load_config" and isinstance(names.get("full_path"), str):
            loaded = names["full_path"]
    text = str(error)
    if isinstance(error, RecursionError):
        for end, option in enumerate(chain):
            if option and option in chain[:end]:  # agent/loop -> agent/loop2 -> agent/loop
                loop = " -> ".join(chain[chain.index(option) : end + 1])
                return f"the config files' defaults lists loop ({loop}): remove the entry that leads back"
        return None
    if isinstance(error, OSError) and text.startswith("Invalid loaded object type: ") and loaded:
        kind = text.removeprefix("Invalid loaded object type: ")
        return f"{loaded} holds a YAML {kind}, not a config: write key: value lines (or {{}} for none)"
    if isinstance(error, ValueError) and text.startswith("Invalid defaults list in "):
        return f"{text}: write it as a list (defaults: [reinforce, _self_])"
    return None
