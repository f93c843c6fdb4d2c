"""A tiny GIF writer for tests: exact control of partial frames, offsets, disposal,
transparency and local palettes (Pillow's writer decides those itself)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np


@dataclass
class GifFrame:
    indices: np.ndarray  # (h, w) uint8 palette indices
    palette: np.ndarray  # (256, 3) uint8 RGB, written as this frame's local table
    left: int = 0
    top: int = 0
    delay_cs: int = 10
    disposal: int = 1  # 1 keep, 2 restore to background
    transparent: int | None = None


def _lzw_literals(indices: np.ndarray) -> bytes:
    """LZW stream of 9-bit literal codes only (a clear code every 250 keeps the width)."""
    clear, end = 256, 257
    codes: list[int] = []
    flat = indices.ravel().tolist()
    for start in range(0, len(flat), 250):
        codes.append(clear)
        codes.extend(flat[start : start + 250])
    codes.append(end)
    acc = bits = 0
    out = bytearray()
    for code in codes:
        acc |= code << bits
        bits += 9
        while bits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            bits -= 8
    if bits:
        out.append(acc & 0xFF)
    blocks = bytearray([8])
    for i in range(0, len(out), 255):
        chunk = out[i : i + 255]
        blocks += bytes([len(chunk)]) + chunk
    return bytes(blocks + b"\x00")


def build_gif(width: int, height: int, frames: list[GifFrame], loop: int | None = 0) -> bytes:
    data = bytearray(b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0))
    if loop is not None:
        data += b"\x21\xff\x0bNETSCAPE2.0\x03\x01" + struct.pack("<H", loop) + b"\x00"
    for f in frames:
        flags = (f.disposal << 2) | (1 if f.transparent is not None else 0)
        data += b"\x21\xf9\x04" + struct.pack("<BHB", flags, f.delay_cs, f.transparent or 0)
        data += b"\x00"
        h, w = f.indices.shape
        data += b"\x2c" + struct.pack("<HHHHB", f.left, f.top, w, h, 0x80 | 7)
        data += np.asarray(f.palette, np.uint8).tobytes()
        data += _lzw_literals(np.asarray(f.indices, np.uint8))
    return bytes(data + b"\x3b")
