"""Reface a template from the command line, without the server.

    python -m tools.reface --selfie PATH [PATH ...] [--selfie PATH ...]
        --template ID_OR_PATH --out OUT.gif|.mp4|.webp [--engine classic]
        [--dir TEMPLATES_DIR] [--faces TRACK=SELFIE_INDEX ...]

Each ``--selfie`` is one person: one to five photos of them, which become one identity
(the same builder, decoding and limits as the API's upload). ``--template`` is a
template id from the library (FACELOOP_TEMPLATES_DIR, or ``--dir``) or any GIF, MP4 or
WebP file, analysed on the fly in a temporary folder that is removed afterwards.

Faces: face track k gets selfie k (track 0, the main face, gets the first selfie);
``--faces 1=0`` also puts selfie 0 on track 1. Every selfie must be used. A motion
template (``--template motion-smile``) animates the one selfie's own portrait.

The render runs through ``server.render.motion.render_by_kind`` (the server's renderer:
swap or motion by the template's kind) with the engine chosen (``classic``, ``neural``
or ``auto``), the output format follows OUT's extension and OUT is written atomically.
Progress goes to stderr, a one-line summary to stdout.

Exit status: 0 done, 2 error (one ``error:`` line on stderr: unreadable or faceless
selfie, unknown template, bad extension or face mapping).
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from server.faces.identity import FaceError
from server.gif_templates.catalog import MotionTemplate, TemplateError
from server.gif_templates.media import MediaError
from server.settings import Settings, load_settings
from server.types import Frame
from server.vision.image_io import ImageError
from tools.progress import stderr_progress
from tools.reface_args import CliError, Request, face_map, parse_request, parser

if TYPE_CHECKING:
    from server.engines import EngineSet
    from server.faces.dlib_models import DlibFaceModels
    from server.gif_templates.catalog import AnyTemplate as Template
    from server.types import IdentityData


def main(argv: Sequence[str] | None = None) -> int:
    args = parser((__doc__ or "").split("\n\n")[0]).parse_args(argv)
    try:
        request = parse_request(args)
        settings = load_settings()
        _run(request, settings)
    except (CliError, FaceError, ImageError, TemplateError, MediaError, OSError) as exc:
        print(f"error: {_message(exc)}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # FACELOOP_* settings that do not parse
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first["loc"])
        print(f"error: settings: {where}: {first['msg']}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    return 0


# -- the work --------------------------------------------------------------------------------
def _models() -> DlibFaceModels:
    """The server's detector set (tests patch this to share one instance)."""
    from server.faces.dlib_models import DlibFaceModels

    return DlibFaceModels()


def _run(request: Request, settings: Settings) -> None:
    from server.engines import load_engines
    from server.engines.registry import CHOICES

    started = time.perf_counter()
    if request.engine not in CHOICES:
        raise CliError(f"unknown engine {request.engine!r} (choices: {', '.join(CHOICES)})")
    models = _models()
    built = load_engines(models)
    with tempfile.TemporaryDirectory(prefix="faceloop-reface-") as workdir:
        template = _template(request, settings, models, Path(workdir))
        engine = _engine(request.engine, template, built)
        mapping = face_map(_track_ids(template), request.faces, len(request.people))
        people = enumerate(request.people)
        identities = [_identity(i, group, models, settings) for i, group in people]
        _render_and_write(request, template, mapping, identities, engine, started)


def _engine(requested: str, template: Template, built: EngineSet) -> Any:
    """The registry's pick among the engines loaded here for the template's kind."""
    from server.engines.registry import EngineUnavailable, resolve

    motion = template.kind == "motion"
    engines: Mapping[str, Any] = built.motion if motion else built.engines
    unavailable = built.motion_unavailable if motion else built.unavailable
    fmt = template.motion.format if isinstance(template, MotionTemplate) else None
    try:
        return engines[resolve(requested, template.kind, engines, unavailable, fmt)]
    except EngineUnavailable as exc:
        raise CliError(str(exc)) from None


def _identity(
    person: int, paths: Sequence[Path], models: DlibFaceModels, settings: Settings
) -> IdentityData:
    from server.faces.identity import build_identity

    if len(paths) > settings.max_selfies:
        raise CliError(f"at most {settings.max_selfies} selfies per person (per --selfie)")
    frames = [_decode(path, settings) for path in paths]
    try:
        identity = build_identity(frames, models)
    except FaceError as exc:
        which = paths[exc.selfie_index] if exc.selfie_index is not None else paths[0]
        raise CliError(f"selfie {which}: {exc.code}: {exc.message}") from None
    label = f"selfie {person} ({', '.join(p.name for p in paths)})"
    warnings = identity.quality.get("warnings")
    for w in warnings if isinstance(warnings, list) else []:
        where = paths[int(w["selfie"])].name
        print(f"warning: {label}: {where}: {w['code']}: {w['message']}", file=sys.stderr)
    print(f"identity {person}: quality {identity.quality.get('score')}", file=sys.stderr)
    return identity


def _decode(path: Path, settings: Settings) -> Frame:
    """Decode like the API's upload: size limits, type sniffing, degenerate images
    refused, EXIF, shrunk while decoding."""
    from server.identities import MAX_SELFIE_SIDE
    from server.vision.selfie_input import SelfieLimits, decode_selfie

    s = settings
    limits = SelfieLimits(
        s.max_upload_bytes, s.max_upload_pixels, MAX_SELFIE_SIDE, s.max_decode_bytes
    )
    try:
        return decode_selfie(path.read_bytes(), limits)
    except ImageError as exc:
        raise CliError(f"selfie {path}: {exc.code}: {exc.message}") from None


def _template(
    request: Request, settings: Settings, models: DlibFaceModels, workdir: Path
) -> Template:
    """A file path is analysed on the fly (in ``workdir``); anything else is an id."""
    from server.gif_templates.catalog import TemplateCatalog
    from server.gif_templates.library import load_template_from_path

    path = Path(request.template)
    if path.is_file():
        print(f"analysing {path.name} ...", file=sys.stderr, flush=True)
        return load_template_from_path(path, models, workdir)
    if path.suffix or len(path.parts) > 1:
        raise CliError(f"template {request.template}: no such file")
    root = request.templates_dir or settings.templates_dir
    catalog = TemplateCatalog(root)
    catalog.load(None, rebuild_stale=False, log=_quiet_log())
    try:
        return catalog.require(request.template)
    except TemplateError as exc:
        hint = ""
        if request.template in catalog.unavailable:
            hint = f" (python -m tools.templates analyse {request.template} --dir {root})"
        raise CliError(f"{_message(exc)} in {root}{hint}") from None


def _quiet_log() -> logging.Logger:
    """A logger that drops the catalog's per-template warnings (we report the one asked)."""
    log = logging.getLogger("tools.reface.catalog")
    log.propagate, log.disabled = False, True
    return log


def _track_ids(template: Template) -> list[int]:
    if isinstance(template, MotionTemplate):
        return [0]  # the selfie's own portrait
    return [int(t.track_id) for t in template.analysis.tracks]


def _render_and_write(
    request: Request,
    template: Template,
    mapping: Mapping[int, int],
    identities: Sequence[IdentityData],
    engine: Any,
    started: float,
) -> None:
    from server.render.motion import render_by_kind
    from server.storage.atomic import atomic_write_bytes

    faces = {track: identities[selfie] for track, selfie in mapping.items()}
    output = render_by_kind(template, faces, engine, request.fmt, stderr_progress("rendering"))
    atomic_write_bytes(request.out, output.data)
    clip_s = template.manifest.duration_ms / 1000
    took = time.perf_counter() - started
    print(
        f"wrote {request.out}: {output.frame_count} frames, {clip_s:.2f} s clip, "
        f"{len(output.data) / 1024:.0f} KiB, {request.fmt}, engine {engine.name}, "
        f"{took:.2f} s"
    )


def _message(exc: BaseException) -> str:
    if isinstance(exc, FaceError | ImageError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
