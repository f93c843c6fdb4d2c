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

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from server.faces.identity import FaceError
from server.gif_templates.catalog import MotionTemplate, TemplateError
from server.gif_templates.media import MediaError
from server.settings import Settings, load_settings
from server.types import OUTPUT_FORMATS, Frame, OutputFormat
from server.vision.image_io import ImageError

if TYPE_CHECKING:
    from server.engines import EngineSet
    from server.faces.dlib_models import DlibFaceModels
    from server.gif_templates.catalog import AnyTemplate as Template
    from server.types import IdentityData


class CliError(Exception):
    """Reported as one ``error:`` line, exit status 2."""


@dataclass(frozen=True)
class Request:
    """The parsed, checked command line (before anything heavy is loaded)."""

    people: list[list[Path]]  # one list of selfie files per person
    template: str
    out: Path
    fmt: OutputFormat
    engine: str
    templates_dir: Path | None
    faces: dict[int, int]  # explicit track -> selfie index from --faces


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        request = _request(args)
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.reface", description=(__doc__ or "").split("\n\n")[0]
    )
    parser.add_argument(
        "--selfie",
        action="append",
        nargs="+",
        required=True,
        type=Path,
        metavar="PATH",
        help="photos of one person (repeat --selfie for more people)",
    )
    parser.add_argument("--template", required=True, help="template id or animation file")
    parser.add_argument("--out", required=True, type=Path, help="OUT.gif, OUT.mp4 or OUT.webp")
    parser.add_argument("--engine", default="classic")
    parser.add_argument("--dir", type=Path, help="template library for ids (default: settings)")
    parser.add_argument(
        "--faces",
        nargs="+",
        default=[],
        metavar="TRACK=SELFIE_INDEX",
        help="put selfie SELFIE_INDEX (0-based, in --selfie order) on face track TRACK",
    )
    return parser


def _request(args: argparse.Namespace) -> Request:
    """Everything that can be checked before loading models or decoding images."""
    fmt = args.out.suffix.lower().lstrip(".")
    if fmt not in OUTPUT_FORMATS:
        raise CliError(
            f"--out {args.out}: the extension must be one of "
            f"{', '.join('.' + f for f in OUTPUT_FORMATS)}"
        )
    parent = args.out.parent
    if not parent.is_dir():
        raise CliError(f"--out {args.out}: folder {parent} does not exist")
    people = [list(group) for group in args.selfie]
    for path in (p for group in people for p in group):
        if not path.is_file():
            raise CliError(f"selfie {path}: no such file")
    faces = _parse_faces(args.faces, len(people))
    chosen = next(f for f in OUTPUT_FORMATS if f == fmt)  # the Literal, for type checkers
    return Request(people, args.template, args.out, chosen, args.engine, args.dir, faces)


def _parse_faces(items: Sequence[str], n_people: int) -> dict[int, int]:
    faces: dict[int, int] = {}
    for item in items:
        track, sep, index = item.partition("=")
        if not sep or not track.strip().isdigit() or not index.strip().isdigit():
            raise CliError(f"--faces {item!r}: expected TRACK=SELFIE_INDEX, e.g. 1=0")
        selfie = int(index)
        if selfie >= n_people:
            raise CliError(
                f"--faces {item}: selfie index {selfie} out of range (0..{n_people - 1})"
            )
        faces[int(track)] = selfie
    return faces


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


def face_map(tracks: Sequence[int], explicit: Mapping[int, int], n_people: int) -> dict[int, int]:
    """Track id -> selfie index: track k gets selfie k by default (tracks are ordered
    main face first), ``explicit`` entries win; every selfie must end up used."""
    if not tracks:
        raise CliError("the template has no face to swap")
    mapping = {track: k for k, track in enumerate(sorted(tracks)[:n_people])}
    for track, selfie in explicit.items():
        if track not in tracks:
            known = ", ".join(str(t) for t in sorted(tracks))
            raise CliError(
                f"--faces {track}={selfie}: the template has no face track {track} "
                f"(tracks: {known})"
            )
        mapping[track] = selfie
    unused = sorted(set(range(n_people)) - set(mapping.values()))
    if unused:
        raise CliError(
            f"selfie {unused[0]} is not used: the template has {len(tracks)} face track(s); "
            "map it with --faces TRACK=SELFIE_INDEX"
        )
    return mapping


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
    output = render_by_kind(template, faces, engine, request.fmt, _progress("rendering"))
    atomic_write_bytes(request.out, output.data)
    clip_s = template.manifest.duration_ms / 1000
    took = time.perf_counter() - started
    print(
        f"wrote {request.out}: {output.frame_count} frames, {clip_s:.2f} s clip, "
        f"{len(output.data) / 1024:.0f} KiB, {request.fmt}, engine {engine.name}, "
        f"{took:.2f} s"
    )


def _progress(label: str) -> Callable[[float], None]:
    shown = [-1]

    def report(fraction: float) -> None:
        step = int(fraction * 10)  # every 10 %
        if step > shown[0]:
            shown[0] = step
            print(f"  {label}: {int(fraction * 100)}%", file=sys.stderr, flush=True)

    return report


def _message(exc: BaseException) -> str:
    if isinstance(exc, FaceError | ImageError):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"{exc.filename}: {exc.strerror or exc}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
