"""Hydra's logging settings (``hydra.job_logging``, ``hydra.hydra_logging``), which it passes to
Python's ``logging.config``: what that refuses, or accepts but cannot use, in one line.

Hydra configures a run's logging after it has made the run's folder, and raised
``ValueError: Unable to configure root logger`` with a traceback for ``root.level=NOPE``; a format
naming a field no record has (``%(nope)s``) was accepted and then printed a "--- Logging error ---"
traceback for every line. :func:`logging_settings_in_one_line` wraps Hydra's ``configure_logging``
so that both are a :class:`~agents.errors.UserError` naming the setting and the reason.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from omegaconf import DictConfig

from agents.errors import UserError, first_line

LOGGING_SETTINGS = ("hydra.job_logging", "hydra.hydra_logging")
"""Hydra's settings for Python's ``logging.config.dictConfig``: each run's, and Hydra's own."""


def logging_settings_in_one_line(
    configure: Callable[[dict[str, Any]], None], on_refusal: Callable[[], None] | None = None
) -> Callable[[dict[str, Any]], None]:
    """Hydra's ``configure_logging`` (``configure``) such that a logging setting ``logging.config``
    refuses (``hydra.job_logging.root.level=NOPE``, a handler's unknown class), which was Hydra's
    ``ValueError: Unable to configure root logger`` traceback, is one line with the reason
    (:class:`~agents.errors.UserError`), after ``on_refusal()`` (which removes the run's folder,
    made for nothing)."""

    @functools.wraps(configure)
    def configure_or_say_why(config: dict[str, Any]) -> None:
        try:
            configure(config)
            problem = unformattable_handler(config)
        except Exception as error:  # ValueError, TypeError, ... from logging.config, naming the part
            reasons = [first_line(error)]
            while (error := error.__cause__ or error.__context__) is not None and len(reasons) < 4:
                if not any(first_line(error) in reason for reason in reasons):  # "Cannot resolve
                    reasons.append(first_line(error))  # 'x.Y': No module named 'x'", then the same
            problem = ": ".join(reasons)
        if problem is None:
            return
        if on_refusal is not None:
            on_refusal()
        setting = _logging_setting_configured() or " or ".join(LOGGING_SETTINGS)
        raise UserError(f"{setting}: {problem}: fix that setting or leave it out")

    return configure_or_say_why


def unformattable_handler(config: dict[str, Any]) -> str | None:
    """What is wrong with a handler of the logging ``config`` just applied that cannot format a
    record of this program (its format names a field no record has, ``%(nope)s``: Python's
    logging accepted it and then printed a "--- Logging error ---" traceback for every line); None
    if each can. A record comes to a handler from each logger the config attaches it to (the root,
    or a named one), through that logger's filters and the handler's, which may add fields."""
    attached = {name: [logging.getLogger()] for name in (config.get("root") or {}).get("handlers") or []}
    for logger_name, logger_config in (config.get("loggers") or {}).items():
        for name in (logger_config or {}).get("handlers") or []:
            attached.setdefault(name, []).append(logging.getLogger(logger_name))
    for name, loggers in attached.items():
        handler = logging._handlers.get(name)  # type: ignore[attr-defined]  # the configured handlers
        for logger in loggers if handler is not None else []:
            record = logging.LogRecord(logger.name, logging.INFO, __file__, 0, "a line", None, None)
            try:
                if logger.filter(record) and handler.filter(record):
                    handler.format(record)
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                return f"handler {name!r} cannot format a line: {first_line(error)}"
    return None


def _logging_setting_configured() -> str | None:
    """The setting Hydra's ``configure_log`` up the stack is configuring (``hydra.job_logging`` or
    ``hydra.hydra_logging``: its ``log_config`` node's key), if it is there."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_name != "configure_log":
        frame = frame.f_back  # type: ignore[assignment]
    log_config = frame.f_locals.get("log_config") if frame is not None else None
    key = log_config._key() if isinstance(log_config, DictConfig) else None
    return f"hydra.{key}" if f"hydra.{key}" in LOGGING_SETTINGS else None


@contextmanager
def logging_settings_said_in_one_line(on_refusal: Callable[[], None] | None = None) -> Iterator[None]:
    """:func:`logging_settings_in_one_line` for the block: the logging this process configures
    (a joblib worker configures its jobs' itself, :func:`~agents.tools.launchers.joblib_worker_start`)."""
    from hydra._internal import logging_config

    configure = logging_config.configure_logging
    logging_config.configure_logging = logging_settings_in_one_line(configure, on_refusal)
    try:
        yield
    finally:
        logging_config.configure_logging = configure
