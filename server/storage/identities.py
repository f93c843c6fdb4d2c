"""Identity persistence: a metadata row in the records database plus numpy arrays in
an ``.npz`` file (never pickle).

An identity directory is built under a hidden staging name and renamed into place, so
it appears complete or not at all; the row is written after it, and deleted before
the directory is removed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from server.storage.atomic import (
    atomic_write_bytes,
    fsync_dir,
    remove_tree,
    scratch_dir_name,
)
from server.storage.db import Database
from server.storage.errors import NotFound
from server.storage.ids import is_valid_id
from server.storage.layout import DataLayout
from server.types import Box, IdentityData, SelfieReport

_ARRAYS = "arrays.npz"
_ARRAY_FIELDS = ("texture", "landmarks", "descriptors", "descriptor")


# Motion renders animate the chosen selfie's head-and-shoulders portrait (BGR uint8,
# <= 512 px) and need its 68 landmarks; identities made before they were kept lack both.
PORTRAIT, PORTRAIT_LANDMARKS = "portrait", "portrait_landmarks"


def _portrait_arrays(data: IdentityData) -> dict[str, Any]:
    if data.portrait is None or data.portrait_landmarks is None:
        return {}
    return {PORTRAIT: data.portrait, PORTRAIT_LANDMARKS: data.portrait_landmarks}


def to_jsonable(value: Any) -> Any:
    """Plain JSON types from dataclasses, numpy scalars/arrays, tuples and mappings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _not_found(identity_id: str) -> NotFound:
    return NotFound(f"identity {identity_id!r} not found", "identity_not_found")


class IdentityStore:
    """Identities: metadata rows in the records database, arrays in
    ``layout.identities/<id>/arrays.npz``; which renders use an identity is a row too."""

    def __init__(self, layout: DataLayout, db: Database | None = None) -> None:
        self._layout = layout
        self._db = db or Database.in_dir(layout.root)

    def _dir(self, identity_id: str) -> Path:
        if not is_valid_id("identity", identity_id):
            raise _not_found(identity_id)
        return self._layout.identity_dir(identity_id)

    def _row(self, identity_id: str) -> Any:
        if not is_valid_id("identity", identity_id):
            return None
        return self._db.execute("SELECT * FROM identities WHERE id = ?", (identity_id,)).fetchone()

    def exists(self, identity_id: str) -> bool:
        return self._row(identity_id) is not None

    def save(
        self,
        identity_id: str,
        data: IdentityData,
        created_at: str,
        record: IdentityRecord | None = None,
    ) -> dict[str, Any]:
        """Store a new identity; returns its public metadata. ``record``: owner,
        expiry and consent (none for identities made by tools)."""
        meta = {
            "id": identity_id,
            "created_at": created_at,
            "selfies": to_jsonable(data.selfies),
            "quality": to_jsonable(data.quality),
        }
        final = self._write_arrays(identity_id, data)
        extra = record or IdentityRecord()
        try:
            self._db.execute(
                "INSERT INTO identities (id, device_id, created_at, expires_at, consent_at,"
                " consent_policy, meta) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (identity_id, extra.device_id, created_at, extra.expires_at, extra.consent_at,
                 extra.consent_policy, json.dumps(meta)),
            )  # fmt: skip
        except BaseException:
            shutil.rmtree(final, ignore_errors=True)
            raise
        return {**meta, "expires_at": extra.expires_at} if extra.expires_at else meta

    def _write_arrays(self, identity_id: str, data: IdentityData) -> Path:
        """The identity's directory with its arrays, appearing complete or not at all."""
        arrays = {name: getattr(data, name) for name in _ARRAY_FIELDS}
        if data.embedding is not None:
            arrays["embedding"] = data.embedding
        arrays.update(_portrait_arrays(data))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        final = self._dir(identity_id)
        staging = final.parent / scratch_dir_name("staging", identity_id)
        self._layout.ensure()  # a data dir unwritable at start-up may be writable now
        staging.mkdir()
        try:
            atomic_write_bytes(staging / _ARRAYS, buf.getvalue())
            os.rename(staging, final)
        except BaseException:  # disk full, read-only...: leave nothing behind
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(final.parent)
        return final

    def meta(self, identity_id: str) -> dict[str, Any]:
        """Public metadata: id, created_at, selfies, quality (and expires_at if set)."""
        row = self._row(identity_id)
        if row is None:
            raise _not_found(identity_id)
        result: dict[str, Any] = json.loads(row["meta"])
        if row["expires_at"]:
            result["expires_at"] = row["expires_at"]
        return result

    def owner(self, identity_id: str) -> str | None:
        """The device that made the identity (None for tool-made ones); NotFound if gone."""
        row = self._row(identity_id)
        if row is None:
            raise _not_found(identity_id)
        owner: str | None = row["device_id"]
        return owner

    def load(self, identity_id: str) -> IdentityData:
        """Everything a render needs; NotFound if the identity is gone."""
        meta = self.meta(identity_id)
        try:
            with np.load(self._dir(identity_id) / _ARRAYS, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except FileNotFoundError:
            raise _not_found(identity_id) from None
        return IdentityData(
            texture=arrays["texture"],
            landmarks=arrays["landmarks"],
            descriptors=arrays["descriptors"],
            descriptor=arrays["descriptor"],
            selfies=[_selfie(s) for s in meta["selfies"]],
            quality=meta["quality"],
            embedding=arrays.get("embedding"),
            portrait=arrays.get(PORTRAIT),
            portrait_landmarks=arrays.get(PORTRAIT_LANDMARKS),
        )

    def has_portrait(self, identity_id: str) -> bool:
        """Whether the identity keeps a portrait for motion renders (those made before
        portraits were kept do not); False if it is gone."""
        try:
            with np.load(self._dir(identity_id) / _ARRAYS, allow_pickle=False) as npz:
                return PORTRAIT in npz.files and PORTRAIT_LANDMARKS in npz.files
        except (FileNotFoundError, ValueError):
            return False

    def save_embedding(
        self, identity_id: str, embedding: np.ndarray, info: dict[str, Any]
    ) -> dict[str, Any]:
        """Add (or replace) the neural embedding of a stored identity, and record
        ``info`` as ``quality["embedding"]``; returns the new metadata (arrays first:
        an interrupted update leaves an embedding whose ``info`` does not match, which
        is simply computed again)."""
        folder = self._dir(identity_id)
        meta = self.meta(identity_id)
        meta.pop("expires_at", None)
        try:
            with np.load(folder / _ARRAYS, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            arrays["embedding"] = np.asarray(embedding, np.float32)
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            atomic_write_bytes(folder / _ARRAYS, buf.getvalue())
        except FileNotFoundError:  # deleted meanwhile
            raise _not_found(identity_id) from None
        meta["quality"] = {**meta.get("quality", {}), "embedding": to_jsonable(info)}
        self._db.execute(
            "UPDATE identities SET meta = ? WHERE id = ?", (json.dumps(meta), identity_id)
        )
        return meta

    def link_render(self, identity_id: str, render_id: str) -> None:
        """Note that a render uses this identity (so deleting it deletes the render)."""
        if not is_valid_id("render", render_id):
            raise ValueError(f"invalid render id {render_id!r}")
        with self._db.transaction() as conn:
            if self._row(identity_id) is None:
                raise _not_found(identity_id)
            conn.execute(
                "INSERT OR IGNORE INTO render_identities (render_id, identity_id) VALUES (?, ?)",
                (render_id, identity_id),
            )

    def delete(self, identity_id: str) -> list[str]:
        """Remove the identity; returns the ids of the renders that used it.

        One transaction reads the links and deletes the row, so a concurrent
        ``link_render`` either lands before (and is listed here) or fails with NotFound.
        """
        with self._db.transaction() as conn:
            if self._row(identity_id) is None:
                raise _not_found(identity_id)
            rows = conn.execute(
                "SELECT render_id FROM render_identities WHERE identity_id = ?", (identity_id,)
            ).fetchall()
            conn.execute("DELETE FROM render_identities WHERE identity_id = ?", (identity_id,))
            conn.execute("DELETE FROM identities WHERE id = ?", (identity_id,))
        remove_tree(self._dir(identity_id))
        return sorted(r["render_id"] for r in rows if is_valid_id("render", r["render_id"]))

    def compact(self) -> None:
        """Leave no bytes of erased rows in the database files (see Database.compact)."""
        self._db.compact()

    def ids(self) -> list[str]:
        """Every stored identity id."""
        return [r["id"] for r in self._db.execute("SELECT id FROM identities ORDER BY id")]

    def owned_by(self, device_id: str) -> list[str]:
        rows = self._db.execute("SELECT id FROM identities WHERE device_id = ?", (device_id,))
        return [r["id"] for r in rows]

    def expired(self, now: str) -> list[str]:
        """Ids of identities whose ``expires_at`` (ISO UTC) is at or before ``now``."""
        rows = self._db.execute(
            "SELECT id FROM identities WHERE expires_at IS NOT NULL AND expires_at <= ?", (now,)
        )
        return [r["id"] for r in rows]


@dataclasses.dataclass(frozen=True)
class IdentityRecord:
    """Who owns an identity, when it expires, and the consent given for it."""

    device_id: str | None = None
    expires_at: str | None = None
    consent_at: str | None = None
    consent_policy: str | None = None


def _selfie(raw: dict[str, Any]) -> SelfieReport:
    fields = dict(raw)
    fields["face_box"] = Box(**fields["face_box"])
    return SelfieReport(**fields)
