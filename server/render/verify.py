"""Was this file made here, and by which render? (POST /v1/verify, without HTTP.)

The upload is sniffed by its magic bytes (GIF, WebP or MP4 only), its frame size and
count are checked from its header before decoding (the importer's limits), frames are
shrunk while decoding, and the watermark evidence over its frames is matched against
every key the service has issued. C2PA credentials and the GIF comment, when still
present, are reported beside it (a re-encoded copy usually lost them; the watermark
is what survives).
"""

from __future__ import annotations

import struct
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from server.gif_templates.media import MediaError, MediaLimitError, read_animation
from server.gif_templates.media_limits import MediaHeader, check_header
from server.render import c2pa_sign
from server.render.provenance import GIF_COMMENT, Provenance, read_gif_comments
from server.types import Frame
from server.vision import watermark
from server.vision.image_io import ImageError

MAX_SIDE = 512  # frames are shrunk to this while decoding (the mark is read at 128 px)
MAX_SECONDS = 30.0
MAX_FRAMES = 240


@dataclass(frozen=True)
class Verdict:
    made_here: bool
    render_id: str | None
    score: float
    threshold: float
    format: str
    frames: int
    labels: dict[str, object] = field(default_factory=dict)


def sniff(data: bytes) -> str | None:
    """'gif', 'webp' or 'mp4' from the first bytes, else None."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp":
        return "mp4"
    return None


class Verifier:
    """``owns(device_id, render_id)`` decides whether a caller may learn which render
    a file comes from: anyone may learn that it was made here, only the render's own
    device which render it is (render ids are the owner's, and may be erased)."""

    def __init__(
        self, provenance: Provenance, max_bytes: int, owns: Callable[[str, str], bool]
    ) -> None:
        self._provenance = provenance
        self._max_bytes = max_bytes
        self._owns = owns

    def verify(self, data: bytes, device_id: str) -> Verdict:
        """Raises ImageError: empty/corrupt (bad_image), over the limits (too_large),
        not a GIF/WebP/MP4 (unsupported_type)."""
        if not data:
            raise ImageError("bad_image", "the file is empty")
        if len(data) > self._max_bytes:
            raise ImageError("too_large", f"over {self._max_bytes} bytes")
        kind = sniff(data)
        if kind is None:
            raise ImageError("unsupported_type", "send a GIF, WebP or MP4 file")
        if kind == "gif":
            _check_gif_screen(data)
        frames = _decode(data, kind)
        keys, ids = self._provenance.known_keys()
        row, score = watermark.best_match(watermark.soft_bits(frames), keys)
        render_id = ids[row] if row is not None else None
        if render_id is not None and not self._owns(device_id, render_id):
            render_id = None
        return Verdict(
            made_here=row is not None,
            render_id=render_id,
            score=round(score, 4),
            threshold=watermark.THRESHOLD,
            format=kind,
            frames=len(frames),
            labels=_labels(data, kind),
        )


def _check_gif_screen(data: bytes) -> None:
    """Refuse a GIF whose logical screen is over the importer's canvas limits from its
    header alone (a few bytes can declare 65535 x 65535)."""
    if len(data) < 10:
        raise ImageError("bad_image", "the GIF is truncated")
    width, height = struct.unpack("<HH", data[6:10])
    if width == 0 or height == 0:
        raise ImageError("bad_image", f"the GIF declares a {width}x{height} screen")
    try:
        check_header(MediaHeader(width, height, 1), "upload", None)
    except MediaLimitError:
        raise ImageError("too_large", f"a {width}x{height} GIF screen is over the limit") from None


def _decode(data: bytes, kind: str) -> list[Frame]:
    with tempfile.TemporaryDirectory(prefix="faceloop-verify-") as tmp:
        path = Path(tmp) / f"upload.{kind}"
        path.write_bytes(data)
        try:
            anim = read_animation(path, max_seconds=MAX_SECONDS, max_side=MAX_SIDE)
        except MediaLimitError:
            raise ImageError("too_large", "the file declares too many pixels") from None
        except MediaError:
            raise ImageError("bad_image", "the file cannot be decoded") from None
    return list(anim.frames[:MAX_FRAMES])


def _labels(data: bytes, kind: str) -> dict[str, object]:
    labels: dict[str, object] = {"c2pa": c2pa_sign.read(data, c2pa_sign.MEDIA_TYPES[kind])}
    if kind == "gif":
        labels["gif_comment"] = GIF_COMMENT in read_gif_comments(data)
    return labels
