"""Domain errors with a stable ``code`` clients can rely on.

They know nothing about HTTP: ``server.api.errors`` maps each class to a status.
"""

from __future__ import annotations

import errno


class ServiceError(Exception):
    """Base: a request the service refuses, with a machine-readable code."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(ServiceError):
    """The named identity, template, render or file does not exist."""

    code = "not_found"


class Invalid(ServiceError):
    """The request is well-formed but makes no sense (e.g. an unknown face track)."""

    code = "invalid_request"


class Conflict(ServiceError):
    """The resource is not in a state that allows this (e.g. a render not done yet)."""

    code = "conflict"


class Busy(ServiceError):
    """Temporarily refused: try again after ``retry_after_s`` seconds."""

    code = "busy"

    def __init__(self, message: str, retry_after_s: int, code: str | None = None) -> None:
        super().__init__(message, code)
        self.retry_after_s = retry_after_s


class StorageFull(ServiceError):
    """The data directory has no space (or quota) left; retried later it may work."""

    code = "storage_full"


class StorageUnavailable(ServiceError):
    """The data directory cannot be written (read-only, permissions, gone)."""

    code = "storage_unavailable"


_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_UNAVAILABLE = frozenset({errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO})


def storage_error(exc: OSError) -> ServiceError | None:
    """The domain error for a data-directory write failure, None for other errors.

    The message names no path: clients and logs get the condition, not the layout."""
    if exc.errno in _FULL:
        return StorageFull("the server has no storage space left; try again later")
    if exc.errno in _UNAVAILABLE:
        return StorageUnavailable("the server's storage is not writable; try again later")
    return None
