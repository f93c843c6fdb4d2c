"""Manage the template library (templates_gifs/ or FACELOOP_TEMPLATES_DIR).

    python -m tools.templates add PATH --id ID --title TITLE [--kind swap|motion]
        [--tags a,b] [--source S --license L] [--force] [--allow-no-face] [--dir DIR]
    python -m tools.templates add-motion FILE.npz --id ID --title TITLE [--tags a,b]
        [--source S --license L] [--notice LICENSE.txt] [--force] [--dir DIR]
    python -m tools.templates analyse [ID] [--dir DIR]
    python -m tools.templates preview [ID] [--dir DIR]
    python -m tools.templates list [--tag TAG] [--dir DIR]

``add`` imports a GIF, MP4/WebM or (animated) WebP. A GIF within the limits (480 px,
10 s, 30 fps) is kept byte for byte; anything else is normalised into a new GIF. The
faces are then analysed (progress on stderr) and a summary printed.

``--kind motion`` keeps only the clip's motion (per-frame landmarks and head pose
relative to its first frame, smoothed, gaps filled) and a preview rendered on a
license-clean face, never the clip's pixels. ``add-motion`` imports a LivePortrait
motion template converted to npz (arrays only) as a motion template of the neural engine.

``preview`` renders the previews of one or all motion templates again from their stored
motion, with the current animator (after the animator changed).

A template without any face is refused (exit 2): nothing could be swapped into it.
``--allow-no-face`` keeps it anyway (the render API then answers "no face track").

Exit status: 0 done, 2 error (one ``error:`` line on stderr: bad path, unsupported
file, invalid or existing id, no face found, unknown template).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis import TemplateAnalysis, main_track_coverage
from server.gif_templates.catalog import (
    TemplateCatalog,
    TemplateError,
    TemplateManifest,
    read_manifest,
    validate_template_id,
)
from server.gif_templates.library import analyse_template_dir, import_template
from server.gif_templates.media import MediaError
from server.gif_templates.motion import MotionError, describe_motion
from server.gif_templates.motion_authoring import (
    add_motion_template,
    motion_from_clip,
    read_liveportrait_npz,
    refresh_preview,
)
from server.settings import load_settings
from server.types import TEMPLATE_KINDS, MotionData, TemplateKind
from tools.progress import stderr_progress

if TYPE_CHECKING:
    from server.faces.neural import FivePointDetector

LOW_COVERAGE = 0.5  # warn when the main face is missing from more than half the frames


class CliError(Exception):
    """Reported as one ``error:`` line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except (CliError, TemplateError, MediaError, MotionError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.templates", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--dir", type=Path, help="template library (default: settings)")
    sub = parser.add_subparsers(dest="command", required=True)
    add = _adding(sub.add_parser("add", help="import a GIF/MP4/WebP as a template"))
    add.add_argument("--allow-no-face", action="store_true")
    add.add_argument("--kind", choices=TEMPLATE_KINDS, default="swap")
    add.set_defaults(run=_cmd_add)

    lp = _adding(sub.add_parser("add-motion", help="import a LivePortrait motion npz"))
    lp.add_argument(
        "--notice",
        type=Path,
        action="append",
        default=[],
        help="licence text to keep beside the motion (repeatable), e.g. LivePortrait's MIT",
    )
    lp.set_defaults(run=_cmd_add_motion)
    analyse = sub.add_parser("analyse", help="redo the analysis of one or all templates")
    analyse.add_argument("template_id", nargs="?")
    analyse.set_defaults(run=_cmd_analyse)
    preview = sub.add_parser("preview", help="render motion templates' previews again")
    preview.add_argument("template_id", nargs="?")
    preview.set_defaults(run=_cmd_preview)
    listing = sub.add_parser("list", help="list templates and their state")
    listing.add_argument("--tag")
    listing.set_defaults(run=_cmd_list)
    for p in (add, lp, analyse, preview, listing):
        p.add_argument("--dir", type=Path, default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _adding(command: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The arguments of every command that adds a template: its file and manifest."""
    command.add_argument("path", type=Path)
    command.add_argument("--id", required=True, dest="template_id")
    command.add_argument("--title", required=True)
    command.add_argument("--tags", default="", help="comma-separated")
    command.add_argument("--source", default="", help="origin and credit (default: the file name)")
    command.add_argument("--license", default="unknown")
    command.add_argument("--force", action="store_true", help="replace an existing template")
    return command


def _templates_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir) if args.dir else load_settings().templates_dir


def _models() -> DlibFaceModels:
    return DlibFaceModels(cnn_fallback=False)


def _manifest(args: argparse.Namespace, kind: TemplateKind) -> TemplateManifest:
    path: Path = args.path
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    validate_template_id(args.template_id)
    tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    try:
        return TemplateManifest(
            id=args.template_id,
            kind=kind,
            title=args.title,
            tags=tags,
            source=args.source or path.name,
            license=args.license,
        )
    except ValueError as exc:
        raise CliError(_pydantic_message(exc)) from exc


def _cmd_add(args: argparse.Namespace) -> None:
    manifest = _manifest(args, args.kind)
    path: Path = args.path
    if args.kind == "motion":
        motion = motion_from_clip(path, _models())
        _add_motion(motion, manifest, args)
        return
    result = import_template(
        path,
        _templates_dir(args),
        manifest,
        _models(),
        force=args.force,
        allow_no_face=args.allow_no_face,
        progress=stderr_progress(f"analysing {args.template_id}", 5),
    )
    how = "kept byte for byte" if result.kept_original else "normalised and re-encoded"
    print(f"added {args.template_id} ({how}) in {result.seconds:.1f} s")
    _summary(args.template_id, result.template.analysis)


def _cmd_add_motion(args: argparse.Namespace) -> None:
    manifest = _manifest(args, "motion")
    for notice in args.notice:
        if not notice.is_file():
            raise CliError(f"no such file: {notice}")
    _add_motion(read_liveportrait_npz(args.path), manifest, args, tuple(args.notice))


def _add_motion(
    motion: MotionData,
    manifest: TemplateManifest,
    args: argparse.Namespace,
    notices: tuple[Path, ...] = (),
) -> None:
    lib = _templates_dir(args)
    template = add_motion_template(motion, lib, manifest, _models(), args.force, notices)
    info = describe_motion(template.motion)
    seconds = info["duration_ms"] / 1000
    print(f"added motion template {template.id}: {info['format']} motion, ", end="")
    print(f"{info['frame_count']} frames, {seconds:.1f} s")


def _folders(args: argparse.Namespace, kind: TemplateKind) -> list[Path]:
    """The folder of template ``args.template_id`` (which must be of ``kind``), or of
    every template of ``kind`` in the library."""
    root = _templates_dir(args)
    if args.template_id:
        folder = root / validate_template_id(args.template_id)
        if not folder.is_dir():
            raise CliError(f"no template {args.template_id!r} in {root}")
        if read_manifest(folder).kind != kind:
            raise CliError(f"{args.template_id!r} is not a {kind} template")
        return [folder]
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    return [f for f in folders if read_manifest(f).kind == kind]


def _cmd_analyse(args: argparse.Namespace) -> None:
    folders = _folders(args, "swap")  # a motion template keeps no clip to analyse
    models = _models()
    five_points = _five_point_detector()
    for folder in folders:
        template = analyse_template_dir(
            folder, models, stderr_progress(f"analysing {folder.name}", 5), five_points
        )
        _summary(folder.name, template.analysis)


def _cmd_preview(args: argparse.Namespace) -> None:
    folders = _folders(args, "motion")
    models = _models()
    for folder in folders:
        preview = refresh_preview(folder, models)
        print(f"{folder.name}: preview of {len(preview.frames)} frames rendered again")


def _five_point_detector() -> FivePointDetector | None:
    """SCRFD (det_10g) when installed and verified: it refines the stored 5-point
    landmarks; without it they are derived from the 68 (both engines work either way)."""
    from server.faces.neural import open_five_point_detector

    settings = load_settings()
    detector = open_five_point_detector(
        settings.models_dir, settings.providers, settings.accept_noncommercial
    )
    print(
        "5-point landmarks: " + ("SCRFD (det_10g)" if detector else "derived from the 68"),
        file=sys.stderr,
    )
    return detector


def _cmd_list(args: argparse.Namespace) -> None:
    catalog = TemplateCatalog(_templates_dir(args))
    quiet = logging.getLogger("tools.templates.list")
    quiet.propagate, quiet.disabled = False, True  # unavailable ones are printed below
    catalog.load(None, rebuild_stale=False, log=quiet)
    rows = [("id", "kind", "frames", "size", "seconds", "faces", "title")]
    for t in catalog.list(args.tag):
        m = t.manifest
        size = f"{m.width}x{m.height}"
        rows.append(
            (
                m.id,
                m.kind,
                str(m.frame_count),
                size,
                f"{m.duration_ms / 1000:.1f}",
                str(m.face_count),
                m.title,
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row[:6], widths, strict=True)) + "  " + row[6])
    for template_id, reason in sorted(catalog.unavailable.items()):
        print(f"{template_id}: unavailable ({reason})")


def _summary(template_id: str, analysis: TemplateAnalysis) -> None:
    frames = analysis.frame_count
    seconds = sum(analysis.durations_ms) / 1000
    print(f"  {frames} frames, {analysis.width}x{analysis.height}, {seconds:.1f} s")
    for track in analysis.tracks:
        tid = track.track_id
        before = analysis.stats.get(f"track{tid}_jitter_raw", float("nan"))
        after = analysis.stats.get(f"track{tid}_jitter_smooth", float("nan"))
        print(
            f"  face track {tid}{' (main)' if tid == 0 else ''}: present in "
            f"{int(track.present.sum())}/{frames} frames (detected {int(track.detected.sum())}), "
            f"~{track.face_size:.0f} px, jitter {before:.4f} -> {after:.4f}"
        )
    print(f"  analysis: {analysis.stats.get('seconds', 0.0):.1f} s")
    if not analysis.tracks:
        print(f"warning: {template_id}: no face found", file=sys.stderr)
    elif main_track_coverage(analysis) < LOW_COVERAGE:
        print(f"warning: {template_id}: the main face is missing from most frames", file=sys.stderr)


def _pydantic_message(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(exc)


if __name__ == "__main__":
    sys.exit(main())
