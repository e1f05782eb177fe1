"""Exceptions that end a run on purpose, each with the exit status the entry points use.

Entry points catch :class:`UserError`, print its one-line message and exit with
``error.exit_code`` (2 for a mistake; 130/143 for a run stopped by SIGINT/SIGTERM, the shell's
128 + signal number); any other exception is a bug and keeps its traceback.
"""

USER_ERROR_EXIT_CODE = 2
QUIT_AT_ONCE = "interrupted: quit at once (files written before are intact)"
"""What a Ctrl-C that is not caught to save (a second one, or one during start-up) prints."""


class UserError(Exception):
    """A bad config value, env id or file: the message says what arrived and what to change."""

    exit_code: int = USER_ERROR_EXIT_CODE


class RunInterrupted(UserError):
    """SIGINT/SIGTERM stopped a run after it saved a checkpoint; the message says how to resume."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message, exit_code)
        self.exit_code = exit_code

    def __str__(self) -> str:
        return str(self.args[0])


def describe(error: BaseException, last_line: bool = False) -> str:
    """``TypeName: message`` on one line (the message's first non-empty line, or its last, where
    torch puts the detail), cut at 300 characters: for one-line reports of foreign exceptions."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    detail = (lines[-1] if last_line else lines[0]) if lines else ""
    return f"{type(error).__name__}: {detail}"[:300] if detail else type(error).__name__
