"""A ``limits`` storage over the records database, so every gunicorn worker on one host
counts against the same rate-limit windows without an extra server.

Registered as the ``faceloop+sqlite`` scheme: ``faceloop+sqlite:///abs/path/db``. Only
the fixed-window strategy is supported (counter + expiry per key). Deployments on
several hosts point the limiter at Redis instead (a ``redis://`` URI).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import ClassVar

from limits.storage import Storage

from server.storage.db import Database

SCHEME = "faceloop+sqlite"


def storage_uri(db_path: Path) -> str:
    return f"{SCHEME}://{Path(db_path).resolve()}"


class SqliteRateStorage(Storage):
    """Fixed-window counters in the ``rate_counters`` table."""

    STORAGE_SCHEME: ClassVar[list[str]] = [SCHEME]  # type: ignore[misc]

    def __init__(
        self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool
    ) -> None:
        super().__init__(uri, wrap_exceptions, **options)
        path = (uri or "").split("://", 1)[-1]
        if not path.startswith("/"):
            raise ValueError(f"{SCHEME} needs an absolute database path: {uri!r}")
        self._db = Database(Path(path))

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (sqlite3.Error, OSError)

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        """Add ``amount`` to the key's window (a fresh window if it expired)."""
        now = time.time()
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT count, expires_at FROM rate_counters WHERE key = ?", (key,)
            ).fetchone()
            if row is None or row["expires_at"] <= now:
                count, expires_at = amount, now + expiry
            else:
                count, expires_at = row["count"] + amount, row["expires_at"]
            conn.execute(
                "INSERT OR REPLACE INTO rate_counters (key, count, expires_at) VALUES (?, ?, ?)",
                (key, count, expires_at),
            )
        return int(count)

    def _live(self, key: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT count, expires_at FROM rate_counters WHERE key = ? AND expires_at > ?",
            (key, time.time()),
        ).fetchone()
        return row

    def get(self, key: str) -> int:
        row = self._live(key)
        return int(row["count"]) if row is not None else 0

    def get_expiry(self, key: str) -> float:
        row = self._live(key)
        return float(row["expires_at"]) if row is not None else time.time()

    def check(self) -> bool:
        try:
            self._db.execute("SELECT 1").fetchone()
        except (sqlite3.Error, OSError):
            return False
        return True

    def reset(self) -> int | None:
        return int(self._db.execute("DELETE FROM rate_counters").rowcount)

    def clear(self, key: str) -> None:
        self._db.execute("DELETE FROM rate_counters WHERE key = ?", (key,))
