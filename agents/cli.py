"""Entry-point glue: a user's mistake prints one line and exits 2; a bug keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from agents.errors import USER_ERROR_EXIT_CODE, UserError

T = TypeVar("T")


def run_or_exit(task: Callable[[], T]) -> T:
    """Run ``task``; on :class:`UserError` print ``error: <message>`` to stderr and exit 2."""
    try:
        return task()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(USER_ERROR_EXIT_CODE)
