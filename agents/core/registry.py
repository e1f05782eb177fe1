"""Open families by name: a registry maps a config value (``agent.policy=mlp``) to a class."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from agents.errors import UserError, warn_at_caller

T = TypeVar("T")


class Registry(dict[str, type[T]], Generic[T]):
    """``name -> class`` for one config key; classes join with the :meth:`register` decorator.

    :param key: the config key the names are values of (for the error message).
    :param home: the module whose import registers the built-in classes, imported by
        :meth:`lookup` (a registry imported on its own held no name, and refused every one).
    """

    def __init__(self, key: str, home: str | None = None) -> None:
        super().__init__()
        self.key, self.home = key, home

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator: make the class available as ``<key>=<name>``."""

        def add(cls: type[T]) -> type[T]:
            taken = self.get(name)
            if taken is not None and _full_name(taken) != _full_name(cls):  # (a module reloaded: itself)
                warn_at_caller(  # as Gymnasium's register does for an id taken
                    f"{self.key}={name!r} was {_full_name(taken)}; {_full_name(cls)} takes its name now, so "
                    f"runs of {self.key}={name} load as this class: register it under a name of its own"
                )
            self[name] = cls
            return cls

        return add

    def lookup(self, name: str) -> type[T]:
        """The class registered as ``name``; a one-line :class:`UserError` listing the names otherwise."""
        if name not in self and self.home is not None:
            importlib.import_module(self.home)
        if name not in self:
            raise UserError(f"{self.key}={name!r} is not one of {', '.join(self)}")
        return self[name]


def _full_name(cls: type) -> str:
    """``module.QualifiedName`` of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"
