"""Request and response bodies of the public API (pydantic; also the OpenAPI source).

Ids in request bodies are plain bounded strings here: a malformed id is simply an
unknown one, answered 404 by the service, like any other id that does not exist.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from server.settings import EngineChoice
from server.types import OutputFormat, TemplateKind

RenderStatus = Literal["queued", "running", "done", "failed"]
IdText = Annotated[str, StringConstraints(min_length=1, max_length=128)]
TrackKey = Annotated[str, StringConstraints(min_length=1, max_length=12)]


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# -- errors ----------------------------------------------------------------------------------
class SelfieWarning(_Out):
    """One coaching finding about one selfie, with a message the app can show."""

    code: str = Field(
        description="head_turned, head_tilted, mouth_open, teeth_showing, eyes_closed, "
        "glasses, face_covered, blurry, too_dark, overexposed, side_light or face_small."
    )
    message: str = Field(description='Short advice for the user, e.g. "Close your mouth".')
    selfie: int = Field(description="Which selfie (0-based).")
    blocking: bool = Field(
        default=False,
        description="True: this selfie cannot be the face texture (head turned too far, "
        "face mostly covered); false: it can, the result may just look worse.",
    )


class ErrorDetail(_Out):
    code: str = Field(description="Stable machine-readable code, e.g. identity_not_found.")
    message: str = Field(description="Human-readable explanation.")
    selfie_index: int | None = Field(
        default=None, description="For upload errors: which selfie (0-based)."
    )
    details: list[dict[str, Any]] | None = Field(
        default=None, description="For validation_error: the offending fields."
    )
    reasons: list[SelfieWarning] | None = Field(
        default=None,
        description="For selfie_unsuitable: every selfie's findings; the blocking ones "
        "are why no selfie could be used.",
    )


class ErrorResponse(_Out):
    """Every error, whatever its status: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


# -- identities ------------------------------------------------------------------------------
class BoxOut(_Out):
    left: int
    top: int
    right: int
    bottom: int


class SelfieOut(_Out):
    index: int
    width: int
    height: int
    face_box: BoxOut
    detector: str
    sharpness: float
    frontality: float = Field(description="1 = frontal, 0 = profile.")
    face_size: int
    score: float = Field(description="Combined quality 0..1, less the warnings' penalties.")
    used_as_texture: bool
    usable: bool = Field(
        default=True, description="False: a blocking problem, it cannot be the texture."
    )
    measures: dict[str, float] = Field(
        default_factory=dict,
        description="What the coaching checks measured (head angles in degrees, mouth and "
        "eye openness, sharpness, lightness...); for diagnosis, names may change.",
    )


class QualityOut(BaseModel):
    """The identity's quality: the texture selfie's figures and every selfie's
    coaching warnings (other keys, such as ``embedding``, pass through)."""

    model_config = ConfigDict(extra="allow")

    score: float | None = None
    frontality: float | None = None
    sharpness: float | None = None
    texture_selfie: int | None = Field(default=None, description="The selfie used as texture.")
    max_pair_distance: float | None = None
    warnings: list[SelfieWarning] = Field(
        default_factory=list, description="Coaching findings of all selfies, in order."
    )

    @field_validator("warnings", mode="before")
    @classmethod
    def _legacy_text(cls, value: Any) -> Any:
        """Identities stored before coaching kept plain sentences here."""
        if isinstance(value, list):
            return [
                {"code": "note", "message": v, "selfie": 0} if isinstance(v, str) else v
                for v in value
            ]
        return value


class IdentityOut(_Out):
    id: str
    created_at: str
    expires_at: str | None = Field(
        None, description="When the identity and its renders are erased (retention)."
    )
    selfies: list[SelfieOut]
    quality: QualityOut


# -- devices ---------------------------------------------------------------------------------
class DeviceCreated(_Out):
    device_id: str
    token: str = Field(
        description="Bearer token for every other /v1 call; shown once, only its hash is kept."
    )


# -- templates -------------------------------------------------------------------------------
class TemplateQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")  # unknown query args (cache busters) are ignored

    tag: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    kind: TemplateKind | None = None
    limit: int = Field(default=20, ge=1, le=100)
    offset: int = Field(default=0, ge=0, le=1_000_000)


class TemplateSummary(_Out):
    id: str
    kind: TemplateKind = Field(
        description="swap: the template's faces are replaced; motion: the identity's own "
        "portrait is animated with the template's motion."
    )
    title: str
    tags: list[str]
    width: int
    height: int
    frame_count: int
    duration_ms: int
    face_count: int
    url: str
    preview_url: str


class TemplatePage(_Out):
    items: list[TemplateSummary]
    total: int = Field(description="Templates matching the filter, over all pages.")
    limit: int
    offset: int
    next_offset: int | None = None
    next: str | None = Field(default=None, description="URL of the next page, if any.")


class FaceTrackOut(_Out):
    track_id: int
    main: bool = Field(description="Swapped with identity_id unless `faces` says otherwise.")


class TemplateFaces(_Out):
    count: int
    main_track: int | None
    tracks: list[FaceTrackOut]


class MotionOut(_Out):
    format: str = Field(description="landmarks (classic animator) or liveportrait (neural).")
    frame_count: int
    duration_ms: int
    durations_ms: list[int] = Field(description="Per frame, as the render's timing.")
    loop: int = Field(description="0: forever.")
    max_roll_deg: float | None = None
    max_shift_iod: float | None = Field(
        default=None, description="Largest head shift, in inter-ocular distances."
    )
    max_mouth_opening_iod: float | None = None
    gaze: bool = Field(
        default=False, description="The clip's eye movements (where the irises look) are replayed."
    )


class TemplateDetail(TemplateSummary):
    manifest: dict[str, Any]
    faces: TemplateFaces
    motion: MotionOut | None = Field(
        default=None, description="A motion template's motion; null for swap templates."
    )


# -- renders ---------------------------------------------------------------------------------
class RenderCreate(BaseModel):
    """Ask for a render. ``faces`` maps template track ids (as strings) to identity ids and
    is merged over the default ``{main track: identity_id}``."""

    model_config = ConfigDict(extra="forbid")

    identity_id: IdText
    template_id: IdText
    format: OutputFormat = "gif"
    faces: dict[TrackKey, IdText] | None = Field(default=None, max_length=32)
    engine: EngineChoice | None = Field(
        default=None,
        description="classic, neural or auto (the most preferred loaded engine that can "
        "render the template: neural when its models are loaded, else classic; for motion "
        "templates the one that plays its motion format). Default: the server's "
        "FACELOOP_DEFAULT_ENGINE (auto). Asking for an engine this server cannot run is a "
        "409 engine_unavailable with the reason.",
    )


class RenderAccepted(_Out):
    id: str
    status: RenderStatus
    status_url: str
    result_url: str | None = None


class RenderFailure(_Out):
    code: str = Field(description="e.g. interrupted, render_failed, engine_unavailable.")
    message: str


class RenderOut(_Out):
    id: str
    status: RenderStatus
    progress: float = Field(ge=0.0, le=1.0)
    result_url: str | None
    error: RenderFailure | None
    created_at: datetime
    updated_at: datetime
    template_id: str
    identity_ids: list[str]
    faces: dict[str, str]
    format: OutputFormat
    engine: str = Field(description="The engine actually used (auto resolved).")
    engine_info: dict[str, Any] = Field(
        default_factory=dict,
        description="The engine's description: version, models (name, sha256, provider, "
        "licence), options.",
    )
    status_url: str


# -- provenance ------------------------------------------------------------------------------
class C2paOut(_Out):
    title: str | None = None
    claim_generator: str | None = Field(None, description="Faceloop when this service signed it.")
    ai_generated: bool = Field(description="The manifest declares trainedAlgorithmicMedia.")
    validation_state: str | None = Field(
        None,
        description="Valid (signature and hashes check; the signer is the service's own CA, "
        "not on public trust lists), Trusted, or Invalid (the file was altered).",
    )


class VerifyLabels(_Out):
    c2pa: C2paOut | None = Field(None, description="C2PA credentials, when still attached.")
    gif_comment: bool | None = Field(
        None, description="GIF only: the 'AI-generated by Faceloop' comment is present."
    )


class VerifyOut(_Out):
    made_here: bool = Field(description="The watermark of one of this service's renders.")
    render_id: str | None = Field(
        None,
        description="That render's id (rnd_...), only for the device that owns it and while"
        " the render exists.",
    )
    score: float = Field(description="Watermark match, -1..1 (unmarked files score near 0).")
    threshold: float = Field(description="Score at or above which made_here is true.")
    format: Literal["gif", "webp", "mp4"]
    frames: int = Field(description="Frames read.")
    labels: VerifyLabels


# -- health ----------------------------------------------------------------------------------
class Health(_Out):
    status: Literal["ok"] = "ok"


class ModelStatusOut(_Out):
    """One ONNX model as this worker loaded it."""

    name: str
    role: str
    file: str
    license: str
    commercial_use: bool
    present: bool
    verified: bool = Field(description="Size and sha256 match the manifest (or the fetch record).")
    available: bool = Field(description="Verified, licensed here, opened and warmed up.")
    provider: str | None = Field(
        description="Execution provider in use, e.g. CPUExecutionProvider."
    )
    state: str = Field(description="ready, or unavailable: <reason>.")
    reason: str | None = None
    warning: str | None = None


class Readiness(_Out):
    ready: bool
    engines: list[str]
    templates: int
    engines_unavailable: dict[str, str] = Field(
        default_factory=dict, description="Engines this worker cannot run, with the reason."
    )
    motion_engines: list[str] = Field(
        default_factory=list, description="Engines that render motion templates here."
    )
    motion_engines_unavailable: dict[str, str] = Field(
        default_factory=dict, description="Motion engines this worker cannot run, and why."
    )
    models: dict[str, ModelStatusOut] = Field(
        default_factory=dict, description="The neural engine's models, by name."
    )
