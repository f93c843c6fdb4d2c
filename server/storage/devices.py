"""Devices: who may use the API. A device is a random id plus a bearer token of 256
random bits; only the token's SHA-256 is stored (a fast hash is enough for a secret
that cannot be guessed, and lets a request be checked with one indexed lookup)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from server.storage.db import Database
from server.storage.ids import is_valid_id, new_id

TOKEN_BYTES = 32  # 256 bits
_MAX_TOKEN_CHARS = 256


@dataclass(frozen=True)
class NewDevice:
    device_id: str
    token: str  # shown once, never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class DeviceStore:
    """Create devices, find a device by its token, delete a device's row."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, created_at: str) -> NewDevice:
        device = NewDevice(new_id("device"), secrets.token_urlsafe(TOKEN_BYTES))
        self._db.execute(
            "INSERT INTO devices (id, token_hash, created_at) VALUES (?, ?, ?)",
            (device.device_id, token_hash(device.token), created_at),
        )
        return device

    def authenticate(self, token: str) -> str | None:
        """The device id the token belongs to, or None."""
        if not token or len(token) > _MAX_TOKEN_CHARS or not token.isascii():
            return None
        row = self._db.execute(
            "SELECT id FROM devices WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()
        return str(row["id"]) if row is not None else None

    def exists(self, device_id: str) -> bool:
        if not is_valid_id("device", device_id):
            return False
        row = self._db.execute("SELECT 1 FROM devices WHERE id = ?", (device_id,)).fetchone()
        return row is not None

    def delete(self, device_id: str) -> bool:
        """Remove the device's row (its identities and renders are erased first by the
        service); False if it did not exist."""
        cursor = self._db.execute("DELETE FROM devices WHERE id = ?", (device_id,))
        return cursor.rowcount > 0

    def ids(self) -> list[str]:
        return [r["id"] for r in self._db.execute("SELECT id FROM devices ORDER BY id")]
