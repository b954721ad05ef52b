"""Exceptions of the patterns library (all importable from ``vermilion.patterns``)."""


class PatternError(Exception):
    """Base class of every error raised by vermilion.patterns."""


class LockError(PatternError):
    """A lock was used the wrong way (e.g. released without being held)."""


class LockNotAcquired(LockError):
    """A blocking acquire gave up; ``result`` holds the last attempt's details if any."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


class LockLost(LockError):
    """The lock expired or was taken while its holder still believed it held it."""
