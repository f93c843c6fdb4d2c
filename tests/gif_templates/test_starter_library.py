"""The starter library shipped in templates_gifs/: licensed, analysed, up to date."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.gif_templates.analysis import load_analysis
from server.gif_templates.catalog import (
    ANALYSIS_NAME,
    MANIFEST_NAME,
    PREVIEW_NAME,
    SOURCE_NAME,
    TemplateCatalog,
    read_manifest,
    stale_reason,
)
from server.gif_templates.media import read_animation
from server.gif_templates.motion import MOTION_NAME, load_motion
from server.settings import REPO_ROOT

LIBRARY = REPO_ROOT / "templates_gifs"
ALL_FOLDERS = sorted(p for p in LIBRARY.iterdir() if p.is_dir()) if LIBRARY.is_dir() else []
FOLDERS = [f for f in ALL_FOLDERS if read_manifest(f).kind == "swap"]
MOTION_FOLDERS = [f for f in ALL_FOLDERS if read_manifest(f).kind == "motion"]
LICENCE_WORDS = ("public domain", "cc0")


def test_library_size_and_a_duet() -> None:
    catalog = TemplateCatalog(LIBRARY)
    catalog.load(None, rebuild_stale=False)
    assert not catalog.unavailable, catalog.unavailable
    assert len(catalog) >= 6
    assert any(t.manifest.face_count >= 2 for t in catalog.list())
    assert sum(p.stat().st_size for f in ALL_FOLDERS for p in f.iterdir()) < 8_000_000
    motion = catalog.list(kind="motion")
    assert len(motion) >= 4
    tags = {tag for t in motion for tag in t.manifest.tags}
    assert {"nod", "smile", "talk", "wink"} <= tags


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


@pytest.mark.parametrize("folder", MOTION_FOLDERS, ids=[f.name for f in MOTION_FOLDERS])
def test_starter_motion_template(folder: Path) -> None:
    """Only the motion and a preview on a public-domain face: never a clip's pixels."""
    manifest = read_manifest(folder)
    assert manifest.id == folder.name and manifest.kind == "motion"
    names = {p.name for p in folder.iterdir()}
    assert names <= {MANIFEST_NAME, MOTION_NAME, PREVIEW_NAME, "LICENSE-LivePortrait.txt"}
    motion = load_motion(folder / MOTION_NAME)
    assert manifest.frame_count == motion.frame_count >= 10
    assert manifest.duration_ms == sum(motion.durations_ms)
    licence = manifest.license.lower()
    if motion.format == "liveportrait":
        assert "mit" in licence and "LivePortrait" in manifest.source
        notice = (folder / "LICENSE-LivePortrait.txt").read_text()
        assert "MIT License" in notice and "Copyright (c) 2024 Kuaishou" in notice
    else:
        assert any(word in licence for word in LICENCE_WORDS)
        assert "public" in manifest.source.lower()
    assert max(read_animation(folder / PREVIEW_NAME).size) <= 160
