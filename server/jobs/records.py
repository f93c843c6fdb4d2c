"""Render records: the result store every worker process reads and the runner writes.

One JSON file per render (``renders/<id>/record.json``) plus the result file beside
it, all written atomically. A broker-backed deployment would keep exactly these
records (on disk or in Redis); the queue only carries render ids.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.storage.atomic import atomic_write_bytes, atomic_write_json, remove_tree
from server.storage.errors import NotFound
from server.storage.ids import is_valid_id
from server.storage.layout import DataLayout
from server.storage.locks import file_lock
from server.types import OutputFormat

log = logging.getLogger(__name__)

RenderStatus = Literal["queued", "running", "done", "failed"]
ACTIVE: tuple[RenderStatus, ...] = ("queued", "running")
_RECORD = "record.json"
_SUBMIT_LOCK = ".render-submit.lock"


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
    """Records, results and the identical-request index under the data dir."""

    def __init__(self, layout: DataLayout) -> None:
        self._layout = layout

    def _dir(self, render_id: str) -> Path:
        if not is_valid_id("render", render_id):
            raise NotFound(f"render {render_id!r} not found", "render_not_found")
        return self._layout.render_dir(render_id)

    def create(self, record: RenderRecord) -> None:
        path = self._dir(record.id)
        path.mkdir()
        atomic_write_json(path / _RECORD, record.model_dump(mode="json"))

    def get(self, render_id: str) -> RenderRecord:
        """The record, or NotFound (also for malformed ids)."""
        try:
            raw = (self._dir(render_id) / _RECORD).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"render {render_id!r} not found", "render_not_found") from None
        return RenderRecord.model_validate_json(raw)

    def exists(self, render_id: str) -> bool:
        return is_valid_id("render", render_id) and (self._dir(render_id) / _RECORD).is_file()

    def save(self, record: RenderRecord) -> None:
        """Overwrite an existing record; RenderGone if the render was deleted."""
        try:
            atomic_write_json(self._dir(record.id) / _RECORD, record.model_dump(mode="json"))
        except FileNotFoundError:
            raise RenderGone(record.id) from None

    def write_result(self, render_id: str, fmt: OutputFormat, data: bytes) -> str:
        """Store the output atomically; returns its file name."""
        name = f"result.{fmt}"
        try:
            atomic_write_bytes(self._dir(render_id) / name, data)
        except FileNotFoundError:
            raise RenderGone(render_id) from None
        return name

    def result_path(self, record: RenderRecord) -> Path | None:
        if record.result_file is None:
            return None
        path = self._dir(record.id) / record.result_file
        return path if path.is_file() else None

    def delete(self, render_id: str) -> bool:
        """Remove the render's record and files; False if it did not exist."""
        if not is_valid_id("render", render_id):
            return False
        return remove_tree(self._dir(render_id))

    def iter_records(self) -> Iterator[RenderRecord]:
        """Every readable record (hidden scratch dirs and unreadable files skipped)."""
        root = self._layout.renders
        if not root.is_dir():
            return
        for path in sorted(root.iterdir()):
            if not is_valid_id("render", path.name):
                continue
            try:
                yield RenderRecord.model_validate_json((path / _RECORD).read_bytes())
            except (OSError, ValidationError) as exc:
                log.warning("skipping unreadable render record %s: %s", path, exc)

    # -- identical-request index ---------------------------------------------------------
    def submit_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held while a submission looks up the index and adds to it, so identical
        requests racing in any thread or worker process create one render."""
        return file_lock(self._layout.root / _SUBMIT_LOCK)

    def indexed(self, key: str) -> str | None:
        """The render id last stored for this request key, if any."""
        try:
            value = json.loads(self._layout.index_file(key).read_bytes()).get("render_id")
        except (OSError, ValueError, AttributeError):
            return None
        return value if is_valid_id("render", value) else None

    def index(self, key: str, render_id: str) -> None:
        atomic_write_json(self._layout.index_file(key), {"render_id": render_id})

    def unindex(self, key: str, render_id: str) -> None:
        """Drop the index entry if it still points at ``render_id``."""
        if self.indexed(key) == render_id:
            self._layout.index_file(key).unlink(missing_ok=True)
