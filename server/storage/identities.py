"""Identity persistence: JSON metadata plus numpy arrays in an ``.npz`` (never pickle).

An identity directory is built under a hidden staging name and renamed into place, so
it appears complete or not at all; deletion renames it away before removing it.
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
    atomic_write_json,
    fsync_dir,
    scratch_dir_name,
)
from server.storage.errors import NotFound
from server.storage.ids import is_valid_id
from server.storage.layout import DataLayout
from server.types import Box, IdentityData, SelfieReport

_META = "identity.json"
_ARRAYS = "arrays.npz"
_RENDERS = "renders"
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
    """Save, load and delete identities under ``layout.identities``."""

    def __init__(self, layout: DataLayout) -> None:
        self._layout = layout

    def _dir(self, identity_id: str) -> Path:
        if not is_valid_id("identity", identity_id):
            raise _not_found(identity_id)
        return self._layout.identity_dir(identity_id)

    def exists(self, identity_id: str) -> bool:
        return is_valid_id("identity", identity_id) and (self._dir(identity_id) / _META).is_file()

    def save(self, identity_id: str, data: IdentityData, created_at: str) -> dict[str, Any]:
        """Store a new identity; returns its public metadata."""
        meta = {
            "id": identity_id,
            "created_at": created_at,
            "selfies": to_jsonable(data.selfies),
            "quality": to_jsonable(data.quality),
        }
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
            (staging / _RENDERS).mkdir()
            atomic_write_bytes(staging / _ARRAYS, buf.getvalue())
            atomic_write_json(staging / _META, meta)
            os.rename(staging, final)
        except BaseException:  # disk full, read-only...: leave nothing behind
            shutil.rmtree(staging, ignore_errors=True)
            raise
        fsync_dir(final.parent)
        return meta

    def meta(self, identity_id: str) -> dict[str, Any]:
        """Public metadata: id, created_at, selfies, quality."""
        try:
            result: dict[str, Any] = json.loads((self._dir(identity_id) / _META).read_bytes())
        except FileNotFoundError:
            raise _not_found(identity_id) from None
        return result

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
        ``info`` as ``quality["embedding"]``; returns the new metadata. Each file is
        replaced atomically (arrays first: an interrupted update leaves an embedding
        whose ``info`` does not match, which is simply computed again)."""
        folder = self._dir(identity_id)
        meta = self.meta(identity_id)
        try:
            with np.load(folder / _ARRAYS, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
            arrays["embedding"] = np.asarray(embedding, np.float32)
            buf = io.BytesIO()
            np.savez(buf, **arrays)
            atomic_write_bytes(folder / _ARRAYS, buf.getvalue())
            meta["quality"] = {**meta.get("quality", {}), "embedding": to_jsonable(info)}
            atomic_write_json(folder / _META, meta)
        except FileNotFoundError:  # deleted meanwhile
            raise _not_found(identity_id) from None
        return meta

    def link_render(self, identity_id: str, render_id: str) -> None:
        """Note that a render uses this identity (so deleting it deletes the render)."""
        marker = self._dir(identity_id) / _RENDERS / render_id
        if not is_valid_id("render", render_id):
            raise ValueError(f"invalid render id {render_id!r}")
        try:
            marker.touch()
        except FileNotFoundError:
            raise _not_found(identity_id) from None

    def delete(self, identity_id: str) -> list[str]:
        """Remove the identity; returns the ids of the renders that used it.

        The directory is renamed away first, so a concurrent ``link_render`` either
        lands before (and is listed here) or fails with NotFound.
        """
        path = self._dir(identity_id)
        trash = path.parent / scratch_dir_name("trash", identity_id)
        try:
            os.rename(path, trash)
        except FileNotFoundError:
            raise _not_found(identity_id) from None
        try:
            renders = sorted(p.name for p in (trash / _RENDERS).iterdir())
        except FileNotFoundError:
            renders = []
        shutil.rmtree(trash, ignore_errors=True)
        return [r for r in renders if is_valid_id("render", r)]


def _selfie(raw: dict[str, Any]) -> SelfieReport:
    fields = dict(raw)
    fields["face_box"] = Box(**fields["face_box"])
    return SelfieReport(**fields)
