"""Identities as the API sees them: create from uploaded selfies (decoded within the
upload limits, consent recorded), read, delete (cascading to their renders), and the
erasure of everything a device made."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from server.jobs.renders import RenderService
from server.settings import Settings
from server.storage.errors import Invalid, NotFound
from server.storage.identities import IdentityRecord, IdentityStore
from server.storage.ids import new_id
from server.types import Frame, IdentityData
from server.vision.image_io import ImageError
from server.vision.selfie_input import SelfieLimits, decode_selfie

IdentityBuilder = Callable[[Sequence[Frame], Any], IdentityData]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


# Selfies are searched at <= 1280 px and the texture is a small fixed-size crop, so
# larger uploads are shrunk while decoding to bound memory per request.
MAX_SELFIE_SIDE = 2048


class SelfieError(ImageError):
    """An :class:`ImageError` for one selfie of an upload, with its position."""

    def __init__(self, error: ImageError, selfie_index: int) -> None:
        super().__init__(error.code, f"selfie {selfie_index}: {error.message}")
        self.selfie_index = selfie_index


class IdentityService:
    """Create, read and delete identities (deleting cascades to their renders)."""

    def __init__(
        self,
        store: IdentityStore,
        renders: RenderService,
        models: Any,
        builder: IdentityBuilder,
        settings: Settings,
        clock: Clock = utc_now,
    ) -> None:
        self._clock = clock
        self._store = store
        self._renders = renders
        self._models = models
        self._builder = builder
        self._settings = settings

    def create(
        self, uploads: Sequence[bytes], device_id: str | None = None, consented: bool = False
    ) -> dict[str, Any]:
        """Decode the selfies, build the identity and store it; returns its metadata.

        Raises SelfieError (bad_image / too_large / unsupported_type), the builder's
        FaceError (no_face, multiple_faces, face_too_small, identity_mismatch,
        selfie_unsuitable) or
        Invalid for a wrong number of selfies.
        """
        if not 1 <= len(uploads) <= self._settings.max_selfies:
            raise Invalid(f"send 1 to {self._settings.max_selfies} selfies", "invalid_selfie_count")
        frames = [self._decode(i, data) for i, data in enumerate(uploads)]
        data = self._builder(frames, self._models)
        now = self._clock()
        expires = now + timedelta(hours=self._settings.retention_hours)
        record = IdentityRecord(
            device_id=device_id,
            expires_at=iso_utc(expires),
            consent_at=iso_utc(now) if consented else None,
            consent_policy=self._settings.consent_policy if consented else None,
        )
        return self._store.save(new_id("identity"), data, iso_utc(now), record)

    def get(self, identity_id: str, device_id: str | None = None) -> dict[str, Any]:
        """The identity's metadata; another device's identity is NotFound."""
        self._check_owner(identity_id, device_id)
        return self._store.meta(identity_id)

    def delete(self, identity_id: str, device_id: str | None = None) -> list[str]:
        """Remove the identity and its renders; returns the deleted render ids."""
        self._check_owner(identity_id, device_id)
        render_ids = self._renders.delete_identity(identity_id)
        self._store.compact()
        return render_ids

    def erase_device(self, device_id: str) -> None:
        """Everything of a device: its identities, their and its renders, its row."""
        for identity_id in self._store.owned_by(device_id):
            with contextlib.suppress(NotFound):  # deleted meanwhile
                self._renders.delete_identity(identity_id)
        self._renders.delete_device(device_id)

    def _check_owner(self, identity_id: str, device_id: str | None) -> None:
        if device_id is not None and self._store.owner(identity_id) != device_id:
            raise NotFound(f"identity {identity_id!r} not found", "identity_not_found")

    def _decode(self, index: int, data: bytes) -> Frame:
        s = self._settings
        limits = SelfieLimits(
            s.max_upload_bytes, s.max_upload_pixels, MAX_SELFIE_SIDE, s.max_decode_bytes
        )
        try:
            return decode_selfie(data, limits)
        except ImageError as exc:
            raise SelfieError(exc, index) from None


def iso_utc(moment: datetime) -> str:
    """``2025-01-01T12:00:00Z``: the timestamps of the API and the records."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
