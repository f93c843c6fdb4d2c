"""The neural engine's models, wrapped around sessions handed in by the registry:
the inswapper (identity swap of an aligned 128x128 crop) and an optional GFPGAN-style
enhancer (512x512 FFHQ-aligned crop).

Colour order, layout and value range (manifest ``normalisation``):
- inswapper ``target``: NCHW RGB, pixel / 255 (0..1); ``source``: (B, 512) latent;
  output NCHW RGB nominally 0..1 (clipped here);
- enhancer: NCHW RGB, pixel / 127.5 - 1 (-1..1) in and out.
Crops in and out of these wrappers are BGR HxWx3 (uint8 in, float32 0..255 out).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from server.runtime import SessionLike, SessionRunner, runner_for
from server.types import Embedding

LATENT_SIZE = 512


def latent_from_embedding(embedding: Embedding, emap: NDArray[np.float32]) -> NDArray[np.float32]:
    """The inswapper's ``source`` input (1, 512): the L2-normalised ArcFace embedding
    times the emap, L2-normalised again (insightface's computation; FaceFusion skips
    the second normalisation)."""
    normed = np.asarray(embedding, np.float32).reshape(1, -1)
    normed = normed / np.linalg.norm(normed)
    latent = np.dot(normed, np.asarray(emap, np.float32))
    latent /= np.linalg.norm(latent)
    return latent.astype(np.float32)


def batch_capacity(session: SessionLike, wanted: int) -> int:
    """How many crops one call may carry: the first input's batch dim when fixed (the
    production inswapper may fix it at 1), else ``wanted`` (a symbolic batch)."""
    dim = next(iter(session.get_inputs()[0].shape))
    if isinstance(dim, int) and dim > 0:
        return dim
    return max(1, int(wanted))


class Swapper:
    """The inswapper: ``emap`` from the graph file (insightface's INSwapper reads it),
    input/output names from the session, runs through a :class:`SessionRunner`."""

    def __init__(
        self,
        session: SessionLike,
        emap: NDArray[np.float32],
        batch_size: int = 8,
        runner: SessionRunner | None = None,
    ) -> None:
        if np.shape(emap) != (LATENT_SIZE, LATENT_SIZE):
            raise ValueError(f"emap must be {LATENT_SIZE}x{LATENT_SIZE}, got {np.shape(emap)}")
        inputs = session.get_inputs()
        if len(inputs) != 2 or len(session.get_outputs()) != 1:
            raise ValueError("the swapper needs two inputs (target, source) and one output")
        self.emap = np.asarray(emap, np.float32)
        self.target_name, self.source_name = inputs[0].name, inputs[1].name
        self.size = int(list(inputs[0].shape)[2])
        self.batch = batch_capacity(session, batch_size)
        self.runner = runner or runner_for(session)

    def latent(self, embedding: Embedding) -> NDArray[np.float32]:
        return latent_from_embedding(embedding, self.emap)

    def run(self, crops: NDArray[np.uint8], latent: NDArray[np.float32]) -> NDArray[np.float32]:
        """(B, S, S, 3) BGR uint8 crops -> swapped (B, S, S, 3) BGR float32 0..255, in
        calls of at most ``self.batch`` crops."""
        out = np.empty(crops.shape, np.float32)
        for start in range(0, len(crops), self.batch):
            chunk = crops[start : start + self.batch]
            blob = np.ascontiguousarray(chunk[..., ::-1].transpose(0, 3, 1, 2), np.float32)
            blob *= np.float32(1.0 / 255.0)
            source = np.repeat(latent.reshape(1, -1), len(chunk), axis=0)
            (pred,) = self.runner.run({self.target_name: blob, self.source_name: source})
            rgb = np.clip(pred, 0.0, 1.0).transpose(0, 2, 3, 1) * np.float32(255.0)
            out[start : start + len(chunk)] = rgb[..., ::-1]
        return out

    def describe(self) -> dict[str, Any]:
        return {"batch": self.batch, "io_binding": self.runner.uses_binding}


class Enhancer:
    """A face restorer with GFPGAN 1.4's contract (input/output -1..1 RGB, 512x512)."""

    def __init__(self, session: SessionLike, runner: SessionRunner | None = None) -> None:
        spec = session.get_inputs()[0]
        self.input_name = spec.name
        self.size = int(list(spec.shape)[2])
        self.runner = runner or runner_for(session)

    def run(self, crop: NDArray[np.generic]) -> NDArray[np.float32]:
        """BGR crop (S, S, 3), 0..255 -> restored BGR float32 0..255."""
        rgb = np.asarray(crop, np.float32)[..., ::-1].transpose(2, 0, 1)[None]
        blob = np.ascontiguousarray(rgb / np.float32(127.5) - np.float32(1.0))
        out = self.runner.run({self.input_name: blob})[0][0]
        restored = (np.clip(out, -1.0, 1.0) + np.float32(1.0)) * np.float32(127.5)
        return np.ascontiguousarray(restored.transpose(1, 2, 0)[..., ::-1], np.float32)
