"""The error tree of the developer tooling, under the project's one root (see schemas/errors.py)."""

from schemas.errors import RegsyncError


class DevstackError(RegsyncError):
    """A set-up or run step failed; the message says what to do."""
