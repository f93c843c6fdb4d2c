"""Keep the server's file layout out of what clients see: absolute paths in error
messages and /readyz are cut down to their last component."""

from __future__ import annotations

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
