"""The starter library shipped in templates_gifs/: licensed, analysed, up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.gif_templates.analysis import load_analysis
from server.gif_templates.catalog import (
    ANALYSIS_NAME,
    PREVIEW_NAME,
    SOURCE_NAME,
    TemplateCatalog,
    read_manifest,
    stale_reason,
)
from server.gif_templates.media import read_animation
from server.settings import REPO_ROOT

LIBRARY = REPO_ROOT / "templates_gifs"
FOLDERS = sorted(p for p in LIBRARY.iterdir() if p.is_dir()) if LIBRARY.is_dir() else []
LICENCE_WORDS = ("public domain", "cc0")


def test_library_size_and_a_duet() -> None:
    catalog = TemplateCatalog(LIBRARY)
    catalog.load(None, rebuild_stale=False)
    assert not catalog.unavailable, catalog.unavailable
    assert len(catalog) >= 6
    assert any(t.manifest.face_count >= 2 for t in catalog.list())
    assert sum(p.stat().st_size for f in FOLDERS for p in f.iterdir()) < 8_000_000


@pytest.mark.parametrize("folder", FOLDERS, ids=[f.name for f in FOLDERS])
def test_starter_template(folder: Path) -> None:
    manifest = read_manifest(folder)
    assert manifest.id == folder.name
    assert any(word in manifest.license.lower() for word in LICENCE_WORDS)
    assert "public" in manifest.source.lower() or "faceloop" in manifest.source.lower()
    assert stale_reason(folder) is None  # analysis current for these exact bytes
    source = folder / SOURCE_NAME
    assert source.stat().st_size < 1_500_000
    anim = read_animation(source)
    assert 320 <= max(anim.size) <= 480 and 2000 <= sum(anim.durations_ms) <= 4000
    analysis = load_analysis(folder / ANALYSIS_NAME)
    assert (manifest.width, manifest.height) == anim.size == (analysis.width, analysis.height)
    assert manifest.frame_count == len(anim.frames) == analysis.frame_count
    assert manifest.face_count == len(analysis.tracks) >= 1
    for track in analysis.tracks:
        assert track.present.mean() >= 0.9 and track.detected.mean() >= 0.8
    assert max(read_animation(folder / PREVIEW_NAME).size) <= 160
