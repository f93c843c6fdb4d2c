"""Services: the one place that composes. Built once per process by ``create_app``
(after gunicorn forks), kept in ``app.extensions["faceloop"]`` and shared by every
request thread and render worker.

Heavy collaborators (dlib models, the template catalog, engines, the model store, the
render function) can be handed in; otherwise they are built from settings. Heavy
modules are imported inside the builders so importing this module stays cheap.

The neural engine's ONNX models are verified and opened once per worker here
(:class:`~server.runtime.ModelStore`); when some are missing, corrupt or not licensed
for this deployment the neural engine is simply unavailable, with the reason in
``/readyz`` and in 409 answers, and the classic engine serves alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from server.identities import IdentityBuilder, IdentityService
from server.jobs.ports import Renderer, TemplateSource
from server.jobs.queue import InProcessQueue, JobQueue
from server.jobs.records import RenderRecordStore
from server.jobs.renders import RENDER_TASK, RenderService
from server.jobs.retention import SweepThread, sweep
from server.settings import Settings
from server.storage.atomic import clean_strays
from server.storage.db import Database
from server.storage.devices import DeviceStore
from server.storage.identities import IdentityStore
from server.storage.layout import DataLayout
from server.types import Frame, IdentityData

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything requests need, built once per process."""

    settings: Settings
    face_models: Any
    templates: TemplateSource
    engines: Mapping[str, Any]
    identities: IdentityService
    renders: RenderService
    queue: JobQueue
    devices: DeviceStore
    db: Database

    engines_unavailable: Mapping[str, str] = field(default_factory=dict)
    model_store: Any = None
    sweeper: SweepThread | None = None
    motion_engines: Mapping[str, Any] = field(default_factory=dict)
    motion_unavailable: Mapping[str, str] = field(default_factory=dict)
    verifier: Any = None  # server.render.verify.Verifier

    def readiness(self) -> dict[str, Any]:
        """Ready once an engine is loaded and the catalog is up (it may be empty); lists
        engines that cannot run (with the reason) and every wanted model's status."""
        engines = sorted(self.engines)
        models = self.model_store.status() if self.model_store is not None else {}
        return {
            "ready": bool(engines),
            "engines": engines,
            "templates": len(self.templates),
            "engines_unavailable": dict(self.engines_unavailable),
            "motion_engines": sorted(self.motion_engines),
            "motion_engines_unavailable": dict(self.motion_unavailable),
            "models": models,
        }

    def erase_device(self, device_id: str) -> None:
        """Erase a device and everything derived from it (identities, renders,
        results, index entries, its token), leaving no bytes in the database file."""
        self.devices.delete(device_id)  # first: the token stops working at once
        self.identities.erase_device(device_id)
        self.db.compact()

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the sweeper and the render workers; renders still waiting are marked
        interrupted."""
        if self.sweeper is not None:
            self.sweeper.stop(timeout)
        self.renders.interrupt(self.queue.close(timeout))


def build_services(
    settings: Settings,
    *,
    face_models: Any = None,
    templates: TemplateSource | None = None,
    engines: Mapping[str, Any] | None = None,
    renderer: Renderer | None = None,
    identity_builder: IdentityBuilder | None = None,
    model_store: Any = None,
) -> Services:
    """Load models, catalog and engines, recover the data dir, start render workers.

    Without ``engines`` the engines are built here, the neural one from
    ``model_store`` (default: a ModelStore built from settings and loaded)."""
    layout = DataLayout(settings.data_dir)
    try:
        layout.ensure()
    except OSError as exc:  # read-only or full: serve reads, refuse writes with 503/507
        log.error(
            "data dir not writable (errno %s); uploads and renders fail until it is", exc.errno
        )
    clean_strays(settings.data_dir)
    models = face_models if face_models is not None else _face_models()
    catalog = templates if templates is not None else _catalog(settings, models)
    engine_map, unavailable, neural_faces, store, motion = _engine_parts(
        settings, models, engines, model_store
    )
    db = Database.in_dir(settings.data_dir)
    identities = IdentityStore(layout, db)
    records = RenderRecordStore(layout, db)
    provenance = _provenance(settings, db)
    renders = RenderService(
        records,
        identities,
        catalog,
        engine_map,
        renderer if renderer is not None else _renderer(provenance),
        default_engine=settings.default_engine,
        unavailable_engines=unavailable,
        identity_loader=_identity_loader(identities, neural_faces),
        motion_engines=motion[0],
        motion_unavailable=motion[1],
    )
    try:
        interrupted = renders.recover()
    except OSError as exc:
        log.error("cannot read the render records (errno %s)", exc.errno)
        interrupted = 0
    if interrupted:
        log.warning("marked %d renders from a previous run as interrupted", interrupted)
    queue = InProcessQueue(
        {RENDER_TASK: renders.run},
        workers=settings.render_workers,
        maxsize=settings.queue_size,
        retry_after_s=settings.retry_after_s,
    )
    renders.bind_queue(queue)
    builder = identity_builder if identity_builder is not None else _identity_builder(neural_faces)
    ids = IdentityService(identities, renders, models, builder, settings)
    sweeper = _sweeper(settings, identities, records, db)
    return Services(
        settings, models, catalog, engine_map, ids, renders, queue, DeviceStore(db), db,
        unavailable, store, sweeper, *motion, _verifier(provenance, settings, renders),
    )  # fmt: skip


def _sweeper(
    settings: Settings, identities: IdentityStore, records: RenderRecordStore, db: Database
) -> SweepThread | None:
    """The retention timer of this process (None when the interval is 0)."""
    if settings.sweep_interval_s <= 0:
        return None
    thread = SweepThread(
        lambda: sweep(identities, records, db, datetime.now(UTC)), settings.sweep_interval_s
    )
    thread.start()
    return thread


# -- default builders (heavy modules, imported when first needed) --------------------------
def _face_models() -> Any:
    from server.faces.dlib_models import DlibFaceModels

    return DlibFaceModels()


def _catalog(settings: Settings, models: Any) -> TemplateSource:
    from server.gif_templates.catalog import TemplateCatalog

    catalog = TemplateCatalog(settings.templates_dir)
    catalog.load(models, rebuild_stale=settings.analyse_stale_templates, log=log)
    return catalog


MotionParts = tuple[Mapping[str, Any], dict[str, str]]  # motion engines, unavailable ones


def _engine_parts(
    settings: Settings, models: Any, engines: Mapping[str, Any] | None, store: Any
) -> tuple[Mapping[str, Any], dict[str, str], Any, Any, MotionParts]:
    """(swap engines, unavailable swap engines -> reason, neural face models, model
    store, (motion engines, unavailable motion engines -> reason))."""
    if engines is not None:  # handed in (tests): no models to load
        from server.engines import motion_engines

        return engines, {}, None, store, motion_engines()
    problem = None
    if store is None:
        store, problem = _model_store(settings)
    built = _engines(models, store, settings)
    unavailable = {name: problem or why for name, why in built.unavailable.items()}
    motion = (built.motion, dict(built.motion_unavailable))
    return built.engines, unavailable, built.neural_faces, store, motion


def _model_store(settings: Settings) -> tuple[Any, str | None]:
    """The neural models' store, loaded (None and why when there is nothing to load)."""
    if not settings.neural_models:
        return None, "neural models are disabled (FACELOOP_NEURAL_MODELS=0)"
    from server.engines.motion_neural_registry import wanted_motion_models
    from server.engines.neural_registry import wanted_models
    from server.runtime import ManifestError, ModelStore, SessionConfig, load_manifest

    path = settings.models_dir / "manifest.json"
    try:
        manifest = load_manifest(path)
    except ManifestError as exc:
        log.warning("neural engine off: %s", exc)
        return None, f"model manifest unusable ({path}): {str(exc).splitlines()[0]}"
    wanted = [*wanted_models(settings.enhancer), *wanted_motion_models()]
    names = [n for n in wanted if n in manifest.names()]
    store = ModelStore(
        manifest,
        settings.models_dir,
        settings.providers,
        names,
        session_config=SessionConfig(intra_op_threads=settings.ort_threads),
        allow_noncommercial=settings.accept_noncommercial,
    )
    store.load()
    return store, None


def _engines(models: Any, store: Any, settings: Settings) -> Any:
    from server.engines import load_engines
    from server.engines.neural import NeuralOptions

    options = NeuralOptions(
        batch_size=settings.neural_batch, enhancer_blend=settings.enhancer_blend
    )
    return load_engines(models, store, options, enhancer=settings.enhancer)


def _provenance(settings: Settings, db: Database) -> Any:
    from server.render.provenance import Provenance, ProvenanceOptions
    from server.storage.provenance_keys import ProvenanceKeys

    options = ProvenanceOptions(
        directory=settings.data_dir / "provenance",
        visible_mark=settings.visible_mark,
        c2pa=settings.c2pa,
        c2pa_cert=settings.c2pa_cert_file,
        c2pa_key=settings.c2pa_key_file,
    )
    return Provenance(options, ProvenanceKeys(db))


def _verifier(provenance: Any, settings: Settings, renders: RenderService) -> Any:
    from server.render.verify import Verifier

    return Verifier(provenance, settings.max_upload_bytes, renders.owns)


def _renderer(provenance: Any) -> Renderer:
    from server.render.provenance import StampingRenderer

    return StampingRenderer(provenance)


def _identity_builder(neural_faces: Any = None) -> IdentityBuilder:
    """dlib's identity builder, plus the ArcFace embedding when the recogniser is
    loaded. An embedding failure never fails the upload: the identity is stored
    without one and the first neural render computes it from the texture."""
    from server.faces.identity import build_identity

    if neural_faces is None:
        return build_identity
    from server.faces.embedding import add_embedding

    def build(images: Sequence[Frame], models: Any) -> IdentityData:
        identity = build_identity(images, models)
        try:
            return add_embedding(identity, images, models, neural_faces)
        except Exception:
            log.exception("identity embedding failed; it will be computed at first use")
            return identity

    return build


def _identity_loader(store: IdentityStore, neural_faces: Any) -> Callable[[str, str], IdentityData]:
    """Loads identities for renders; a neural render of an identity without a current
    embedding computes it (from the stored texture) and saves it back, once."""

    def load(identity_id: str, engine: str) -> IdentityData:
        identity = store.load(identity_id)
        if engine != "neural" or neural_faces is None:
            return identity
        from server.faces.embedding import EMBEDDING_KEY, embedding_from_texture, needs_embedding

        if not needs_embedding(identity, neural_faces):
            return identity
        identity = embedding_from_texture(identity, neural_faces)
        info = identity.quality[EMBEDDING_KEY]
        assert identity.embedding is not None and isinstance(info, dict)
        store.save_embedding(identity_id, identity.embedding, info)
        log.info("identity %s: neural embedding computed from its texture", identity_id)
        return identity

    return load
