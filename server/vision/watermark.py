"""Invisible watermark: a 64-bit key spread over mid frequencies of every frame.

Embedding works on a canonical-size resample of the luma (``CANON`` x ``CANON``), so
a copy scaled to any size is read back by resampling it to the same size. Each key
bit owns a fixed random set of DCT coefficients in a mid-frequency ring with a fixed
random sign (chip) per coefficient; a bit's projection is the mean of chip x
coefficient. Embedding is informed: knowing the host, it moves each bit's projection
(over the mean of all frames) to at least ``strength`` on the bit's side, so the
host does not interfere with the bit it carries. One residual is added to the luma of
every frame (a static picture stays static, and any half of the frames carries it).

Detection averages the projections over the frames into a soft bit vector and
compares it with candidate keys by cosine. For a key drawn at random (keys are HMAC
outputs) the cosine of any vector with it has mean 0 and standard deviation
1/sqrt(KEY_BITS), whatever the picture: the false-positive rate follows from the
threshold and the number of candidate keys, not from the content.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import cv2
import numpy as np
from numpy.typing import NDArray

from server.types import Frame

CANON = 128
KEY_BITS = 64
RING = (16.0, 56.0)  # DCT radius band (index units; index u is u/2 cycles per frame)
STRENGTH = 4.0  # target projection per bit, in orthonormal DCT units of 0..255 luma
MAX_CORRECTION = 6.0  # bits needing more than this x strength are left to chance
FRAME_CLIP = 2.0  # a frame's projection counts up to this x strength per bit
MAX_FRAMES_SAMPLED = 48  # frames whose mean host the embedding is fitted on
# Cosine at or above which a candidate key counts as found: 6 standard deviations of
# the null (1/8 for 64 bits); per-key false-positive probability below 1e-9.
THRESHOLD = 0.7
_LAYOUT_SEED = 0x5EEDFACE

Key = NDArray[np.int8]  # (KEY_BITS,) of -1 / +1


@lru_cache(maxsize=1)
def _layout() -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.float32]]:
    """(flat coefficient index, bit owning it, chip sign) for the ring's coefficients."""
    u, v = np.meshgrid(np.arange(CANON), np.arange(CANON), indexing="ij")
    radius = np.hypot(u, v)
    flat = np.flatnonzero((radius >= RING[0]) & (radius <= RING[1]))
    rng = np.random.default_rng(_LAYOUT_SEED)
    flat = rng.permutation(flat)
    bits = np.arange(len(flat)) % KEY_BITS
    chips = rng.choice(np.array([-1.0, 1.0], np.float32), len(flat))
    return flat, bits, chips


def key_from_bytes(raw: bytes) -> Key:
    """The first KEY_BITS bits of ``raw`` as -1/+1."""
    if len(raw) * 8 < KEY_BITS:
        raise ValueError(f"a key needs {KEY_BITS // 8} bytes")
    bits = np.unpackbits(np.frombuffer(raw[: KEY_BITS // 8], np.uint8))
    return (bits.astype(np.int8) * 2 - 1).astype(np.int8)


_LUMA = np.array([[0.114, 0.587, 0.299]], np.float32)  # weights of B, G, R


def _luma(frame: Frame) -> NDArray[np.float32]:
    # one float conversion and one weighted sum over the channels (cv2.transform):
    # 2x cheaper than converting and scaling each channel on its own
    return np.asarray(cv2.transform(frame.astype(np.float32), _LUMA), np.float32)


def canonical(frame: Frame) -> NDArray[np.float32]:
    """The frame's luma resampled to CANON x CANON (area filter going down)."""
    luma = _luma(frame)
    h, w = luma.shape
    interp = cv2.INTER_AREA if min(h, w) >= CANON else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(luma, (CANON, CANON), interpolation=interp), np.float32)


def projections(frame: Frame) -> NDArray[np.float32]:
    """The frame's projection on every key bit, shape (KEY_BITS,)."""
    flat, bits, chips = _layout()
    coeffs = cv2.dct(canonical(frame)).ravel()[flat] * chips
    sums = np.bincount(bits, weights=coeffs, minlength=KEY_BITS)
    counts = np.bincount(bits, minlength=KEY_BITS)
    return (sums / counts).astype(np.float32)


def shortfall(frames: Sequence[Frame], key: Key, strength: float = STRENGTH) -> NDArray[np.float32]:
    """Per bit, how much its projection lacks to reach ``strength`` on the bit's side,
    on the mean of all frames, of the first half and of the second half (a trimmed
    copy keeps one of those); 0 for a bit needing more than MAX_CORRECTION x strength
    (left as it is)."""
    step = max(1, len(frames) // MAX_FRAMES_SAMPLED)
    sampled = np.array([projections(f) for f in frames[::step]])
    cut = max(1, len(sampled) // 2)
    hosts = [sampled.mean(0), sampled[:cut].mean(0), sampled[-cut:].mean(0)]
    signs = key.astype(np.float32)
    worst = np.min([signs * h for h in hosts], axis=0)
    need = np.maximum(0.0, strength - worst)
    return np.where(need <= MAX_CORRECTION * strength, need, 0.0).astype(np.float32)


def residual_for(need: NDArray[np.float32], key: Key) -> NDArray[np.float32]:
    """The canonical-size luma residual moving each bit by ``need`` on its side."""
    flat, bits, chips = _layout()
    spectrum = np.zeros(CANON * CANON, np.float32)
    spectrum[flat] = (key.astype(np.float32) * need)[bits] * chips
    return np.asarray(cv2.idct(spectrum.reshape(CANON, CANON)), np.float32)


def residual(frames: Sequence[Frame], key: Key, strength: float = STRENGTH) -> NDArray[np.float32]:
    """The canonical-size luma residual carrying ``key`` for these frames."""
    return residual_for(shortfall(frames, key, strength), key)


def apply_residual(frames: Sequence[Frame], canon_residual: NDArray[np.float32]) -> list[Frame]:
    """The frames (all of one size) with the residual, scaled to that size, added to
    their luma."""
    if not frames:
        return []
    h, w = frames[0].shape[:2]
    step = np.rint(cv2.resize(canon_residual, (w, h), interpolation=cv2.INTER_CUBIC))
    # Integer steps as a saturating add of the positive part, then a saturating subtract
    # of the negative part (one of them is 0 at each pixel): the same as clipping the
    # sum to 0..255, on uint8 throughout (10x cheaper than widening every frame).
    up = cv2.merge([np.clip(step, 0, 255).astype(np.uint8)] * 3)
    down = cv2.merge([np.clip(-step, 0, 255).astype(np.uint8)] * 3)
    return [
        np.asarray(cv2.subtract(cv2.add(np.ascontiguousarray(f), up), down), np.uint8)
        for f in frames
    ]


def embed(frames: Sequence[Frame], key: Key, strength: float = STRENGTH) -> list[Frame]:
    """Every frame with ``key`` embedded (one residual for all of them)."""
    return apply_residual(frames, residual(frames, key, strength))


def soft_bits(frames: Sequence[Frame]) -> NDArray[np.float32]:
    """Per-bit evidence over the frames (what the detector scores): the median over
    frames of each frame's projection, clipped to FRAME_CLIP x strength, so a few
    damaged frames cannot outvote the rest."""
    if not frames:
        raise ValueError("no frames")
    limit = FRAME_CLIP * STRENGTH
    per_frame = np.clip([projections(f) for f in frames], -limit, limit)
    return np.asarray(np.median(per_frame, axis=0), np.float32)


def scores(evidence: NDArray[np.float32], keys: NDArray[np.int8]) -> NDArray[np.float32]:
    """Cosine of the evidence with each candidate key (rows of ``keys``)."""
    if len(keys) == 0:
        return np.zeros(0, np.float32)
    clipped = np.clip(evidence / STRENGTH, -1.0, 1.0)
    norm = float(np.linalg.norm(clipped)) * np.sqrt(KEY_BITS)
    if norm == 0.0:
        return np.zeros(len(keys), np.float32)
    return np.asarray(keys.astype(np.float32) @ clipped / norm, np.float32)


def best_match(
    evidence: NDArray[np.float32], keys: NDArray[np.int8], threshold: float = THRESHOLD
) -> tuple[int | None, float]:
    """(row of the best-scoring key if it reaches ``threshold`` else None, its score)."""
    s = scores(evidence, keys)
    if len(s) == 0:
        return None, 0.0
    row = int(np.argmax(s))
    best = float(s[row])
    return (row if best >= threshold else None), best
