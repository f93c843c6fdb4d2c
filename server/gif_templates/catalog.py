"""The template library on disk: ``<templates_dir>/<id>/`` folders, checked at start-up.

Each folder holds ``source.gif`` (the animation renders use), ``manifest.json``
(:class:`TemplateManifest`, see :mod:`.manifest`), ``analysis.npz`` (face tracks, see
:mod:`.analysis`) and ``preview.gif`` (small animated preview). A ``kind: motion``
template holds no source: its ``motion.npz`` (:mod:`.motion`) and a preview rendered on
a license-clean face. An analysis that is missing, unreadable, of another
``ANALYSIS_VERSION`` or made from other source bytes is never used: it is rebuilt with
a logged warning, or (``rebuild_stale=False``) the template is listed as
unavailable with the reason.
"""

from __future__ import annotations

import builtins
import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis import (
    ANALYSIS_VERSION,
    AnalysisError,
    TemplateAnalysis,
    load_analysis,
)
from server.gif_templates.manifest import (
    ANALYSIS_NAME,
    MANIFEST_NAME,
    PREVIEW_NAME,
    SOURCE_NAME,
    TemplateManifest,
    TemplateNotFoundError,
    TemplateUnavailableError,
    is_template_id,
    read_manifest,
    validate_template_id,
)
from server.gif_templates.manifest import (  # the library's errors, importable from here too
    InvalidTemplateIdError as InvalidTemplateIdError,
)
from server.gif_templates.manifest import TemplateError as TemplateError
from server.gif_templates.media import read_animation, sha256_file
from server.gif_templates.motion import MOTION_NAME, MotionError, load_motion
from server.storage.atomic import clean_strays
from server.types import Animation, MotionData, TemplateKind

_log = logging.getLogger(__name__)


@dataclass
class Template:
    """A usable template: its manifest, analysis and files."""

    manifest: TemplateManifest
    analysis: TemplateAnalysis
    source_path: Path
    preview_path: Path  # may be missing on disk if it could not be made

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def kind(self) -> TemplateKind:
        return "swap"

    def animation(self) -> Animation:
        """Decode the source (the frames the analysis indexes)."""
        return read_animation(self.source_path)


@dataclass
class MotionTemplate:
    """A usable motion template: its manifest, motion and files (no source pixels)."""

    manifest: TemplateManifest
    motion: MotionData
    motion_path: Path
    preview_path: Path
    motion_sha256: str

    @property
    def id(self) -> str:
        return self.manifest.id

    @property
    def kind(self) -> TemplateKind:
        return "motion"


AnyTemplate = Template | MotionTemplate


def stale_reason(folder: Path) -> str | None:
    """Why ``folder``'s analysis cannot be used as is, or None if it is current."""
    path = folder / ANALYSIS_NAME
    if not path.is_file():
        return "analysis missing"
    try:
        analysis = load_analysis(path)
    except AnalysisError as exc:
        return f"analysis unreadable ({exc})"
    if analysis.version != ANALYSIS_VERSION:
        return f"analysis version {analysis.version}, current is {ANALYSIS_VERSION}"
    if analysis.source_sha256 != sha256_file(folder / SOURCE_NAME):
        return "source.gif changed since it was analysed"
    return None


class TemplateCatalog:
    """All templates of ``templates_dir``; call :meth:`load` once at start-up."""

    def __init__(self, templates_dir: str | Path) -> None:
        self.templates_dir = Path(templates_dir)
        self._templates: dict[str, AnyTemplate] = {}
        self.unavailable: dict[str, str] = {}  # id -> reason

    def load(
        self,
        models: DlibFaceModels | None,
        rebuild_stale: bool = True,
        log: logging.Logger | None = None,
    ) -> None:
        """Scan the folders; rebuild stale analyses (with ``models``) or mark them unavailable."""
        log = log or _log
        self._templates, self.unavailable = {}, {}
        if not self.templates_dir.is_dir():
            log.warning("templates dir %s does not exist: no templates", self.templates_dir)
            return
        clean_strays(self.templates_dir)  # staging folders of imports that died
        for folder in sorted(p for p in self.templates_dir.iterdir() if p.is_dir()):
            if folder.name.startswith("."):
                continue  # staging folders of an import in progress
            if not is_template_id(folder.name):
                log.warning("ignoring %s: not a valid template id", folder.name)
                continue
            try:
                self._templates[folder.name] = self._load_one(folder, models, rebuild_stale, log)
            except TemplateUnavailableError as exc:
                self.unavailable[folder.name] = str(exc)
                log.warning("template %s unavailable: %s", folder.name, exc)

    def _load_one(
        self, folder: Path, models: DlibFaceModels | None, rebuild: bool, log: logging.Logger
    ) -> AnyTemplate:
        try:
            manifest = read_manifest(folder)
        except (OSError, ValidationError) as exc:
            raise TemplateUnavailableError(f"bad {MANIFEST_NAME}: {_first_line(exc)}") from exc
        if manifest.id != folder.name:
            raise TemplateUnavailableError(f"manifest id {manifest.id!r} != folder name")
        if manifest.kind == "motion":
            return load_motion_template(folder, manifest)
        if not (folder / SOURCE_NAME).is_file():
            raise TemplateUnavailableError(f"{SOURCE_NAME} missing")
        reason = stale_reason(folder)
        if reason is not None:
            if not rebuild or models is None:
                raise TemplateUnavailableError(f"{reason}; not rebuilt")
            log.warning("template %s: %s; rebuilding the analysis", folder.name, reason)
            from server.gif_templates.library import analyse_template_dir

            try:
                return analyse_template_dir(folder, models)
            except Exception as exc:  # one broken template must not stop the service
                raise TemplateUnavailableError(f"rebuild failed: {_first_line(exc)}") from exc
        analysis = load_analysis(folder / ANALYSIS_NAME)
        preview = folder / PREVIEW_NAME
        if not preview.is_file() and rebuild:
            from server.gif_templates.library import write_preview

            write_preview(read_animation(folder / SOURCE_NAME), preview)
        return Template(manifest.with_analysis(analysis), analysis, folder / SOURCE_NAME, preview)

    def list(self, tag: str | None = None, kind: str | None = None) -> list[AnyTemplate]:
        """Available templates sorted by id, optionally only those with ``tag`` / ``kind``."""
        items = [self._templates[k] for k in sorted(self._templates)]
        return [
            t
            for t in items
            if (tag is None or tag in t.manifest.tags) and (kind is None or t.kind == kind)
        ]

    def get(self, template_id: str) -> AnyTemplate | None:
        """The available template with this id, else None (unknown, unavailable or not
        an id at all); :meth:`require` says why."""
        return self._templates.get(template_id) if isinstance(template_id, str) else None

    def require(self, template_id: str) -> AnyTemplate:
        """The template, or TemplateNotFoundError / TemplateUnavailableError (with reason)."""
        validate_template_id(template_id)
        if template_id in self._templates:
            return self._templates[template_id]
        if template_id in self.unavailable:
            reason = self.unavailable[template_id]
            raise TemplateUnavailableError(f"template {template_id} unavailable: {reason}")
        raise TemplateNotFoundError(f"no template {template_id!r}")

    def ids(self) -> builtins.list[str]:
        return sorted(self._templates)

    def __len__(self) -> int:
        return len(self._templates)

    def __contains__(self, template_id: object) -> bool:
        return template_id in self._templates


def load_motion_template(folder: Path, manifest: TemplateManifest) -> MotionTemplate:
    """A motion template folder as renders use it (TemplateUnavailableError if broken)."""
    path = folder / MOTION_NAME
    try:
        motion = load_motion(path)
    except MotionError as exc:
        raise TemplateUnavailableError(f"bad {MOTION_NAME}: {exc}") from exc
    manifest = manifest.with_motion(motion, manifest.width, manifest.height)
    return MotionTemplate(manifest, motion, path, folder / PREVIEW_NAME, sha256_file(path))


def _first_line(exc: BaseException) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "manifest"
        return f"{where}: {err['msg']}"
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
