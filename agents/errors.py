"""Exceptions that end a run on purpose, each with the exit status the entry points use.

Entry points catch :class:`UserError`, print its one-line message and exit with
``error.exit_code`` (2 for a mistake; 130/143 for a run stopped by SIGINT/SIGTERM, the shell's
128 + signal number); any other exception is a bug and keeps its traceback.
"""

USER_ERROR_EXIT_CODE = 2


class UserError(Exception):
    """A bad config value, env id or file: the message says what arrived and what to change."""

    exit_code: int = USER_ERROR_EXIT_CODE


class RunInterrupted(UserError):
    """SIGINT/SIGTERM stopped a run after it saved a checkpoint; the message says how to resume."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
