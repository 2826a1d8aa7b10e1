"""The error tree of the developer tooling."""


class DevstackError(Exception):
    """A set-up or run step failed; the message says what to do."""
