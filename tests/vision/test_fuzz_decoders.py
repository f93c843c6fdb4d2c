"""Property-based fuzzing of the upload decoder and the template importer's decoders:
whatever the bytes, the answer is a frame / an animation or the module's own error,
never another exception. Derandomised and bounded to run in a few seconds."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import av
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from server.gif_templates.media import MediaError, read_animation
from server.vision.image_io import ImageError
from server.vision.selfie_input import SelfieLimits, decode_selfie

LIMITS = SelfieLimits(max_bytes=1 << 20, max_pixels=4_000_000, max_side=256)
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _seed(fmt: str, frames: int = 1, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(len(fmt) + frames)
    images = [
        Image.fromarray(rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)).convert(mode)
        for _ in range(frames)
    ]
    buf = io.BytesIO()
    extra = {"save_all": True, "append_images": images[1:]} if frames > 1 else {}
    images[0].save(buf, fmt, **extra)
    return buf.getvalue()


def _mp4_seed() -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(4):
            img = np.full((32, 32, 3), 40 * i, np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode())
    return buf.getvalue()


SELFIE_SEEDS = [_seed("PNG"), _seed("JPEG"), _seed("WEBP"), _seed("PNG", mode="P"),
                _seed("JPEG", mode="CMYK"), _seed("PNG", frames=2)]  # fmt: skip
ANIMATION_SEEDS = [
    _seed("GIF", frames=3), _seed("WEBP", frames=2), _seed("GIF", mode="P"), _mp4_seed()
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes overwritten, a slice cut out or the tail dropped."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(data) - 1))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        start = draw(st.integers(0, len(data)))
        data[start : start + draw(st.integers(0, 64))] = draw(st.binary(max_size=16))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBP", b"GIF89a",
         b"\x00\x00\x00\x18ftypmp42", b"\x1a\x45\xdf\xa3"]  # fmt: skip
raw_with_magic = st.builds(
    lambda magic, tail: magic + tail, st.sampled_from(MAGIC), st.binary(max_size=200)
)


@FUZZ
@given(st.one_of(mutated(SELFIE_SEEDS), raw_with_magic, st.binary(max_size=64)))
def test_selfie_decoder_answers_a_frame_or_an_image_error(data: bytes) -> None:
    try:
        frame = decode_selfie(data, LIMITS)
    except ImageError as exc:
        assert exc.code and exc.message
        return
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    assert min(frame.shape[:2]) >= 32 and max(frame.shape[:2]) <= LIMITS.max_side


@FUZZ
@given(st.one_of(mutated(ANIMATION_SEEDS), raw_with_magic))
def test_animation_decoder_answers_frames_or_a_media_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.bin"
        path.write_bytes(data)
        try:
            anim = read_animation(path, max_seconds=11.0, max_side=480, max_fps=30.0)
        except MediaError:
            return
    assert anim.frames and len(anim.frames) == len(anim.durations_ms)
    assert all(f.dtype == np.uint8 and f.shape[2] == 3 for f in anim.frames)
