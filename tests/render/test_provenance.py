"""Provenance marks on outputs: badge, watermark key index, GIF comment, C2PA
credentials read back with c2pa's Reader."""

from __future__ import annotations

import io
import stat
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from server.render import c2pa_sign
from server.render.encode import encode
from server.render.provenance import (
    GIF_COMMENT,
    Provenance,
    ProvenanceOptions,
    add_gif_comment,
    draw_badge,
    read_gif_comments,
)
from server.types import MEDIA_TYPES, Frame
from server.vision import watermark

RENDER_ID = "rnd_0123456789abcdef01234567"


def clip(n: int = 3) -> list[Frame]:
    rng = np.random.default_rng(0)
    smooth = cv2.resize(rng.uniform(0, 255, (6, 8, 3)).astype(np.float32), (64, 48))
    base = np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


@pytest.fixture
def provenance(tmp_path: Path) -> Provenance:
    return Provenance(ProvenanceOptions(directory=tmp_path / "prov"))


def test_badge_in_the_corner() -> None:
    frame = np.full((120, 160, 3), 200, np.uint8)
    out = draw_badge(frame)
    changed = np.argwhere((out != frame).any(2))
    assert len(changed) > 0
    assert changed[:, 0].min() > 120 // 2 and changed[:, 1].min() > 160 // 2
    values = out[changed[:, 0], changed[:, 1], 0]
    assert (values < 60).any() and (values > 150).any()  # light text on a dark plate


def test_mark_registers_key_and_marks_frames_and_templates_alike(
    provenance: Provenance,
) -> None:
    frames = clip()
    templates = [f.copy() for f in frames]
    templates[1][:10] = 0  # a swapped region differs between output and template
    out, tpl = provenance.mark(RENDER_ID, frames, templates)
    assert np.array_equal(out[0], tpl[0])  # same badge, same residual
    assert not np.array_equal(out[0], frames[0])
    keys, ids = provenance.known_keys()
    assert ids == [RENDER_ID]
    expected = watermark.key_from_bytes(provenance.key_bytes(RENDER_ID))
    assert np.array_equal(keys[0], expected)
    row, _ = watermark.best_match(watermark.soft_bits(out), keys)
    assert row == 0


def test_secret_is_private_and_stable(tmp_path: Path) -> None:
    options = ProvenanceOptions(directory=tmp_path / "prov")
    first = Provenance(options).key_bytes(RENDER_ID)
    assert Provenance(options).key_bytes(RENDER_ID) == first  # a second worker agrees
    assert Provenance(options).key_bytes(RENDER_ID + "x") != first
    mode = (tmp_path / "prov" / "watermark.key").stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_gif_comment_round_trip() -> None:
    data = encode("gif", clip(), clip(), [100] * 3, 0)
    labelled = add_gif_comment(data, GIF_COMMENT)
    assert read_gif_comments(labelled) == [GIF_COMMENT]
    with Image.open(io.BytesIO(labelled)) as im:
        assert im.n_frames == 3
    assert read_gif_comments(b"not a gif") == []


@pytest.mark.parametrize("fmt", ["gif", "mp4", "webp"])
def test_c2pa_credentials_read_back(provenance: Provenance, fmt: str) -> None:
    data = encode(fmt, clip(), clip(), [100] * 3, 0)  # type: ignore[arg-type]
    assert c2pa_sign.read(data, MEDIA_TYPES[fmt]) is None
    signed = provenance.label(data, fmt, RENDER_ID)  # type: ignore[arg-type]
    found = c2pa_sign.read(signed, MEDIA_TYPES[fmt])
    assert found is not None, fmt
    assert found["ai_generated"] is True and found["claim_generator"] == "Faceloop"
    assert found["title"] == f"{RENDER_ID}.{fmt}"
    assert found["validation_state"] == "Valid"
    if fmt == "gif":
        assert read_gif_comments(signed) == [GIF_COMMENT]


def test_c2pa_off_keeps_the_gif_comment(tmp_path: Path) -> None:
    p = Provenance(ProvenanceOptions(directory=tmp_path / "p", c2pa=False))
    data = p.label(encode("gif", clip(), clip(), [100] * 3, 0), "gif", RENDER_ID)
    assert c2pa_sign.read(data, "image/gif") is None
    assert read_gif_comments(data) == [GIF_COMMENT]


def test_generated_chain_is_kept(tmp_path: Path) -> None:
    first = c2pa_sign.load_or_create(tmp_path)
    assert c2pa_sign.load_or_create(tmp_path) == first
    assert stat.S_IMODE((tmp_path / c2pa_sign.KEY_FILE).stat().st_mode) == 0o600
    assert first.chain_pem.count(b"BEGIN CERTIFICATE") == 2


def test_gif_is_measured_and_topped_up_before_it_is_written(
    provenance: Provenance, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A GIF's key survives its palettes: its shown frames are measured (not decoded)
    and quantised again with what the bits lack, and what is written is what was
    measured."""
    from server.render.encode import GifDraft, quantise_gif

    rng = np.random.default_rng(3)
    base = cv2.resize(rng.uniform(0, 255, (8, 8, 3)).astype(np.float32), (192, 160))
    templates = [np.clip(np.roll(base, 3 * i, 1), 0, 255).astype(np.uint8) for i in range(6)]
    frames = [t.copy() for t in templates]
    for f in frames:  # a 'face' the encoder codes with its shared palette
        f[40:120, 50:140] = np.clip(f[40:120, 50:140].astype(int) + 11, 0, 255)
    drafts: list[GifDraft] = []

    def encoder(out: Sequence[Frame], under: Sequence[Frame], _: bool) -> GifDraft:
        drafts.append(quantise_gif(out, under, ([100] * 6, 0)))
        return drafts[-1]

    again = GifDraft.again

    def counted(self: GifDraft, out: Sequence[Frame], under: Sequence[Frame]) -> GifDraft:
        drafts.append(again(self, out, under))
        return drafts[-1]

    monkeypatch.setattr(GifDraft, "again", counted)
    monkeypatch.setattr("server.render.provenance.EMBED_MARGIN", 0.6)  # too weak for GIF
    data = provenance.encode(RENDER_ID, frames, templates, "gif", encoder)
    assert len(drafts) >= 2  # topped up at least once
    key = provenance.key(RENDER_ID)
    assert watermark.shortfall(drafts[0].shown(), key).max() > 0.5 * watermark.STRENGTH
    with Image.open(io.BytesIO(data)) as im:
        assert im.n_frames == 6
        decoded = []
        for i in range(6):
            im.seek(i)
            decoded.append(np.asarray(im.convert("RGB"))[:, :, ::-1])
    for a, b in zip(drafts[-1].shown(), decoded, strict=True):
        np.testing.assert_array_equal(a, b)
    assert read_gif_comments(data) == [GIF_COMMENT]
    keys, _ = provenance.known_keys()
    row, score = watermark.best_match(watermark.soft_bits(decoded), keys)
    assert row == 0 and score >= watermark.THRESHOLD
