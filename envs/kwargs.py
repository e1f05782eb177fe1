"""``env_kwargs`` checked against the types the env's constructor declares, before it is made.

Hydra turns ``+env_kwargs.is_slippery=true`` into ``True`` and ``=0.5`` into ``0.5``, but a word it
cannot read as a bool or a number stays a string: ``is_slippery=maybe`` reached FrozenLake as
``"maybe"``, which is truthy, and the run trained on the slippery lake without a word. The env's
entry point says what it takes: its annotation (``is_slippery: bool = True``) or, without one, the
type of its default (the registered ``kwargs`` first, as ``gymnasium.make`` passes them). Where that
is plainly a bool or a number and the value is not one, :func:`check_kwarg_types` refuses it in one
line. Anything less plain (a str, a tuple, ``Any``, a class of the env's own, no default) is left to
the env, as is a constructor we cannot inspect.
"""

from __future__ import annotations

import inspect
import numbers
import re
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium.envs.registration import EnvSpec, load_env_creator

from agents.errors import UserError

_ANNOTATION_WORDS = {
    "bool": bool, "int": int, "float": float, "str": str, "None": type(None), "Optional": type(None),
}  # fmt: skip
"""The annotation words this check reads, and the type each says; an annotation with any other
word is not checked."""


def check_kwarg_types(env_id: str, spec: EnvSpec, env_kwargs: Mapping[str, Any] | None) -> None:
    """Raise :class:`UserError` for an ``env_kwargs`` value that is not the bool or number the
    env's constructor declares for it."""
    parameters = _parameters(spec)
    for key, value in (env_kwargs or {}).items():
        parameter = parameters.get(key)
        if parameter is None:
            continue  # unknown keys are gymnasium.make's (max_episode_steps, ...) or the env's to refuse
        default = spec.kwargs.get(key, parameter.default)
        accepted = _accepted_types(parameter.annotation, default)
        annotated = parameter.annotation is not inspect.Parameter.empty
        if not accepted or not accepted & {bool, int, float} or _fits(value, accepted, annotated):
            continue
        wanted = "true or false" if accepted <= {bool, type(None)} else "<a number>"
        raise UserError(
            f"env_kwargs.{key}={value!r} does not fit env={env_id}, whose {key} is "
            f"{_declared(parameter.annotation, default)}: give env_kwargs.{key}={wanted}"
        )


def _parameters(spec: EnvSpec) -> Mapping[str, inspect.Parameter]:
    """The entry point's parameters, or none where it cannot be loaded or inspected (then
    ``gymnasium.make`` reports what is wrong)."""
    try:
        entry = spec.entry_point
        return inspect.signature(load_env_creator(entry) if isinstance(entry, str) else entry).parameters
    except (Exception, SystemExit):  # an entry point that does not import (or exits), a builtin
        return {}


def _accepted_types(annotation: Any, default: Any) -> set[type]:
    """What the parameter takes: the annotation's types where every word of it is a basic type,
    else the default's type where that is a bool or a number; empty where neither says."""
    if annotation is not inspect.Parameter.empty:
        words = set(re.findall(r"[A-Za-z_][A-Za-z_0-9]*", _written(annotation))) - {"typing", "Union"}
        if not words or not words <= _ANNOTATION_WORDS.keys():
            return set()
        return {_ANNOTATION_WORDS[word] for word in words}
    if isinstance(default, bool | int | float):
        return {type(default)}
    return set()


def _fits(value: Any, accepted: set[type], annotated: bool) -> bool:
    """Whether ``value`` may be what the parameter takes: null (a default of None, however
    annotated, is often meant), any number where a number is taken (one for another is the env's to
    judge), a bool where a bool is, or 0 and 1 there (the ints Python counts as bools); against a
    type read from the default alone, anything but a str (the word Hydra could not read)."""
    if value is None:
        return True
    if isinstance(value, bool | np.bool_):
        return bool in accepted
    if isinstance(value, numbers.Real):
        return bool(accepted & {int, float}) or (bool in accepted and value in (0, 1))
    if not annotated:
        return not isinstance(value, str)
    return any(isinstance(value, kind) for kind in accepted - {bool, int, float})


def _written(annotation: Any) -> str:
    """An annotation as it was written: ``bool`` for the class, ``typing.Optional[int]`` for a typing
    form (whose ``__name__`` is ``Optional`` alone), the text itself under ``from __future__ import
    annotations``."""
    if isinstance(annotation, type):
        return annotation.__name__
    return annotation if isinstance(annotation, str) else str(annotation)


def _declared(annotation: Any, default: Any) -> str:
    """``a bool (its default: True)``: the annotation, else what the default is (a bool, a number)."""
    if annotation is inspect.Parameter.empty:
        kind = "bool" if isinstance(default, bool) else "number"
    else:
        kind = _written(annotation)
    article = "an" if kind[:1] in "aeiou" else "a"
    shown = "" if default is inspect.Parameter.empty else f" (its default: {default!r})"
    return f"{article} {kind}{shown}"
