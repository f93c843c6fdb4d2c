"""Degenerate selfies are refused from the header (or the small decoded frame) with a
clear code, and big ones are decoded at reduced size within a bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile, JpegImagePlugin

from server.vision.image_io import ImageError, _reduce_in_bands, decode_upload
from server.vision.selfie_input import SelfieLimits, decode_selfie
from tests.conftest import encode_image

LIMITS = SelfieLimits(max_bytes=10 * 1024 * 1024, max_pixels=40_000_000, max_side=2048)


def pil_bytes(image: Image.Image, fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **save)
    return buf.getvalue()


def textured(width: int, height: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def code_of(data: bytes, limits: SelfieLimits = LIMITS) -> str:
    with pytest.raises(ImageError) as info:
        decode_selfie(data, limits)
    return info.value.code


@pytest.mark.parametrize(
    ("width", "height", "code"),
    [
        (1, 1, "too_small"),
        (2, 2, "too_small"),
        (1, 10000, "too_small"),
        (3000, 6, "too_small"),
        (31, 400, "too_small"),
        (4000, 400, "extreme_aspect"),
        (40, 400, "extreme_aspect"),
    ],
)
def test_degenerate_shapes_are_refused_from_the_header(width: int, height: int, code: str) -> None:
    data = encode_image(textured(width, height), "PNG")
    assert code_of(data) == code


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_one_flat_colour_is_blank(fmt: str) -> None:
    flat = np.full((200, 160, 3), (30, 140, 220), np.uint8)
    assert code_of(encode_image(flat, fmt)) == "blank_image"


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animations_are_not_selfies(fmt: str) -> None:
    frames = [Image.fromarray(textured(64, 64, seed)) for seed in range(3)]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    data = pil_bytes(frames[0], fmt, save_all=True, append_images=frames[1:], **extra)
    assert code_of(data) == "animated_image"


def test_unusual_modes_decode_to_three_channels() -> None:
    ramp = np.tile(np.linspace(0, 65535, 96, dtype=np.uint16), (80, 1))
    cases = [
        pil_bytes(Image.fromarray(ramp), "PNG"),  # 16-bit greyscale
        pil_bytes(Image.fromarray(textured(96, 80)).convert("CMYK"), "JPEG"),
        _palette_with_transparency(),
    ]
    for data in cases:
        frame = decode_selfie(data, LIMITS)
        assert frame.shape == (80, 96, 3) and frame.dtype == np.uint8


def _palette_with_transparency() -> bytes:
    rgba = np.dstack([textured(96, 80), np.full((80, 96), 255, np.uint8)])
    rgba[:10, :, 3] = 0
    image = Image.fromarray(rgba, "RGBA").convert("P")
    image.info["transparency"] = 0
    return pil_bytes(image, "PNG", transparency=0)


def test_big_images_are_decoded_no_larger_than_max_side() -> None:
    limits = SelfieLimits(LIMITS.max_bytes, LIMITS.max_pixels, max_side=256)
    for fmt in ("PNG", "JPEG", "WEBP"):
        frame = decode_selfie(encode_image(textured(1200, 900), fmt), limits)
        assert frame.shape == (192, 256, 3), fmt


def test_big_jpegs_use_a_reduced_dct_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int] | None] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: str | None, size: object) -> object:
        calls.append(size)  # type: ignore[arg-type]
        result = original(self, mode, size)  # type: ignore[arg-type]
        calls.append(self.size)
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    limits = SelfieLimits(LIMITS.max_bytes, LIMITS.max_pixels, max_side=300)
    frame = decode_selfie(encode_image(textured(2400, 1800), "JPEG"), limits)
    assert frame.shape == (225, 300, 3)
    assert calls == [(300, 225), (300, 225)]  # decoded at 1/8 scale, not 2400x1800


def test_decode_buffer_budget_is_checked_before_decoding() -> None:
    data = encode_image(textured(400, 300), "PNG")
    tight = SelfieLimits(LIMITS.max_bytes, LIMITS.max_pixels, 2048, max_decode_bytes=400 * 299)
    assert code_of(data, tight) == "too_large"


def test_bomb_warning_is_an_error_whatever_the_filters(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    data = encode_image(textured(150, 150), "PNG")  # between the warning and error sizes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert code_of(data) == "too_large"
        with pytest.raises(ImageError):
            decode_upload(data, LIMITS.max_bytes, LIMITS.max_pixels)


_RSS_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from server.vision.selfie_input import SelfieLimits, decode_selfie
    data = Path(sys.argv[1]).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        decode_selfie(data, SelfieLimits(10 << 20, 40_000_000, 2048))
        code = "ok"
    except Exception as exc:
        code = getattr(exc, "code", type(exc).__name__)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"before_kb": before, "peak_kb": peak, "code": code}))
    """
)


def peak_rss(path: Path) -> dict[str, Any]:
    """Decode the selfie at ``path`` in a fresh process: its RSS before and at the peak."""
    out = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(path)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report: dict[str, Any] = json.loads(out.stdout)
    report["growth_mb"] = (report["peak_kb"] - report["before_kb"]) / 1024
    return report


def worst_case_png(path: Path) -> None:
    """Just under the 40 MP cap, RGBA (4 bytes a pixel decoded), transparent border:
    160 KB as PNG, 160 MB decoded. The costliest selfie the limits let through."""
    side = 6324
    image = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    image.paste((200, 120, 40, 255), (100, 100, side - 100, side // 2))
    image.paste((20, 120, 240, 255), (100, side // 2, side - 100, side - 100))
    image.save(path, "PNG")


@pytest.mark.parametrize(
    ("name", "code", "budget_mb"),
    [("flat.png", "blank_image", 220), ("flat.jpg", "blank_image", 100), ("worst.png", "ok", 260)],
)
def test_big_selfies_decode_in_bounded_memory(
    tmp_path: Path, name: str, code: str, budget_mb: float
) -> None:
    path = tmp_path / name
    if name == "worst.png":
        worst_case_png(path)
    else:  # 36 MP of one colour: 120 KB as PNG; fully decoded RGB it is 144 MB
        Image.new("RGB", (6000, 6000), (200, 120, 40)).save(path)
    report = peak_rss(path)
    assert report["code"] == code
    assert report["growth_mb"] < budget_mb, report


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P"])
def test_band_reduction_equals_a_whole_image_reduction(mode: str) -> None:
    rgba = np.dstack([textured(301, 700), textured(301, 700, seed=1)[:, :, 0]])
    image = Image.fromarray(rgba, "RGBA").convert(mode)
    whole = image.convert("RGB" if mode == "P" else mode).reduce(3)
    assert np.array_equal(np.asarray(_reduce_in_bands(image, 3)), np.asarray(whole))


def test_a_lossless_file_that_would_inflate_thousandfold_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = pil_bytes(Image.new("L", (6000, 6000), 128), "PNG", optimize=True)
    assert len(data) < 60_000  # the 35 KB 6000x6000 PNG
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("decoded"))
    assert code_of(data) == "too_large"
