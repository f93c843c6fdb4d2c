"""The neural engine: inswapper_128 on 5-point-aligned crops, pasted back in the face box.

Per render: the identity's ArcFace embedding becomes the swapper latent (once). Per
track: every present frame's 5 points give its arcface_128 alignment and paste box
(cheap, up front). Per frame: the swapped crop (computed in batches, a few frames
ahead, from the template's own frames) is colour-matched to the template face, warped
back into the face box only, and blended with a feathered crop-space mask; the
template's mouth interior is kept (option) and an enhancer pass may follow.

Colour: Lab statistics of the template face (input crop) and of the swapper's output
are both averaged over ``colour_window`` frames and the output is moved from one to the
other (as the classic engine does with the selfie), so the correction changes slowly
while the frame-to-frame lighting the swapper reproduces passes through.

Frames whose landmarks equal the previous frame's (held frames, which the pipeline
copies instead of swapping) are neither computed ahead nor counted in the colour
statistics. Everything is deterministic: batch size and call order do not change the
result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from server.engines.base import SwapResult
from server.engines.neural_geometry import (
    align_matrix,
    blend_into,
    crop,
    feather_mask,
    paste_box,
    warp_into_box,
)
from server.engines.neural_models import Enhancer, Swapper
from server.gif_templates.landmarks5 import derive_landmarks5
from server.gif_templates.occluders import occluder_for_render
from server.types import Box, Frame, IdentityData
from server.vision import color, glasses, masks, shape

ENGINE_VERSION = 3  # bump when output changes, so identical requests are not reused
MIN_BOX = 4
STATS_SIZE = 64  # crop size colour statistics are measured at


@dataclass(frozen=True)
class NeuralOptions:
    """Choices of the neural engine. Defaults follow the classic engine where a choice
    is shared (mouth, colour window); none could be measured for identity without the
    real weights."""

    batch_size: int = 8  # crops per swapper call, when the model's batch dim is symbolic
    keep_mouth: bool = True  # keep the template's mouth interior (inner-lip polygon)
    colour_match: bool = True  # Lab transfer of the swapped face to the template's colours
    colour_window: int = 9  # frames over which colour statistics are averaged
    mask_erode: float = 0.1  # crop-space mask inset, share of the crop size
    mask_blur: float = 0.05  # crop-space mask feather, share of the crop size
    enhance: bool = True  # run the enhancer when one was loaded
    enhancer_blend: float = 0.8  # share of the enhanced face in the result (0..1)


@dataclass
class NeuralFace:
    """An identity prepared for this engine: the swapper's latent (1, 512)."""

    latent: NDArray[np.float32]


@dataclass
class NeuralPlan:
    """One template track for one render: per-frame alignment, paste boxes and the
    swapped crops computed so far (with their colour statistics)."""

    frames: Sequence[Frame]
    landmarks: NDArray[np.float32]  # (N, 68, 2)
    matrices: dict[int, NDArray[np.float64]]  # frame -> crop, present frames
    boxes: dict[int, Box]
    held: NDArray[np.bool_]  # landmarks repeat the previous frame's
    stats_in: NDArray[np.float32]  # (N, 2, 3) Lab stats of the template face crop
    stats_out: NDArray[np.float32]  # (N, 2, 3) Lab stats of the swapped crop
    points5: NDArray[np.float32]  # (N, 5, 2)
    done: NDArray[np.bool_]  # swapped (and its statistics measured) at least once
    swapped: dict[int, NDArray[np.float32]] = field(default_factory=dict)
    occluder: NDArray[np.floating] | None = None  # (N, h, w) template occluders, canonical crop
    # The pipeline may swap several frames at once: the model calls and this plan's
    # caches are guarded; alignment of the result and paste-back run in parallel.
    lock: threading.Lock = field(default_factory=threading.Lock)


StageClock = Callable[[str, float], None]  # (stage, seconds) - for tools.bench_neural


class NeuralEngine:
    name = "neural"

    def __init__(
        self,
        swapper: Swapper,
        template128: NDArray[np.floating],
        options: NeuralOptions | None = None,
        enhancer: Enhancer | None = None,
        ffhq512: NDArray[np.floating] | None = None,
        models: Sequence[dict[str, Any]] = (),
        embed_identity: Callable[[IdentityData], IdentityData] | None = None,
    ) -> None:
        """``template128``: arcface_128 points (5, 2); ``ffhq512`` the enhancer's
        template; ``models``: name/sha256/provider/licence of the loaded models, for
        :meth:`describe`; ``embed_identity`` fills in a missing identity embedding."""
        self.options = options or NeuralOptions()
        self.swapper = swapper
        self.template128 = np.asarray(template128, np.float64)
        self.enhancer = enhancer if self.options.enhance else None
        if self.enhancer is not None and ffhq512 is None:
            raise ValueError("an enhancer needs its alignment template (ffhq_512)")
        self.ffhq512 = None if ffhq512 is None else np.asarray(ffhq512, np.float64)
        self._models = [dict(m) for m in models]
        self._embed_identity = embed_identity
        o = self.options
        self.mask = feather_mask(swapper.size, o.mask_erode, o.mask_blur)
        self.enhancer_mask = (
            feather_mask(self.enhancer.size, o.mask_erode, o.mask_blur) if self.enhancer else None
        )
        self.clock: StageClock | None = None

    # -- once per identity ----------------------------------------------------------------
    def prepare_identity(self, identity: IdentityData) -> NeuralFace:
        if identity.embedding is None and self._embed_identity is not None:
            identity = self._embed_identity(identity)
        if identity.embedding is None:
            raise ValueError("the identity has no neural embedding")
        return NeuralFace(self.swapper.latent(identity.embedding))

    # -- once per track ------------------------------------------------------------------
    def plan_track(
        self,
        face: NeuralFace,
        landmarks: NDArray[np.float32],
        frames: Sequence[Frame],
        landmarks5: NDArray[np.float32] | None = None,
        features: Mapping[str, NDArray[np.floating]] | None = None,
    ) -> NeuralPlan:
        """``landmarks``: (N, 68, 2), NaN where absent; ``landmarks5`` (N, 5, 2) the
        track's stored 5 points (derived from the 68 when not given). Of the template's
        stored ``features`` only the occluders are used (pasted under): this engine
        measures colour on both sides in the aligned crop (the swapper's output against
        its input)."""
        del face  # the plan does not depend on the identity
        n = len(landmarks)
        p5 = derive_landmarks5(landmarks) if landmarks5 is None else np.asarray(landmarks5)
        present = ~np.isnan(p5[:, :, 0]).any(1) & ~np.isnan(landmarks[:, 0, 0])
        matrices, boxes = {}, {}
        for i in map(int, np.flatnonzero(present)):
            h, w = frames[i].shape[:2]
            m = align_matrix(p5[i], self.template128)
            box = paste_box(m, self.mask.support, w, h)
            if box.width >= MIN_BOX and box.height >= MIN_BOX:
                matrices[i], boxes[i] = m, box
        held = np.zeros(n, bool)
        held[1:] = (landmarks[1:] == landmarks[:-1]).all(axis=(1, 2))
        nan = np.full((n, 2, 3), np.nan, np.float32)
        plan = NeuralPlan(
            frames, landmarks, matrices, boxes, held, nan, nan.copy(), p5, np.zeros(n, bool)
        )
        # The template's glasses stay in front.
        plan.occluder = occluder_for_render(features or {}, frames, landmarks)
        return plan

    # -- per frame -----------------------------------------------------------------------
    def swap(
        self, frame: Frame, index: int, lm: NDArray[np.float32], face: NeuralFace, plan: NeuralPlan
    ) -> SwapResult | None:
        """Swap the face of ``plan``'s track in ``frame`` (in place)."""
        if index not in plan.matrices:
            return None
        with plan.lock:
            self._ensure(plan, face, index)
            raw, window = plan.swapped[index], self._window(plan, index)
            src, dst = _mean_stats(plan.stats_out[window]), _mean_stats(plan.stats_in[window])
        t = time.perf_counter()
        swapped = self._corrected(raw, src, dst)
        self._lap("colour", t)
        t = time.perf_counter()
        box, m = plan.boxes[index], plan.matrices[index]
        alpha = warp_into_box(self.mask.alpha, m, box)
        if self.options.keep_mouth:
            mouth = np.asarray(lm[60:68], np.float64)
            alpha *= 1.0 - masks.polygon_mask(box, mouth, 0.02 * shape.face_height(lm))
        if plan.occluder is not None:
            alpha *= 1.0 - glasses.mask_in_box(plan.occluder[index], lm, box)
        self._lap("mask", t)
        t = time.perf_counter()
        original = None
        if self.enhancer is not None:
            original = frame[box.top : box.bottom, box.left : box.right].copy()
        patch = warp_into_box(swapped, m, box)
        covered = blend_into(frame, box, patch, alpha)
        self._lap("paste", t)
        if original is not None:
            self._enhance(frame, plan.points5[index], box, alpha, original, patch)
        return SwapResult(box, covered)

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "version": ENGINE_VERSION,
            "models": [dict(m) for m in self._models],
            "options": {**asdict(self.options), "enhance": self.enhancer is not None},
            **self.swapper.describe(),
        }

    # -- helpers -------------------------------------------------------------------------
    def _window(self, plan: NeuralPlan, index: int) -> list[int]:
        half = self.options.colour_window // 2 if self.options.colour_match else 0
        lo, hi = max(0, index - half), min(len(plan.held), index + half + 1)
        return [i for i in range(lo, hi) if i in plan.matrices and (i == index or not plan.held[i])]

    def _ensure(self, plan: NeuralPlan, face: NeuralFace, index: int) -> None:
        """Swap every frame the colour window of ``index`` needs, plus enough frames
        ahead to fill the last batch; forget crops that have fallen behind."""
        todo = [i for i in self._window(plan, index) if not plan.done[i]]
        if index not in plan.swapped and index not in todo:
            todo.append(index)
        if not todo:
            return
        batch = self.swapper.batch
        ahead = max(todo) + 1
        while len(todo) % batch and ahead < len(plan.held):
            if ahead in plan.matrices and not plan.held[ahead] and not plan.done[ahead]:
                todo.append(ahead)
            ahead += 1
        self._compute(plan, face, sorted(set(todo)))
        keep_from = index - self.options.colour_window
        for old in [i for i in plan.swapped if i < keep_from]:
            del plan.swapped[old]

    def _compute(self, plan: NeuralPlan, face: NeuralFace, indices: list[int]) -> None:
        t = time.perf_counter()
        size = self.swapper.size
        crops = np.stack([crop(plan.frames[i], plan.matrices[i], size) for i in indices])
        self._lap("align", t)
        t = time.perf_counter()
        out = self.swapper.run(crops, face.latent)
        self._lap("model", t, len(indices))
        t = time.perf_counter()
        for k, i in enumerate(indices):
            plan.swapped[i] = out[k]
            plan.done[i] = True
            if self.options.colour_match:
                skin = self._skin(plan, i)
                plan.stats_in[i] = color.lab_stats(_lab(_small(crops[k])), skin)
                plan.stats_out[i] = color.lab_stats(_lab(_small(out[k])), skin)
        self._lap("colour", t)

    def _skin(self, plan: NeuralPlan, i: int) -> NDArray[np.bool_]:
        """Skin of the template face in the (half-size) crop: its 68 landmarks mapped
        in. Statistics of a skin region barely change at half size, and cost a quarter."""
        k = STATS_SIZE / self.swapper.size
        local = shape.apply_affine(plan.matrices[i], plan.landmarks[i]) * k
        return masks.skin_mask((STATS_SIZE, STATS_SIZE), local.astype(np.float32))

    def _corrected(
        self,
        swapped: NDArray[np.float32],
        src: NDArray[np.float32] | None,
        dst: NDArray[np.float32] | None,
    ) -> NDArray[np.float32]:
        """The swapped crop (BGR float 0..255) moved from the swapper's colour
        statistics ``src`` to the template face's ``dst`` (when enabled and known)."""
        if not self.options.colour_match or src is None or dst is None:
            return swapped
        # color.transfer is a per-channel affine map of Lab (its clamped gains about the
        # source's mean, onto the target's): applied here in one cv2.transform.
        gain = color.gains(src, dst)
        offset = dst[0] - src[0] * gain
        affine = np.concatenate([np.diag(gain), offset[:, None]], axis=1).astype(np.float32)
        return color.lab_to_bgr(np.asarray(cv2.transform(_lab(swapped), affine), np.float32))

    def _enhance(
        self,
        frame: Frame,
        points5: NDArray[np.float32],
        box: Box,
        alpha: NDArray[np.float32],
        original: Frame,
        swapped: NDArray[np.float32],
    ) -> None:
        """Restore the pasted face (FFHQ-512 alignment of the frame as swapped), mix it
        with the swapped patch by ``enhancer_blend`` and paste the mix over the
        original with the swap's own mask (so blend 0 is exactly the plain swap)."""
        assert self.enhancer is not None and self.ffhq512 is not None
        t = time.perf_counter()
        m = align_matrix(points5, self.ffhq512)
        face = crop(frame, m, self.enhancer.size)
        t_model = time.perf_counter()
        restored = self.enhancer.run(face)
        model_s = time.perf_counter() - t_model
        self._lap("enhance_model", t_model)
        k = np.float32(np.clip(self.options.enhancer_blend, 0.0, 1.0))
        patch = warp_into_box(restored, m, box) * k + swapped * (np.float32(1.0) - k)
        frame[box.top : box.bottom, box.left : box.right] = original
        blend_into(frame, box, patch, alpha)
        self._lap("enhance_other", t, minus=model_s)

    def _lap(self, stage: str, since: float, count: int = 1, minus: float = 0.0) -> None:
        if self.clock is not None:
            self.clock(stage, time.perf_counter() - since - minus)
            if stage == "model":
                self.clock("model_faces", float(count))


def _small(image: NDArray[Any]) -> NDArray[np.float32]:
    return np.asarray(
        cv2.resize(image, (STATS_SIZE, STATS_SIZE), interpolation=cv2.INTER_AREA), np.float32
    )


def _lab(image: NDArray[np.float32]) -> NDArray[np.float32]:
    """Lab of a float BGR image in 0..255 (``color.to_lab`` scales any dtype alike)."""
    return color.to_lab(cast(Frame, image))


def _mean_stats(stats: NDArray[np.float32]) -> NDArray[np.float32] | None:
    valid = stats[~np.isnan(stats[:, 0, 0])]
    return valid.mean(0).astype(np.float32) if len(valid) else None
