"""The CLI's own error: a command-line value the command cannot use (one line, exit 2)."""


class UsageError(ValueError):
    """A command-line value the command cannot use."""
