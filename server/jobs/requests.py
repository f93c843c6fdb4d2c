"""Turning a render request into a validated plan with a stable identical-request key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from server.engines.registry import EngineUnavailable, resolve
from server.jobs.ports import TemplateSource
from server.storage.errors import Conflict, Invalid, NotFound
from server.storage.identities import IdentityStore
from server.storage.ids import is_valid_id
from server.types import OUTPUT_FORMATS, MotionFormat, OutputFormat, TemplateKind

KEY_VERSION = 1  # bump when rendering changes enough that old results must not be reused
_TRACK_KEY_MAX = 6


@dataclass(frozen=True)
class RenderRequest:
    """What a client asks for (after schema validation in the API layer).

    ``faces`` maps template track ids (decimal strings) to identity ids and is merged
    over the default ``{main track: identity_id}`` (a motion template has one track, 0:
    the identity's portrait). ``engine``: a name of :mod:`server.engines.registry` or
    "auto" (the most preferred loaded one that can render the template); None means
    the server's default.
    """

    identity_id: str
    template_id: str
    format: OutputFormat = "gif"
    faces: Mapping[str, str] = field(default_factory=dict)
    engine: str | None = None
    device_id: str | None = None  # who asks: only its own identities, its own results


@dataclass(frozen=True)
class RenderPlan:
    template_id: str
    template_sha256: str
    faces: dict[str, str]
    identity_ids: list[str]
    format: OutputFormat
    engine: str
    key: str
    engine_info: dict[str, Any] = field(default_factory=dict)  # the engine's describe()


def plan_request(
    request: RenderRequest,
    templates: TemplateSource,
    identities: IdentityStore,
    engines: Mapping[str, Any],
    default_engine: str,
    unavailable: Mapping[str, str] | None = None,
    motion_engines: Mapping[str, Any] | None = None,
    motion_unavailable: Mapping[str, str] | None = None,
) -> RenderPlan:
    """Validate ids, tracks, format and engine; NotFound / Invalid / Conflict if not.

    ``engines`` / ``motion_engines``: the loaded swap / motion engines by name;
    ``unavailable`` / ``motion_unavailable`` map engines this process cannot run to the
    reason, which a Conflict(engine_unavailable) then carries."""
    if request.format not in OUTPUT_FORMATS:
        raise Invalid(f"format must be one of {', '.join(OUTPUT_FORMATS)}", "validation_error")
    template = find_template(templates, request.template_id)
    if getattr(template, "kind", "swap") == "motion":  # entries without a kind swap
        return _plan_motion(
            request,
            template,
            identities,
            motion_engines or {},
            default_engine,
            motion_unavailable,
        )
    analysis = template.analysis
    faces = _face_map(request, [int(t.track_id) for t in analysis.tracks], analysis.main_track)
    ordered = [faces[k] for k in sorted(faces, key=int)]
    identity_ids = list(dict.fromkeys(ordered))
    for identity_id in identity_ids:
        if not _owned(identities, identity_id, request.device_id):
            raise NotFound(f"identity {identity_id!r} not found", "identity_not_found")
    engine = resolve_engine(request.engine or default_engine, engines, unavailable)
    info = engine_info(engines[engine])
    sha = str(analysis.source_sha256)
    key = request_key(request.template_id, sha, request.format, faces, engine, info)
    if request.device_id is not None:  # identical requests are shared within a device only
        key = hashlib.sha256(f"{request.device_id}:{key}".encode()).hexdigest()
    return RenderPlan(
        request.template_id, sha, faces, identity_ids, request.format, engine, key, info
    )


def _owned(identities: IdentityStore, identity_id: str, device_id: str | None) -> bool:
    """The identity exists and (when a device asks) belongs to that device."""
    try:
        owner = identities.owner(identity_id)
    except NotFound:
        return False
    return device_id is None or owner == device_id


def find_template(templates: TemplateSource, template_id: str) -> Any:
    """The catalog entry, or NotFound(template_not_found) (malformed ids included)."""
    template = templates.get(template_id) if is_valid_id("template", template_id) else None
    if template is None:
        raise NotFound(f"template {template_id!r} not found", "template_not_found")
    return template


def _plan_motion(
    request: RenderRequest,
    template: Any,
    identities: IdentityStore,
    engines: Mapping[str, Any],
    default_engine: str,
    unavailable: Mapping[str, str] | None,
) -> RenderPlan:
    """A motion template animates one identity's portrait (track 0)."""
    faces = _face_map(request, [0], 0)
    identity_id = faces["0"]
    if not identities.exists(identity_id):
        raise NotFound(f"identity {identity_id!r} not found", "identity_not_found")
    if not identities.has_portrait(identity_id):
        raise Conflict(
            f"identity {identity_id!r} was made before motion templates existed and has no "
            "portrait to animate; upload its selfies again to make a new identity",
            "identity_needs_reupload",
        )
    engine = resolve_engine(
        request.engine or default_engine, engines, unavailable, "motion", template.motion.format
    )
    info = engine_info(engines[engine])
    sha = str(template.motion_sha256)
    key = request_key(request.template_id, sha, request.format, faces, engine, info)
    return RenderPlan(
        request.template_id, sha, faces, [identity_id], request.format, engine, key, info
    )


def resolve_engine(
    requested: str,
    engines: Mapping[str, Any],
    unavailable: Mapping[str, str] | None = None,
    kind: TemplateKind = "swap",
    motion_format: MotionFormat | None = None,
) -> str:
    """The registry's choice (see :func:`server.engines.registry.resolve`): "auto" picks
    the most preferred loaded engine; a named one must be loaded and able, else
    Conflict(engine_unavailable) with the reason."""
    try:
        return resolve(requested, kind, engines, unavailable, motion_format)
    except EngineUnavailable as exc:
        raise Conflict(str(exc), "engine_unavailable") from None


def engine_info(engine: Any) -> dict[str, Any]:
    """The engine's ``describe()`` (name, version, models, options) as plain JSON."""
    describe = getattr(engine, "describe", None)
    if not callable(describe):
        return {}
    return dict(json.loads(json.dumps(describe(), default=str)))


def request_key(
    template_id: str,
    template_sha256: str,
    fmt: str,
    faces: Mapping[str, str],
    engine: str,
    info: Mapping[str, Any] | None = None,
) -> str:
    """SHA-256 over everything that determines the output: the resolved engine, and
    from its ``info`` the version, model files and options (not the provider: CPU and
    GPU runs of the same models count as the same render)."""
    data = info or {}
    models = [
        [m.get("name"), m.get("sha256")] if isinstance(m, dict) else m
        for m in data.get("models", [])
    ]
    blob = json.dumps(
        {
            "v": KEY_VERSION,
            "template": [template_id, template_sha256],
            "format": fmt,
            "faces": sorted((int(k), v) for k, v in faces.items()),
            "engine": [engine, data.get("version"), models, data.get("options")],
        },
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _face_map(request: RenderRequest, track_ids: list[int], main_track: Any) -> dict[str, str]:
    main = _track_id(main_track)
    if main is None:
        raise Invalid(f"template {request.template_id!r} has no face to swap", "no_face_track")
    faces = {str(main): request.identity_id}
    for key, identity_id in request.faces.items():
        track = _parse_track(key)
        if track is None or track not in track_ids:
            known = ", ".join(str(t) for t in track_ids)
            raise Invalid(
                f"unknown face track {key!r}; this template has: {known}", "unknown_track"
            )
        faces[str(track)] = identity_id
    return faces


def _parse_track(key: str) -> int | None:
    if not (isinstance(key, str) and key.isascii() and key.isdigit()) or len(key) > _TRACK_KEY_MAX:
        return None
    return int(key)


def _track_id(track: Any) -> int | None:
    """The catalog's main track as an int id (it may hand the id or the track)."""
    if track is None:
        return None
    if isinstance(track, int):
        return track
    return int(track.track_id)
