"""ModelStore: verify, open and warm up the models a worker needs, once.

Built at start-up from explicit arguments (manifest, directory, provider preference,
wanted names); it reads no settings and no environment. ``load()`` never raises for a
missing, corrupt, unlicensed or unloadable model: that model is simply unavailable,
with the reason in its status, and the rest still load. ``status()`` is shaped for a
``GET /readyz`` JSON body.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from server.runtime.manifest import Manifest, ModelEntry
from server.runtime.providers import (
    CPU,
    GpuPresence,
    ProviderError,
    ProviderPlan,
    ProviderPreference,
    check_session_providers,
    choose_providers,
    detect_gpu,
    validate_preference,
)
from server.runtime.sessions import (
    SessionConfig,
    SessionFactory,
    SessionLike,
    create_session,
    signature_mismatch,
    warm_up,
)
from server.runtime.verify import DEFAULT_HASH_CACHE, HashCache, check_file

log = logging.getLogger(__name__)


@dataclass
class ModelStatus:
    """Everything known about one wanted model after ``load()``."""

    name: str
    role: str
    file: str
    license: str
    commercial_use: bool
    license_url: str | None
    pinned: bool
    present: bool = False
    verified: bool = False
    hash_source: str = "none"
    available: bool = False
    provider: str | None = None
    session_providers: tuple[str, ...] = ()
    warmup_ms: float | None = None
    reason: str | None = "not loaded (call ModelStore.load())"
    warning: str | None = None

    @property
    def state(self) -> str:
        """Either ``ready`` or ``unavailable: <reason>``."""
        return "ready" if self.available else f"unavailable: {self.reason}"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready dict (for /readyz)."""
        data: dict[str, object] = asdict(self)
        data["session_providers"] = list(self.session_providers)
        data["state"] = self.state
        return data


class ModelUnavailableError(RuntimeError):
    """A model was asked for but is not available; ``reason`` says why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"model {name!r} unavailable: {reason}")
        self.name = name
        self.reason = reason


class _Unavailable(Exception):
    """Internal: stops loading one model with a reason."""


class ModelStore:
    """The sessions of the wanted models, created once and shared by every request.

    ``providers``: "auto" | "cpu" | "cuda" | "tensorrt" | explicit list of provider
    names. ``names``: models to load (default: every model in the manifest).
    ``available_providers``, ``gpu_present`` and ``session_factory`` are injectable
    for tests (defaults: what onnxruntime reports, :func:`detect_gpu`,
    :func:`create_session`). ``allow_noncommercial=False`` keeps models whose licence
    forbids commercial use unavailable (for commercial deployments).

    With "auto", a GPU session that cannot be created is retried once on CPU and the
    model's ``warning`` says so; with an explicit GPU preference it is unavailable.
    """

    def __init__(
        self,
        manifest: Manifest,
        models_dir: Path | str,
        providers: ProviderPreference = "auto",
        names: Iterable[str] | None = None,
        *,
        session_config: SessionConfig | None = None,
        available_providers: Sequence[str] | None = None,
        gpu_present: GpuPresence = detect_gpu,
        session_factory: SessionFactory | None = None,
        hash_cache: HashCache | None = DEFAULT_HASH_CACHE,
        allow_noncommercial: bool = True,
    ) -> None:
        validate_preference(providers)
        self._names = list(dict.fromkeys(names if names is not None else manifest.names()))
        unknown = [n for n in self._names if n not in manifest.names()]
        if unknown:
            raise ValueError(f"unknown model(s) {unknown} (manifest has {manifest.names()})")
        self.manifest = manifest
        self.models_dir = Path(models_dir)
        self._preference = providers
        self._available = available_providers
        self._gpu = gpu_present
        self._config = session_config or SessionConfig()
        self._factory: SessionFactory = session_factory or create_session
        self._cache = hash_cache
        self._allow_noncommercial = allow_noncommercial
        self._statuses = {name: self._new_status(manifest.get(name)) for name in self._names}
        self._sessions: dict[str, SessionLike] = {}
        self._loaded = False
        self._lock = threading.Lock()

    @property
    def names(self) -> list[str]:
        """The wanted model names, in the order given."""
        return list(self._names)

    def load(self) -> dict[str, ModelStatus]:
        """Verify and open every wanted model (once; later calls return the same result)."""
        with self._lock:
            if not self._loaded:
                plan, plan_error = self._plan()
                for name in self._names:
                    self._load_one(self.manifest.get(name), plan, plan_error)
                self._loaded = True
            return dict(self._statuses)

    def get_session(self, name: str) -> SessionLike:
        """The session of an available model; ModelUnavailableError with the reason else."""
        status = self._status(name)
        session = self._sessions.get(name)
        if session is None:
            raise ModelUnavailableError(name, status.reason or "unknown")
        return session

    def is_available(self, name: str) -> bool:
        return name in self._sessions

    def ready(self, required: Iterable[str] | None = None) -> bool:
        """True when every model in ``required`` (default: all wanted) is available."""
        wanted = list(required) if required is not None else self._names
        return all(self._status(n).available for n in wanted)

    def path(self, name: str) -> Path:
        """Where the model's file lives (engines pass it to insightface / read_emap)."""
        return self.models_dir / self.entry(name).file

    def entry(self, name: str) -> ModelEntry:
        """The manifest entry of a model."""
        return self.manifest.get(name)

    def model_status(self, name: str) -> ModelStatus:
        return self._status(name)

    def status(self) -> dict[str, dict[str, object]]:
        """Per-model status dicts, JSON-ready, keyed by model name."""
        return {name: s.to_dict() for name, s in self._statuses.items()}

    def _status(self, name: str) -> ModelStatus:
        try:
            return self._statuses[name]
        except KeyError:
            raise KeyError(f"model {name!r} is not one of this store's {self._names}") from None

    @staticmethod
    def _new_status(entry: ModelEntry) -> ModelStatus:
        return ModelStatus(
            name=entry.name,
            role=entry.role,
            file=entry.file,
            license=entry.license,
            commercial_use=entry.commercial_use,
            license_url=entry.license_url,
            pinned=entry.pinned,
        )

    def _plan(self) -> tuple[ProviderPlan | None, str | None]:
        try:
            plan = choose_providers(self._preference, self._available, self._gpu)
        except ProviderError as error:
            log.error("execution providers: %s", error)
            return None, str(error)
        log.info(
            "execution providers %s (%s)%s",
            list(plan.providers),
            plan.preference,
            f": {plan.note}" if plan.note else "",
        )
        return plan, None

    def _load_one(
        self, entry: ModelEntry, plan: ProviderPlan | None, plan_error: str | None
    ) -> None:
        status = self._statuses[entry.name]
        try:
            self._verify(entry, status)
            if plan is None:
                raise _Unavailable(plan_error)
            self._sessions[entry.name] = self._open(entry, plan, status)
        except _Unavailable as stop:
            status.available, status.reason = False, str(stop)
            log.warning("model %s: %s", entry.name, status.state)
            return
        status.available, status.reason = True, None
        log.info(
            "model %s: ready on %s (warm-up %.0f ms)%s",
            entry.name,
            status.provider,
            status.warmup_ms or 0.0,
            f"; {status.warning}" if status.warning else "",
        )

    def _verify(self, entry: ModelEntry, status: ModelStatus) -> None:
        check = check_file(entry, self.models_dir / entry.file, self._cache)
        status.present, status.verified = check.present, check.verified
        status.hash_source = check.hash_source
        if not check.verified:
            raise _Unavailable(check.reason)
        if not entry.commercial_use and not self._allow_noncommercial:
            raise _Unavailable(
                f"licence {entry.license} forbids commercial use and this deployment "
                "does not allow non-commercial models"
            )

    def _open(self, entry: ModelEntry, plan: ProviderPlan, status: ModelStatus) -> SessionLike:
        session, plan, retry_warning = self._create(self.models_dir / entry.file, plan)
        status.session_providers = tuple(session.get_providers())
        try:
            status.provider, warning = check_session_providers(session, plan)
        except ProviderError as error:
            raise _Unavailable(str(error)) from error
        status.warning = "; ".join(w for w in (retry_warning, warning) if w) or None
        mismatch = signature_mismatch(session, entry)
        if mismatch:
            raise _Unavailable(f"graph signature differs from the manifest: {mismatch}")
        try:
            status.warmup_ms = round(warm_up(session, entry), 2)
        except Exception as error:
            raise _Unavailable(f"warm-up failed: {one_line(error)}") from error
        return session

    def _create(
        self, path: Path, plan: ProviderPlan
    ) -> tuple[SessionLike, ProviderPlan, str | None]:
        """Create the session; under "auto", retry once on CPU if the GPU one fails."""
        try:
            return self._factory(path, plan.providers, self._config), plan, None
        except Exception as error:  # onnxruntime raises many unrelated types
            failure = one_line(error)
            if plan.required is not None or plan.providers == (CPU,):
                raise _Unavailable(f"session creation failed: {failure}") from error
        cpu_plan = ProviderPlan((CPU,), None, plan.preference)
        warning = f"auto: session on {list(plan.providers)} failed ({failure}); running on CPU"
        log.warning("%s: %s", path.name, warning)
        try:
            return self._factory(path, cpu_plan.providers, self._config), cpu_plan, warning
        except Exception as error:
            raise _Unavailable(f"session creation failed: {one_line(error)}") from error


def one_line(error: BaseException) -> str:
    """An error as ``Type: first line of its message`` (for status reasons)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"
