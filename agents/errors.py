"""The one exception type for a user's mistake.

Entry points catch :class:`UserError`, print its one-line message and exit with status 2 (no
traceback); any other exception is a bug and keeps its traceback.
"""


class UserError(Exception):
    """A bad config value, env id or file: the message says what arrived and what to change."""


USER_ERROR_EXIT_CODE = 2
