"""Keep the server's file layout out of what clients and logs see: absolute paths in
error messages, /readyz and log lines are cut down to their last component."""

from __future__ import annotations

import logging
import re
from typing import Any

# An absolute POSIX path of two or more components, not part of a URL or an API route.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/~-])/(?!v1/)(?:[^\s'\"(),;:/]+/)+(?P<last>[^\s'\"(),;:/]*)")


def redact_paths(text: str) -> str:
    """``text`` with every absolute path replaced by its last component."""
    return _ABSOLUTE_PATH.sub(lambda m: m.group("last") or "<dir>", text)


def redact_tree(value: Any) -> Any:
    """:func:`redact_paths` applied to every string in a JSON-like value."""
    if isinstance(value, str):
        return redact_paths(value)
    if isinstance(value, dict):
        return {key: redact_tree(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_tree(item) for item in value]
    return value


class RedactPaths(logging.Filter):
    """A handler filter: log lines (messages and tracebacks) without absolute paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = redact_paths(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_paths(record.exc_text)
        return True


def redact_log_handlers(logger: logging.Logger | None = None) -> None:
    """Add :class:`RedactPaths` to every handler of ``logger`` (default: the root)."""
    for handler in (logger or logging.getLogger()).handlers:
        handler.addFilter(RedactPaths())
