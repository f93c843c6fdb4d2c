"""ONNX runtime layer: the only package in the product that imports onnxruntime.

- ``manifest``: the model manifest (pydantic), ``load_manifest``.
- ``verify``: streamed sha256 with a per-process cache, size/hash checks.
- ``providers``: execution provider choice and silent-fallback detection.
- ``sessions``: SessionOptions, session creation, signature check, warm-up.
- ``graph``: constants stored in a graph (the inswapper's emap).
- ``model_store``: ``ModelStore``, built once per worker at start-up.
- ``binding``: ``runner_for(session)``: plain ``run`` on CPU, IO binding on CUDA.

Start-up sketch (in ``server/services.py``, once per worker, after the fork)::

    manifest = load_manifest(settings.models_dir / "manifest.json")
    store = ModelStore(manifest, settings.models_dir, providers="auto",
                       names=["det_10g", "w600k_r50", "inswapper_128"])
    store.load()            # never raises for a bad model; see store.status()
    session = store.get_session("inswapper_128")   # ModelUnavailableError + reason
    emap = read_emap(store.path("inswapper_128"))

With insightface's SCRFD pass ``static_shape_sessions=False``: otherwise insightface
2.1 creates extra onnxruntime sessions per input size, outside this package.
"""

from server.runtime.binding import SessionRunner, binding_device, runner_for
from server.runtime.graph import read_emap, read_last_initializer
from server.runtime.manifest import (
    AlignmentTemplate,
    Manifest,
    ManifestError,
    ModelEntry,
    Normalisation,
    TensorSpec,
    load_manifest,
)
from server.runtime.model_store import ModelStatus, ModelStore, ModelUnavailableError
from server.runtime.providers import (
    ProviderError,
    ProviderFallbackError,
    ProviderPlan,
    ProviderPreference,
    check_session_providers,
    choose_providers,
    detect_gpu,
)
from server.runtime.sessions import (
    SessionConfig,
    SessionLike,
    create_session,
    warm_up,
    warmup_shape,
)
from server.runtime.verify import HashCache, check_file, sha256_file

__all__ = [
    "AlignmentTemplate",
    "HashCache",
    "Manifest",
    "ManifestError",
    "ModelEntry",
    "ModelStatus",
    "ModelStore",
    "ModelUnavailableError",
    "Normalisation",
    "ProviderError",
    "ProviderFallbackError",
    "ProviderPlan",
    "ProviderPreference",
    "SessionConfig",
    "SessionLike",
    "SessionRunner",
    "TensorSpec",
    "binding_device",
    "check_file",
    "check_session_providers",
    "choose_providers",
    "create_session",
    "detect_gpu",
    "load_manifest",
    "read_emap",
    "read_last_initializer",
    "runner_for",
    "sha256_file",
    "warm_up",
    "warmup_shape",
]
