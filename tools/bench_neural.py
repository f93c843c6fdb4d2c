"""Cost of the neural engine's own work per face, apart from the model call.

    python -m tools.bench_neural [--template ID] [--width 360] [--repeat 3]
        [--batch 8] [--enhancer] [--no-colour] [--no-mouth]

Runs the real render pipeline on one template (scaled to ``--width``) with the
generated stand-in graphs of ``tools.synthetic_models`` (production signatures, tiny
weights) on one CPU core: onnxruntime intra-op threads 1, OpenCV threads 1, one
pipeline thread. Reported per swapped face, in milliseconds:

- ``plan``: 5-point alignment matrices and paste boxes (once per track, per face);
- ``align``: the 128x128 crops; ``colour``: Lab statistics and transfer;
  ``mask``: crop mask into the face box (+ mouth); ``paste``: crop into the box, blend;
- ``own``: their sum - the pipeline's work, which the target (5 ms) is about;
- ``model``: the swapper call (stand-in graph: says nothing about the real model's
  cost, only that the call path works);
- ``enhance_other`` / ``enhance_model`` with ``--enhancer``.

Encoding is reported per frame (``encode_ms_per_frame``), separately.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from server.engines import load_engines
from server.engines.neural import NeuralEngine, NeuralOptions
from server.engines.neural_registry import wanted_models
from server.gif_templates.analysis import TemplateAnalysis
from server.render.encode import encode
from server.render.pipeline import swap_frames
from server.runtime import ModelStore, SessionConfig, load_manifest
from server.types import Frame, IdentityData
from tools.synthetic_models import write_synthetic_models

TARGET_OWN_MS = 5.0
OWN_STAGES = ("plan", "align", "colour", "mask", "paste")


def measure_neural(
    template: Any,
    identity: IdentityData,
    *,
    width: int | None = 360,
    repeat: int = 3,
    enhancer: bool = False,
    models_dir: Path | None = None,
    fmt: str = "gif",
    **engine_options: Any,
) -> dict[str, Any]:
    """Time the neural engine on ``template`` (catalog entry or anything with
    ``analysis`` and ``animation()``) for ``identity``; best of ``repeat`` runs.

    ``engine_options`` are :class:`NeuralOptions` fields. ``models_dir`` defaults to
    freshly generated stand-in graphs."""
    frames, analysis = scaled(template.animation().frames, template.analysis, width)
    with _one_core(), tempfile.TemporaryDirectory() as tmp:
        root = models_dir or write_models(Path(tmp))
        engine = build_engine(root, enhancer, NeuralOptions(**engine_options))
        faces = {analysis.tracks[0].track_id: identity} if analysis.tracks else {}
        runs = [_run_once(engine, frames, analysis, faces) for _ in range(max(1, repeat))]
        encode_ms = _encode_ms(fmt, runs[-1][1], frames, analysis)
    best = min((r[0] for r in runs), key=lambda r: r["own"])
    return {
        "template_size": [int(frames[0].shape[1]), int(frames[0].shape[0])],
        "frames": len(frames),
        "faces": best["faces"],
        "ms_per_face": {k: round(v, 3) for k, v in best.items() if k != "faces"},
        "encode_ms_per_frame": round(encode_ms, 3),
        "format": fmt,
        "engine": engine.describe(),
        "target_own_ms": TARGET_OWN_MS,
        "within_target": best["own"] <= TARGET_OWN_MS,
    }


def write_models(root: Path) -> Path:
    write_synthetic_models(root, swapper="mixing")
    return root


def build_engine(root: Path, enhancer: bool, options: NeuralOptions) -> NeuralEngine:
    """The neural engine on one CPU thread per session."""
    store = ModelStore(
        load_manifest(root / "manifest.json"),
        root,
        "cpu",
        wanted_models(enhancer),
        session_config=SessionConfig(intra_op_threads=1, inter_op_threads=1),
    )
    store.load()
    built = load_engines(None, store, options, enhancer=enhancer)
    engine = built.engines.get("neural")
    if not isinstance(engine, NeuralEngine):
        raise RuntimeError(f"neural engine unavailable: {built.unavailable.get('neural')}")
    return engine


def scaled(
    frames: list[Frame], analysis: TemplateAnalysis, width: int | None
) -> tuple[list[Frame], TemplateAnalysis]:
    """Frames resized to ``width`` (area filter) and the analysis' landmarks with them."""
    if width is None or frames[0].shape[1] == width:
        return frames, analysis
    k = width / frames[0].shape[1]
    size = (width, max(1, round(frames[0].shape[0] * k)))
    out = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    tracks = [
        dataclasses.replace(
            t,
            landmarks=(t.landmarks * np.float32(k)).astype(np.float32),
            extras={
                n: v * np.float32(k) if n in ("box", "landmarks5") else v
                for n, v in t.extras.items()
            },
        )
        for t in analysis.tracks
    ]
    return out, dataclasses.replace(analysis, width=size[0], height=size[1], tracks=tracks)


def _scale_extra(name: str, value: np.ndarray, k: float) -> np.ndarray:
    return value * np.float32(k) if name in ("box", "landmarks5") else value


def _run_once(
    engine: NeuralEngine,
    frames: list[Frame],
    analysis: TemplateAnalysis,
    faces: dict[int, IdentityData],
) -> tuple[dict[str, float], list[Frame]]:
    """(ms per face by stage, the swapped frames) of one pipeline run."""
    totals: dict[str, float] = defaultdict(float)
    engine.clock = lambda stage, value: totals.__setitem__(stage, totals[stage] + value)
    plan_track = engine.plan_track

    def timed_plan(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return plan_track(*args, **kwargs)
        finally:
            totals["plan"] += time.perf_counter() - start

    engine.plan_track = timed_plan  # type: ignore[method-assign]
    try:
        out = swap_frames(frames, analysis, faces, engine, lambda _: None, lambda: False)
    finally:
        engine.clock = None
        del engine.plan_track  # back to the class method
    n = max(totals.pop("model_faces", 0.0), 1.0)
    per_face = {stage: 1000.0 * seconds / n for stage, seconds in totals.items()}
    per_face["own"] = sum(per_face.get(s, 0.0) for s in OWN_STAGES) + per_face.get(
        "enhance_other", 0.0
    )
    per_face["faces"] = n
    return per_face, out


def _encode_ms(
    fmt: str, swapped: list[Frame], templates: list[Frame], analysis: TemplateAnalysis
) -> float:
    start = time.perf_counter()
    encode(fmt, swapped, templates, analysis.durations_ms, analysis.loop)  # type: ignore[arg-type]
    return 1000.0 * (time.perf_counter() - start) / max(1, len(swapped))


@contextmanager
def _one_core() -> Iterator[None]:
    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench_neural", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--template", default="astronaut-shock", help="template id")
    parser.add_argument("--templates-dir", type=Path, help="default: settings")
    parser.add_argument("--width", type=int, default=360)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--enhancer", action="store_true")
    parser.add_argument("--no-colour", action="store_true")
    parser.add_argument("--no-mouth", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    return parser


def _inputs(args: argparse.Namespace) -> tuple[Any, IdentityData]:
    import logging

    from server.faces.dlib_models import DlibFaceModels
    from server.faces.identity import build_identity
    from server.gif_templates.catalog import TemplateCatalog
    from server.settings import load_settings

    root = args.templates_dir or load_settings().templates_dir
    catalog = TemplateCatalog(root)
    catalog.load(None, rebuild_stale=False, log=logging.getLogger("tools.bench_neural"))
    template = catalog.get(args.template)
    if template is None:
        raise SystemExit(f"error: no template {args.template!r} in {root}")
    from skimage import data

    selfie = np.ascontiguousarray(data.astronaut()[:, :, ::-1])
    return template, build_identity([selfie], DlibFaceModels(cnn_fallback=False))


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    template, identity = _inputs(args)
    result = measure_neural(
        template,
        identity,
        width=args.width,
        repeat=args.repeat,
        enhancer=args.enhancer,
        batch_size=args.batch,
        colour_match=not args.no_colour,
        keep_mouth=not args.no_mouth,
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ms = result["ms_per_face"]
    w, h = result["template_size"]
    print(f"{args.template} at {w}x{h}: {result['faces']:.0f} faces in {result['frames']} frames")
    for stage in (*OWN_STAGES, "enhance_other", "own", "model", "enhance_model"):
        if stage in ms:
            print(f"  {stage:14s} {ms[stage]:7.3f} ms/face")
    verdict = "within" if result["within_target"] else "OVER"
    print(f"  own work {ms['own']:.3f} ms/face: {verdict} the {TARGET_OWN_MS} ms target")
    print(f"  encode ({result['format']}) {result['encode_ms_per_frame']:.3f} ms/frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
