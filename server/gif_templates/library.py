"""Adding and (re)analysing templates: the work behind ``tools.templates`` and the
catalog's start-up rebuilds, plus on-the-fly templates from any file path.

A GIF that already fits the limits is kept byte for byte as ``source.gif`` (a
re-encode would change the background pixels a render must preserve); anything else
(too big, too long, too fast, or MP4/WebP) is normalised and written as a new GIF.
Analyses always run on the frames decoded from the stored ``source.gif``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis import analyse_animation, save_analysis
from server.gif_templates.catalog import (
    ANALYSIS_NAME,
    MANIFEST_NAME,
    PREVIEW_NAME,
    SOURCE_NAME,
    Template,
    TemplateError,
    TemplateManifest,
    read_manifest,
    validate_template_id,
)
from server.gif_templates.landmarks5 import FivePointDetect
from server.gif_templates.media import (
    UnsupportedMediaError,
    gif_screen,
    normalise,
    read_animation,
    sha256_file,
    sniff_format,
    write_gif,
)
from server.gif_templates.staging import TemplateExistsError as TemplateExistsError
from server.gif_templates.staging import staged_template
from server.storage.atomic import atomic_write_bytes
from server.types import Animation

MAX_SIDE = 480
MAX_SECONDS = 10.0
MAX_FPS = 30.0
PREVIEW_MAX_SIDE = 160
PREVIEW_MAX_FPS = 10.0
PREVIEW_TOLERANCE = 6  # see write_gif: a thumbnail can be a little lossier

Progress = Callable[[float], None]


class NoFaceError(TemplateError):
    pass


@dataclass
class ImportResult:
    template: Template
    kept_original: bool  # source.gif is the input file, byte for byte
    seconds: float


def prepare_source(path: Path, dest: Path) -> bool:
    """Write the template source for ``path`` to ``dest``; True if copied byte for byte."""
    kind = sniff_format(path)
    if kind == "unknown":
        raise UnsupportedMediaError(f"{path.name}: not a GIF, WebP or MP4/WebM video")
    # Decoded only up to a second past the limit (a longer file is trimmed either way),
    # each frame downscaled as it is decoded; the header was checked first.
    anim = read_animation(path, MAX_SECONDS + 1.0, MAX_SIDE, MAX_FPS)
    fitted, changed = normalise(anim, MAX_SIDE, MAX_SECONDS, MAX_FPS)
    if kind == "gif" and not changed and max(gif_screen(path)) <= MAX_SIDE:
        shutil.copyfile(path, dest)
        return True
    write_gif(fitted, dest)
    return False


def write_preview(anim: Animation, dest: Path) -> None:
    """Small animated preview (longer side <= PREVIEW_MAX_SIDE px, <= 10 fps)."""
    small, _ = normalise(anim, PREVIEW_MAX_SIDE, MAX_SECONDS, PREVIEW_MAX_FPS)
    write_gif(small, dest, tolerance=PREVIEW_TOLERANCE)


def build_template(
    folder: Path,
    manifest: TemplateManifest,
    models: DlibFaceModels,
    progress: Progress | None = None,
    require_face: bool = False,
    five_points: FivePointDetect | None = None,
) -> Template:
    """Analyse ``folder/source.gif``; write analysis, preview and manifest (computed fields).

    ``five_points`` (an SCRFD detector) refines the stored 5-point landmarks."""
    source = folder / SOURCE_NAME
    anim = read_animation(source)
    analysis = analyse_animation(
        anim, models, progress, sha256_file(source), five_points=five_points
    )
    if require_face and not analysis.tracks:
        raise NoFaceError(f"no face found in any of its {len(anim.frames)} frames")
    manifest = manifest.with_analysis(analysis)
    save_analysis(analysis, folder / ANALYSIS_NAME)
    write_preview(anim, folder / PREVIEW_NAME)
    _write_text(folder / MANIFEST_NAME, manifest.model_dump_json(indent=2) + "\n")
    return Template(manifest, analysis, source, folder / PREVIEW_NAME)


def analyse_template_dir(
    folder: Path,
    models: DlibFaceModels,
    progress: Progress | None = None,
    five_points: FivePointDetect | None = None,
) -> Template:
    """Redo the analysis (and preview) of an existing template folder."""
    return build_template(folder, read_manifest(folder), models, progress, five_points=five_points)


def import_template(
    path: Path,
    templates_dir: Path,
    manifest: TemplateManifest,
    models: DlibFaceModels,
    force: bool = False,
    allow_no_face: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Add ``path`` as template ``manifest.id``: built in a staging folder, then moved
    into place, so a failed import leaves the library as it was."""
    started = time.perf_counter()
    validate_template_id(manifest.id)
    if not path.is_file():
        raise TemplateError(f"no such file: {path}")
    with staged_template(templates_dir, manifest.id, force) as staging:
        kept = prepare_source(path, staging / SOURCE_NAME)
        try:
            template = build_template(staging, manifest, models, progress, not allow_no_face)
        except NoFaceError as exc:
            raise NoFaceError(f"{path.name}: {exc} (--allow-no-face keeps it anyway)") from None
    target = templates_dir / manifest.id
    final = Template(
        template.manifest, template.analysis, target / SOURCE_NAME, target / PREVIEW_NAME
    )
    return ImportResult(final, kept, time.perf_counter() - started)


def load_template_from_path(
    path: str | Path, models: DlibFaceModels, workdir: str | Path | None = None
) -> Template:
    """A template made on the fly from any GIF/WebP/MP4 (e.g. the reface CLI's input).

    Normalised like an import into ``workdir`` (a new temporary folder when None; the
    caller may delete it once done). Not added to any catalog.
    """
    src = Path(path)
    if not src.is_file():
        raise TemplateError(f"no such file: {src}")
    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="template-"))
    folder.mkdir(parents=True, exist_ok=True)
    prepare_source(src, folder / SOURCE_NAME)
    manifest = TemplateManifest(
        id=_id_from_name(src.stem), title=src.name, source=str(src), license="unknown"
    )
    return build_template(folder, manifest, models)


def _id_from_name(stem: str) -> str:
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "-_") else "-" for c in stem)
    cleaned = cleaned.lower().strip("-_")[:64] or "template"
    return validate_template_id(cleaned)


def _write_text(path: Path, text: str) -> None:
    """Atomic write (several workers may rebuild the same template at start-up)."""
    atomic_write_bytes(path, text.encode("utf-8"))
