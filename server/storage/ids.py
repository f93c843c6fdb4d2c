"""Resource ids: generated here, and validated with strict patterns before any path is
built from them (so ``../x``, unicode or empty ids never reach the filesystem)."""

from __future__ import annotations

import re
import secrets
from typing import Literal

IdKind = Literal["identity", "render", "device"]

_PREFIX: dict[IdKind, str] = {"identity": "idt", "render": "rnd", "device": "dev"}
_HEX_LEN = 24  # 96 random bits

IDENTITY_ID_PATTERN = rf"^idt_[0-9a-f]{{{_HEX_LEN}}}$"
RENDER_ID_PATTERN = rf"^rnd_[0-9a-f]{{{_HEX_LEN}}}$"
DEVICE_ID_PATTERN = rf"^dev_[0-9a-f]{{{_HEX_LEN}}}$"
# Template ids are chosen by curators: lowercase slugs.
TEMPLATE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

_PATTERNS: dict[str, re.Pattern[str]] = {
    "identity": re.compile(IDENTITY_ID_PATTERN),
    "render": re.compile(RENDER_ID_PATTERN),
    "device": re.compile(DEVICE_ID_PATTERN),
    "template": re.compile(TEMPLATE_ID_PATTERN),
}


def new_id(kind: IdKind) -> str:
    """A fresh random id such as ``idt_3f9c...``."""
    return f"{_PREFIX[kind]}_{secrets.token_hex(_HEX_LEN // 2)}"


def is_valid_id(kind: Literal["identity", "render", "device", "template"], value: object) -> bool:
    """True when ``value`` is a string matching the strict pattern for ``kind``.

    ``fullmatch``, since a bare ``$`` would also accept a trailing newline.
    """
    return isinstance(value, str) and _PATTERNS[kind].fullmatch(value) is not None
