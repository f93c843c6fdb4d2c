"""Render records: the result store every worker process reads and the runner writes.

One row per render in the records database (status and key columns plus the whole
record as JSON) and the result file under ``renders/<id>/``, written atomically. A
broker-backed deployment would keep exactly these records; the queue only carries
render ids.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.storage.atomic import atomic_write_bytes, remove_tree
from server.storage.db import Database
from server.storage.errors import NotFound
from server.storage.ids import is_valid_id
from server.storage.layout import DataLayout
from server.types import OutputFormat

log = logging.getLogger(__name__)

RenderStatus = Literal["queued", "running", "done", "failed"]
ACTIVE: tuple[RenderStatus, ...] = ("queued", "running")


def utc_now() -> datetime:
    return datetime.now(UTC)


class RenderError(BaseModel):
    """Why a render failed: a stable ``code`` and a human ``message``."""

    code: str
    message: str


class RenderRecord(BaseModel):
    """Everything known about one render request and its progress."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: RenderStatus = "queued"
    progress: float = Field(default=0.0, ge=0.0, le=1.0)
    error: RenderError | None = None
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)
    template_id: str
    template_sha256: str
    faces: dict[str, str]  # template face track id (decimal string) -> identity id
    identity_ids: list[str]  # distinct identities in ``faces``, in track order
    format: OutputFormat
    engine: str  # the engine actually used ("auto" resolved at submission)
    engine_info: dict[str, Any] = Field(default_factory=dict)  # its describe(): models...
    request_key: str
    owner: str | None = None  # process token of whoever queued / runs it
    device_id: str | None = None  # the device that asked for it (None: made by a tool)
    result_file: str | None = None
    media_type: str | None = None
    frame_count: int | None = None
    stats: dict[str, Any] = Field(default_factory=dict)

    def evolve(self, **changes: Any) -> RenderRecord:
        """A copy with ``changes`` applied and ``updated_at`` bumped."""
        return self.model_copy(update={**changes, "updated_at": utc_now()})


class RenderGone(Exception):
    """The render was deleted while someone was writing to it."""


class RenderRecordStore:
    """Render records (rows of the records database), their result files under
    ``layout.renders/<id>/`` and the identical-request index."""

    def __init__(self, layout: DataLayout, db: Database | None = None) -> None:
        self._layout = layout
        self._db = db or Database.in_dir(layout.root)

    def _dir(self, render_id: str) -> Path:
        if not is_valid_id("render", render_id):
            raise NotFound(f"render {render_id!r} not found", "render_not_found")
        return self._layout.render_dir(render_id)

    def create(self, record: RenderRecord) -> None:
        self._db.execute(
            "INSERT INTO renders (id, device_id, status, request_key, created_at, updated_at,"
            " record) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (record.id, record.device_id, record.status, record.request_key,
             _iso(record.created_at), _iso(record.updated_at), record.model_dump_json()),
        )  # fmt: skip

    def get(self, render_id: str) -> RenderRecord:
        """The record, or NotFound (also for malformed ids)."""
        row = self._row(render_id)
        if row is None:
            raise NotFound(f"render {render_id!r} not found", "render_not_found")
        return RenderRecord.model_validate_json(row["record"])

    def _row(self, render_id: str) -> Any:
        if not is_valid_id("render", render_id):
            return None
        return self._db.execute("SELECT record FROM renders WHERE id = ?", (render_id,)).fetchone()

    def exists(self, render_id: str) -> bool:
        return self._row(render_id) is not None

    def save(self, record: RenderRecord) -> None:
        """Overwrite an existing record; RenderGone if the render was deleted."""
        cursor = self._db.execute(
            "UPDATE renders SET status = ?, updated_at = ?, record = ? WHERE id = ?",
            (record.status, _iso(record.updated_at), record.model_dump_json(), record.id),
        )
        if cursor.rowcount == 0:
            raise RenderGone(record.id)

    def write_result(self, render_id: str, fmt: OutputFormat, data: bytes) -> str:
        """Store the output atomically; returns its file name. RenderGone (and nothing
        left on disk) if the render is deleted before or while it is written."""
        name = f"result.{fmt}"
        folder = self._dir(render_id)
        if not self.exists(render_id):
            raise RenderGone(render_id)
        folder.mkdir(exist_ok=True)
        atomic_write_bytes(folder / name, data)
        if not self.exists(render_id):  # deleted meanwhile: take the file away again
            remove_tree(folder)
            raise RenderGone(render_id)
        return name

    def result_path(self, record: RenderRecord) -> Path | None:
        if record.result_file is None:
            return None
        path = self._dir(record.id) / record.result_file
        return path if path.is_file() else None

    def delete(self, render_id: str) -> bool:
        """Remove the render's record, index entry, links and files; False if it did
        not exist."""
        if not is_valid_id("render", render_id):
            return False
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM render_index WHERE render_id = ?", (render_id,))
            conn.execute("DELETE FROM render_identities WHERE render_id = ?", (render_id,))
            conn.execute(
                "UPDATE provenance_keys SET render_id = NULL WHERE render_id = ?", (render_id,)
            )
            found = conn.execute("DELETE FROM renders WHERE id = ?", (render_id,)).rowcount > 0
        removed = remove_tree(self._dir(render_id))
        return found or removed

    def iter_records(
        self, statuses: tuple[RenderStatus, ...] | None = None
    ) -> Iterator[RenderRecord]:
        """Every readable record (of the given statuses), unreadable ones skipped."""
        sql, params = "SELECT id, record FROM renders", tuple[str, ...]()
        if statuses:
            sql += f" WHERE status IN ({', '.join('?' for _ in statuses)})"
            params = tuple(statuses)
        for row in self._db.execute(sql + " ORDER BY id", params).fetchall():
            try:
                yield RenderRecord.model_validate_json(row["record"])
            except ValidationError:
                log.warning("skipping unreadable render record %s", row["id"])

    def ids(self) -> list[str]:
        return [r["id"] for r in self._db.execute("SELECT id FROM renders ORDER BY id")]

    def owned_by(self, device_id: str) -> list[str]:
        rows = self._db.execute("SELECT id FROM renders WHERE device_id = ?", (device_id,))
        return [r["id"] for r in rows]

    # -- identical-request index ---------------------------------------------------------
    @contextlib.contextmanager
    def submit_lock(self) -> Iterator[None]:
        """A write transaction held while a submission looks up the index and adds to
        it, so identical requests racing in any thread or worker process create one
        render (the database admits one writer at a time)."""
        with self._db.transaction():
            yield

    def indexed(self, key: str) -> str | None:
        """The render id stored for this request key, if any."""
        row = self._db.execute(
            "SELECT render_id FROM render_index WHERE request_key = ?", (key,)
        ).fetchone()
        value = row["render_id"] if row is not None else None
        return value if is_valid_id("render", value) else None

    def index(self, key: str, render_id: str) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO render_index (request_key, render_id) VALUES (?, ?)",
            (key, render_id),
        )

    def unindex(self, key: str, render_id: str) -> None:
        """Drop the index entry if it still points at ``render_id``."""
        self._db.execute(
            "DELETE FROM render_index WHERE request_key = ? AND render_id = ?", (key, render_id)
        )


def _iso(value: datetime) -> str:
    return value.isoformat()
