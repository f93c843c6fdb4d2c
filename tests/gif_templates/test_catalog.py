"""The catalog: loading, staleness (rebuilt with a warning or unavailable), ids."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis import ANALYSIS_VERSION, load_analysis, save_analysis
from server.gif_templates.catalog import (
    ANALYSIS_NAME,
    PREVIEW_NAME,
    SOURCE_NAME,
    InvalidTemplateIdError,
    TemplateCatalog,
    TemplateManifest,
    TemplateNotFoundError,
    TemplateUnavailableError,
    read_manifest,
    validate_template_id,
)
from server.gif_templates.library import import_template, load_template_from_path
from server.gif_templates.media import read_animation, sha256_file, write_gif
from server.types import Animation, Frame
from tests.gif_templates.helpers import astronaut

LOGGER = "test.catalog"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, models: DlibFaceModels) -> Path:
    """A library with two templates made from the astronaut clip."""
    from skimage import data

    face = data.astronaut()[:, :, ::-1].copy()
    root = tmp_path_factory.mktemp("library")
    clip = tmp_path_factory.mktemp("clips") / "astro.gif"
    write_gif(astronaut(face, n=6), clip)
    for template_id, tags in (("astro", ["space", "smile"]), ("astro-2", ["space"])):
        manifest = TemplateManifest(
            id=template_id, title="Astronaut", tags=tags, source="NASA", license="public domain"
        )
        import_template(clip, root, manifest, models)
    return root


@pytest.fixture
def library(built: Path, tmp_path: Path) -> Path:
    root = tmp_path / "templates"
    shutil.copytree(built, root)
    return root


def _load(root: Path, models: DlibFaceModels | None, rebuild: bool = True) -> TemplateCatalog:
    catalog = TemplateCatalog(root)
    catalog.load(models, rebuild_stale=rebuild, log=logging.getLogger(LOGGER))
    return catalog


def test_load_lists_sorted_templates_with_their_files(library: Path) -> None:
    catalog = _load(library, None, rebuild=False)
    assert len(catalog) == 2 and catalog.ids() == ["astro", "astro-2"]
    assert [t.id for t in catalog.list("smile")] == ["astro"]
    assert [t.id for t in catalog.list()] == ["astro", "astro-2"]
    template = catalog.get("astro")
    assert template is not None and catalog.require("astro") is template
    m = template.manifest
    assert (m.width, m.height, m.frame_count, m.face_count) == (220, 220, 6, 1)
    assert m.duration_ms == 480 and m.license == "public domain"
    assert template.source_path == library / "astro" / SOURCE_NAME
    assert template.analysis.source_sha256 == sha256_file(template.source_path)
    preview = read_animation(template.preview_path)
    assert max(preview.size) <= 160 and len(template.animation().frames) == 6


def _changed_source(folder: Path) -> None:
    anim = read_animation(folder / SOURCE_NAME)
    frames = [f.copy() for f in anim.frames]
    frames[0][:10, :10] = 0
    write_gif(Animation(frames, anim.durations_ms, anim.loop), folder / SOURCE_NAME)


def _old_version(folder: Path) -> None:
    analysis = load_analysis(folder / ANALYSIS_NAME)
    analysis.version = ANALYSIS_VERSION - 1
    save_analysis(analysis, folder / ANALYSIS_NAME)


def _no_analysis(folder: Path) -> None:
    (folder / ANALYSIS_NAME).unlink()


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_changed_source, "source.gif changed"),
        (_old_version, "analysis version"),
        (_no_analysis, "analysis missing"),
    ],
)
def test_stale_analysis_is_rebuilt_with_a_warning(
    library: Path,
    models: DlibFaceModels,
    caplog: pytest.LogCaptureFixture,
    spoil: object,
    reason: str,
) -> None:
    folder = library / "astro"
    spoil(folder)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        catalog = _load(library, models)

    assert any(reason in r.getMessage() and "astro" in r.getMessage() for r in caplog.records)
    template = catalog.require("astro")
    stored = load_analysis(folder / ANALYSIS_NAME)
    assert stored.version == ANALYSIS_VERSION == template.analysis.version
    assert stored.source_sha256 == sha256_file(folder / SOURCE_NAME)
    assert len(template.analysis.tracks) == 1 and len(catalog) == 2


def test_stale_analysis_without_rebuild_is_unavailable_with_the_reason(
    library: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _changed_source(library / "astro")
    before = (library / "astro" / ANALYSIS_NAME).read_bytes()
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        catalog = _load(library, None, rebuild=False)

    assert catalog.ids() == ["astro-2"] and "astro" not in catalog
    assert "source.gif changed" in catalog.unavailable["astro"]
    assert catalog.get("astro") is None
    with pytest.raises(TemplateUnavailableError, match=r"source\.gif changed"):
        catalog.require("astro")
    assert (library / "astro" / ANALYSIS_NAME).read_bytes() == before  # not touched
    assert any("unavailable" in r.getMessage() for r in caplog.records)


def test_broken_manifest_and_missing_preview(library: Path) -> None:
    (library / "astro-2" / "manifest.json").write_text('{"id": "astro-2"}')
    (library / "astro" / PREVIEW_NAME).unlink()
    catalog = _load(library, None, rebuild=True)
    assert "manifest" in catalog.unavailable["astro-2"]
    assert (library / "astro" / PREVIEW_NAME).is_file()  # remade


@pytest.mark.parametrize(
    "bad", ["", "../etc", "a/b", "Astro", "-x", ".hidden", "x" * 65, "a b", "é", "a\n"]
)
def test_bad_template_ids_are_rejected(bad: str, library: Path) -> None:
    with pytest.raises(InvalidTemplateIdError):
        validate_template_id(bad)
    catalog = _load(library, None, rebuild=False)
    assert catalog.get(bad) is None
    with pytest.raises(InvalidTemplateIdError):
        catalog.require(bad)
    with pytest.raises(ValueError):
        TemplateManifest(id=bad, title="t", source="s", license="l")


def test_unknown_id_and_odd_folders(library: Path) -> None:
    (library / "Not_An_Id").mkdir()
    (library / ".staging-x-1").mkdir()
    catalog = _load(library, None, rebuild=False)
    assert catalog.ids() == ["astro", "astro-2"] and not catalog.unavailable
    with pytest.raises(TemplateNotFoundError):
        catalog.require("nope")
    assert validate_template_id("a0_-z") == "a0_-z"


def test_template_from_any_path(
    tmp_path: Path, models: DlibFaceModels, astronaut_bgr: Frame
) -> None:
    clip = tmp_path / "My Clip!.gif"
    write_gif(astronaut(astronaut_bgr, n=4, side=520), clip)  # too big: normalised
    template = load_template_from_path(clip, models, workdir=tmp_path / "work")
    assert template.id == "my-clip" and template.manifest.width == 480
    assert template.source_path.parent == tmp_path / "work"
    assert len(template.analysis.tracks) == 1
    assert read_manifest(tmp_path / "work").face_count == 1
