"""GIF output that re-encodes only what changed, against the template's own colours.

Quantising whole frames again would change every background pixel a little (and make
it flicker); a render only replaced faces. So each frame is written as a delta over
what the viewer already shows: pixels equal to the previous output frame are left
transparent (bit-stable), changed template pixels keep their exact colours, and face
pixels use one palette shared by all frames (fitted once per render), so a face that
does not move does not flicker either. Frame count, per-frame delays and the loop
count are kept exactly; Pillow's own writer merges identical frames, so the container
is written here and Pillow only does the LZW coding of each frame.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import GifImagePlugin, Image
from scipy.spatial import cKDTree

from server.types import Frame

TRANSPARENT = 255
FACE_COLOURS = 80  # palette entries shared by the face pixels of every frame
# Above this many distinct colours (a frame that never was a GIF) merging exactly would
# cost O(n^2); median cut takes over.
MAX_EXACT_COLOURS = 1024
PALETTE_SAMPLES = 1000  # face pixels per frame the shared palette is fitted on
# Pixels a frame's background colours are fitted on when they are too many to keep
# exactly: median cut costs ~2 us a pixel, and a subsample finds the same colours.
FIT_SAMPLES = 16384


@dataclass(frozen=True)
class FrameDelta:
    """One frame's GIF data: its rectangle, palette (up to 255 colours + transparency)
    and index image."""

    left: int
    top: int
    indices: NDArray[np.uint8]
    palette: NDArray[np.uint8]  # (256, 3) RGB
    # The background colours when they were fitted (median cut) rather than kept
    # exactly: a slightly changed copy of the frame can be mapped to them again.
    fitted: NDArray[np.uint8] | None = None


def face_palette(
    frames: Sequence[Frame], masks: Sequence[NDArray[np.bool_] | None]
) -> NDArray[np.uint8]:
    """One RGB palette for the changed (face) pixels of all frames (median cut)."""
    samples = []
    for f, m in zip(frames, masks, strict=True):
        where = np.flatnonzero(m) if m is not None else np.zeros(0, np.int64)
        if len(where):
            # An even subsample, without building a full boolean-indexed copy first.
            samples.append(f.reshape(-1, 3)[where[:: max(1, len(where) // PALETTE_SAMPLES)]])
    if not samples:
        return np.zeros((1, 3), np.uint8)
    px = np.concatenate(samples)[:, ::-1]  # BGR -> RGB
    img = Image.fromarray(np.ascontiguousarray(px.reshape(1, -1, 3)), "RGB")
    q = img.quantize(FACE_COLOURS, Image.Quantize.MEDIANCUT)
    # Median cut may leave unused entries anywhere in its palette: keep the used ones.
    used = np.unique(np.asarray(q))
    pal = np.asarray(q.getpalette() or [], np.uint8).reshape(-1, 3)
    return pal[used]


def pack(frame: Frame) -> NDArray[np.uint32]:
    """BGR frame as one 0xRRGGBB integer per pixel: compares and sorts 3x cheaper."""
    # B, G, R, 255 read as a little-endian integer is 0xFFRRGGBB (10x cheaper than
    # widening and shifting each channel)
    bgra = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_BGR2BGRA)
    return np.bitwise_and(bgra.view("<u4")[:, :, 0], 0xFFFFFF).astype(np.uint32, copy=False)


def encode_delta(
    frame: NDArray[np.uint32],
    previous: NDArray[np.uint32] | None,
    template: NDArray[np.uint32],
    faces: NDArray[np.uint8],
    lut: NDArray[np.uint8] | None = None,
    fitted: NDArray[np.uint8] | None = None,
) -> FrameDelta:
    """The GIF data of a packed output ``frame`` (see :func:`pack`) given the previous
    output frame (None for the first), the template frame it was made from (to tell
    face pixels from template pixels) and the shared face palette; ``fitted``: the
    background colours to map to instead of fitting new ones, where fitting is due."""
    diff = np.ones(frame.shape, bool) if previous is None else frame != previous
    rows, cols = np.flatnonzero(diff.any(1)), np.flatnonzero(diff.any(0))
    if len(rows) == 0:  # identical frame: one transparent pixel keeps it a frame of its own
        return FrameDelta(0, 0, np.full((1, 1), TRANSPARENT, np.uint8), _pad(faces[:1]))
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    crop, changed = frame[box], diff[box]
    is_face = changed & (crop != template[box])
    is_back = changed & ~is_face
    indices = np.full(changed.shape, TRANSPARENT, np.uint8)
    n_face = len(faces) if is_face.any() else 0
    back_colours, back_idx, back_fitted = _exact_colours(crop[is_back], 255 - n_face, fitted)
    indices[is_back] = back_idx
    if n_face:
        face_px = crop[is_face]
        nearest = lut[lut_key(face_px)] if lut is not None else _nearest(_unpack(face_px), faces)
        indices[is_face] = nearest + len(back_colours)
    palette = np.concatenate([back_colours, faces[:n_face]])
    return FrameDelta(int(cols[0]), int(rows[0]), indices, _pad(palette), back_fitted)


def _unpack(packed: NDArray[np.uint32]) -> NDArray[np.uint8]:
    """0xRRGGBB integers to RGB triples."""
    return np.stack([(packed >> 16) & 255, (packed >> 8) & 255, packed & 255], -1).astype(np.uint8)


def _exact_colours(
    packed: NDArray[np.uint32], limit: int, fitted: NDArray[np.uint8] | None = None
) -> tuple[NDArray[np.uint8], NDArray[np.uint8], NDArray[np.uint8] | None]:
    """Distinct colours of the pixels (RGB), each pixel's index and, when the colours
    are more than ``limit``, the colours they were mapped to if fitted: ``fitted`` when
    given, else a median cut where they are too many to merge (photographic content);
    otherwise the rarest are merged into their nearest kept one."""
    if len(packed) == 0:
        return np.zeros((0, 3), np.uint8), np.zeros(0, np.uint8), None
    # np.unique(return_inverse=True) is 2-3x slower than sorting and searching.
    ordered = np.sort(packed)
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    colours = ordered[starts]
    counts = np.diff(np.append(starts, len(ordered)))
    inverse = np.searchsorted(colours, packed)
    rgb = _unpack(colours)
    if len(colours) <= limit:
        return rgb, inverse.astype(np.uint8), None
    if fitted is not None and 0 < len(fitted) <= limit:  # the colours fitted before
        return fitted, _nearest_fitted(rgb, fitted)[inverse], fitted
    if len(colours) > MAX_EXACT_COLOURS:  # photographic content: quantise it instead
        pal = _quantise(_unpack(packed[:: max(1, len(packed) // FIT_SAMPLES)]), limit)
        return pal, _nearest_fitted(rgb, pal)[inverse], pal
    remap = _merge_colours(rgb.astype(np.int32), counts, limit)
    kept = np.unique(remap)
    slot = np.zeros(len(colours), np.int64)
    slot[kept] = np.arange(len(kept))
    return rgb[kept], slot[remap[inverse]].astype(np.uint8), None


def _nearest_fitted(rgb: NDArray[np.uint8], fitted: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Index of the nearest of the ``fitted`` colours for each colour (k-d tree: 4x
    cheaper than fitting a median cut again)."""
    _, nearest = cKDTree(fitted.astype(np.float32)).query(rgb.astype(np.float32))
    return np.asarray(nearest, np.uint8)


def _quantise(rgb: NDArray[np.uint8], limit: int) -> NDArray[np.uint8]:
    """Median-cut palette of at most ``limit`` colours for these pixels."""
    img = Image.fromarray(np.ascontiguousarray(rgb.reshape(1, -1, 3)), "RGB")
    q = img.quantize(max(1, limit), Image.Quantize.MEDIANCUT)
    used = np.unique(np.asarray(q))
    pal = np.asarray(q.getpalette() or [], np.uint8).reshape(-1, 3)
    return np.asarray(pal[used], np.uint8)


def _merge_colours(
    rgb: NDArray[np.int32], counts: NDArray[np.int64], limit: int
) -> NDArray[np.int64]:
    """For each colour, the colour it is shown as once only ``limit`` remain.

    Greedy, in vectorised rounds: each round drops up to half of the colours still in
    excess, cheapest first, where a colour's cost is its pixels x its squared distance
    to its nearest neighbour, and folds its pixels into that neighbour. So near-twins
    merge while a rare but distinct colour (a highlight) survives; recomputing the
    costs between rounds keeps a merged colour's weight in mind.
    """
    c = rgb.astype(np.float64)
    parent = np.arange(len(rgb))
    alive = np.ones(len(rgb), bool)
    weight = counts.astype(np.float64)
    while alive.sum() > max(limit, 1):
        live = np.flatnonzero(alive)
        # Nearest live neighbour of each live colour: a k-d tree per round costs
        # O(n log n), where the full distance matrix cost O(n^2) in time and memory.
        dist, near = cKDTree(c[live]).query(c[live], k=2)
        nb = near[:, 1]  # as a position in ``live`` (near[:, 0] is the colour itself)
        cost = weight[live] * dist[:, 1] ** 2
        quota = max(1, (len(live) - limit + 1) // 2)
        drop = np.zeros(len(live), bool)
        drop[np.argsort(cost, kind="stable")[:quota]] = True
        # Two colours that are each other's nearest must not both go (a cycle): the
        # costlier one stays this round.
        pos = np.arange(len(live))
        mutual = drop & drop[nb] & (nb[nb] == pos)
        drop &= ~(mutual & ((cost > cost[nb]) | ((cost == cost[nb]) & (pos > nb))))
        # Longer cycles need equal distances (ties, which the tree breaks in any order):
        # a colour may fold into another dropped one only up the positions, so every
        # chain ends at a colour that stays.
        drop &= ~(drop[nb] & (nb < pos))
        gone, into = live[drop], live[nb[drop]]
        np.add.at(weight, into, weight[gone])
        parent[gone] = into
        alive[gone] = False
    while True:  # follow merged-into chains to the colour that stayed
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            return parent
        parent = nxt


def palette_lut(palette_rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """For each 5-6-5-bit RGB cell (65536), the index of the palette colour nearest to
    the cell's centre: built once per render (~20 ms), it maps face pixels to the shared
    palette 50x faster than Pillow's per-call palette search."""
    r = np.arange(32, dtype=np.float32) * 8 + 4
    g = np.arange(64, dtype=np.float32) * 4 + 2
    cells = np.stack(np.meshgrid(r, g, r, indexing="ij"), -1).reshape(-1, 3)
    pal = palette_rgb.astype(np.float32)
    # argmin |c - p|^2 = argmin (|p|^2 - 2 c.p): the |c|^2 term is the same for all p.
    d = cells @ (-2.0 * pal.T)
    d += (pal**2).sum(1)[None, :]
    return np.asarray(d.argmin(1), np.uint8)


def lut_key(packed: NDArray[np.uint32]) -> NDArray[np.uint32]:
    """5-6-5-bit cell of 0xRRGGBB pixels (see :func:`palette_lut`)."""
    return np.asarray(
        ((packed >> 19) & 31) << 11 | ((packed >> 10) & 63) << 5 | ((packed >> 3) & 31), np.uint32
    )


def _nearest(rgb: NDArray[np.uint8], palette_rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Index of the nearest palette colour for each pixel (no dithering: dithering
    noise crawls from frame to frame)."""
    padded = np.empty((256, 3), np.uint8)
    padded[:] = palette_rgb[0]  # spare entries repeat entry 0, so a pick of one is right
    padded[: len(palette_rgb)] = palette_rgb
    pal_img = Image.new("P", (1, 1))
    pal_img.putpalette(padded.tobytes())
    img = Image.fromarray(np.ascontiguousarray(rgb.reshape(1, -1, 3)), "RGB")
    q = np.asarray(img.quantize(palette=pal_img, dither=Image.Dither.NONE)).ravel()
    return np.where(q < len(palette_rgb), q, 0).astype(np.uint8)


def _pad(palette: NDArray[np.uint8]) -> NDArray[np.uint8]:
    out = np.zeros((256, 3), np.uint8)
    out[: len(palette)] = palette[:256]
    return out


def composite(deltas: Sequence[FrameDelta], size: tuple[int, int]) -> list[Frame]:
    """The frames (BGR) a viewer shows for these deltas, each drawn over the one before
    ('do not dispose', index 255 transparent): what decoding the written GIF gives,
    without LZW coding and decoding it."""
    w, h = size
    shown = np.zeros((h, w), np.uint32)  # packed, see :func:`pack`
    out = []
    for d in deltas:
        shown = shown.copy()
        rows, cols = d.indices.shape
        region = shown[d.top : d.top + rows, d.left : d.left + cols]
        colours = pack(d.palette[None, :, ::-1])[0]
        np.copyto(region, np.take(colours, d.indices), where=d.indices != TRANSPARENT)
        # 0xRRGGBB little-endian is the bytes B, G, R, 0
        bgr0 = shown.astype("<u4", copy=False).view(np.uint8).reshape(h, w, 4)
        out.append(np.asarray(cv2.cvtColor(bgr0, cv2.COLOR_BGRA2BGR), np.uint8))
    return out


def frame_bytes(delta: FrameDelta, delay_ms: int) -> bytes:
    """One frame's GIF blocks: graphic control ('do not dispose', index 255
    transparent, the delay), image descriptor with its colour table, LZW data."""
    img = Image.fromarray(delta.indices, "P")
    img.putpalette(delta.palette.tobytes())
    chunks = GifImagePlugin.getdata(
        img,
        (delta.left, delta.top),
        duration=int(delay_ms),
        disposal=1,
        transparency=TRANSPARENT,
        include_color_table=True,
    )
    return b"".join(bytes(c) for c in chunks)


def write_gif(frames: Sequence[bytes], size: tuple[int, int], loop: int) -> bytes:
    """Assemble a GIF89a: header, NETSCAPE loop block and the frames' blocks (see
    :func:`frame_bytes`, which can run in parallel)."""
    w, h = size
    out = io.BytesIO()
    out.write(b"GIF89a" + struct.pack("<HHBBB", w, h, 0, 0, 0))
    if loop != 1:  # no loop block: plays once (how templates without one are read)
        out.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00")
    for frame in frames:
        out.write(frame)
    out.write(b";")
    return out.getvalue()
