"""The watermark keys this service has issued, in the records database.

One row per marked render: the 64-bit key (hex) and the render it belongs to. When a
render is erased its id is cleared from the row (see
:meth:`server.jobs.records.RenderRecordStore.delete`) but the key stays: a copy of the
file is still recognised as made here, and nothing left points at the erased render.
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.storage.db import Database


class ProvenanceKeys:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, key_hex: str, render_id: str) -> None:
        self._db.execute(
            "INSERT INTO provenance_keys (key, render_id, created_at) VALUES (?, ?, ?)"
            " ON CONFLICT (key) DO UPDATE SET render_id = excluded.render_id",
            (key_hex, render_id, datetime.now(UTC).isoformat()),
        )

    def all(self) -> list[tuple[str, str | None]]:
        rows = self._db.execute("SELECT key, render_id FROM provenance_keys ORDER BY key")
        return [(row["key"], row["render_id"]) for row in rows.fetchall()]


class MemoryKeys:
    """The same index in process memory (for tools that mark files of their own)."""

    def __init__(self) -> None:
        self._rows: dict[str, str | None] = {}

    def add(self, key_hex: str, render_id: str) -> None:
        self._rows[key_hex] = render_id

    def all(self) -> list[tuple[str, str | None]]:
        return sorted(self._rows.items())
