"""Assembling the neural engine from a loaded :class:`~server.runtime.ModelStore`.

The store has verified, opened and warmed every model (or recorded why not); this
module only wires sessions into insightface's classes and our wrappers, and says why
the engine is unavailable when it is. Nothing here reads settings or the environment.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.engines.neural import NeuralEngine, NeuralOptions
from server.engines.neural_models import Enhancer, Swapper
from server.faces.embedding import embedding_from_texture
from server.faces.neural import Embedder, FivePointDetector, NeuralFaceModels
from server.runtime import ModelStore, sha256_file
from server.runtime.model_store import one_line

log = logging.getLogger(__name__)

SWAPPER = "inswapper_128"
RECOGNISER = "w600k_r50"
DETECTOR = "det_10g"
ENHANCER = "gfpgan_1.4"
REQUIRED = (SWAPPER, RECOGNISER)


def wanted_models(enhancer: bool = False) -> list[str]:
    """The models a worker loads for the neural engine (the detector is optional)."""
    return [SWAPPER, RECOGNISER, DETECTOR, *([ENHANCER] if enhancer else [])]


@dataclass
class NeuralBuild:
    """The engine (None when unavailable, with ``reason``) and the face models identity
    creation uses (None without the recogniser)."""

    engine: NeuralEngine | None
    faces: NeuralFaceModels | None
    reason: str | None = None


def model_info(store: ModelStore, name: str) -> dict[str, Any]:
    """What a render records about a model: name, sha256, provider, licence."""
    entry = store.entry(name)
    status = store.model_status(name)
    return {
        "name": name,
        "sha256": entry.sha256 or sha256_file(store.path(name)),
        "provider": status.provider,
        "license": entry.license,
    }


def build_face_models(store: ModelStore) -> NeuralFaceModels | None:
    """Embedder (+ SCRFD when loaded) for identities; None without the recogniser."""
    if not _has(store, RECOGNISER):
        return None
    embedder = Embedder(
        store.path(RECOGNISER), store.get_session(RECOGNISER), _template(store, RECOGNISER)
    )
    detector = None
    if _has(store, DETECTOR):
        detector = FivePointDetector(store.path(DETECTOR), store.get_session(DETECTOR))
    return NeuralFaceModels(embedder, detector, model_info(store, RECOGNISER))


def build_neural(
    store: ModelStore | None, options: NeuralOptions | None = None, enhancer: bool = False
) -> NeuralBuild:
    """The neural engine when its required models are available; never raises."""
    if store is None:
        return NeuralBuild(None, None, "no model store (models directory or manifest missing)")
    try:
        faces = build_face_models(store)
    except Exception as exc:  # insightface/onnx raise many types for a bad file
        return NeuralBuild(None, None, f"recogniser failed to load: {one_line(exc)}")
    missing = missing_models(store, REQUIRED)
    if missing:
        return NeuralBuild(None, faces, missing)
    assert faces is not None
    try:
        engine = _engine(store, faces, options or NeuralOptions(), enhancer)
    except Exception as exc:
        return NeuralBuild(None, faces, f"swapper failed to load: {one_line(exc)}")
    return NeuralBuild(engine, faces)


def _engine(
    store: ModelStore, faces: NeuralFaceModels, options: NeuralOptions, enhancer: bool
) -> NeuralEngine:
    swapper = Swapper(store.get_session(SWAPPER), _emap(store), options.batch_size)
    used = [model_info(store, n) for n in (SWAPPER, RECOGNISER)]
    restorer, ffhq = None, None
    if enhancer and options.enhance and _has(store, ENHANCER):
        restorer = Enhancer(store.get_session(ENHANCER))
        ffhq = _template(store, ENHANCER)
        used.append(model_info(store, ENHANCER))
    elif enhancer and options.enhance:
        log.warning("enhancer %s unavailable: %s", ENHANCER, _reason(store, ENHANCER))
    return NeuralEngine(
        swapper,
        _template(store, SWAPPER),
        options,
        enhancer=restorer,
        ffhq512=ffhq,
        models=used,
        embed_identity=lambda identity: embedding_from_texture(identity, faces),
    )


def _emap(store: ModelStore) -> np.ndarray:
    """The emap, read by insightface's INSwapper from the graph file (with the store's
    session, so it opens none of its own); its shape print goes to the debug log."""
    from insightface.model_zoo.inswapper import INSwapper

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        model = INSwapper(model_file=str(store.path(SWAPPER)), session=store.get_session(SWAPPER))
    log.debug("insightface: %s", printed.getvalue().strip())
    return np.asarray(model.emap, np.float32)


def _template(store: ModelStore, name: str) -> np.ndarray:
    alignment = store.entry(name).alignment
    if alignment is None:
        raise ValueError(f"model {name!r} declares no alignment template")
    return np.asarray(store.manifest.template(alignment).points, np.float64)


def _has(store: ModelStore, name: str) -> bool:
    return name in store.names and store.is_available(name)


def missing_models(store: ModelStore, required: Iterable[str]) -> str | None:
    """Why some of the ``required`` models are unavailable, or None when all are."""
    missing = [n for n in required if not _has(store, n)]
    if not missing:
        return None
    reasons = "; ".join(f"{n}: {_reason(store, n)}" for n in missing)
    return f"required model(s) unavailable: {reasons}"


def _reason(store: ModelStore, name: str) -> str:
    if name not in store.names:
        return "not loaded by this worker"
    return store.model_status(name).reason or "unavailable"
