"""Motion templates: extraction from a clip, the npz store, the library and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.analysis import analyse_animation
from server.gif_templates.catalog import TemplateCatalog, read_manifest
from server.gif_templates.media import read_animation, write_gif
from server.gif_templates.motion import (
    MOTION_NAME,
    MotionError,
    describe_motion,
    load_motion,
    save_motion,
)
from server.gif_templates.motion_authoring import (
    extract_motion,
    fill_missing,
    liveportrait_motion,
    motion_from_clip,
)
from server.types import Frame, MotionData
from tests.render.samples import puppet_clip
from tools import templates as cli

FRAMES, FPS = 24, 12.0


@pytest.fixture(scope="module")
def talking_clip(astronaut_bgr: Frame) -> object:
    return puppet_clip(astronaut_bgr, side=260, frames=FRAMES, fps=FPS)


@pytest.fixture(scope="module")
def motion(talking_clip: object, models: DlibFaceModels) -> MotionData:
    return extract_motion(analyse_animation(talking_clip, models))  # type: ignore[arg-type]


def test_motion_follows_the_clip(motion: MotionData) -> None:
    """The puppet opens its mouth 1.5 times a second and nods 2 degrees at 1 Hz."""
    assert motion.format == "landmarks" and motion.frame_count == FRAMES
    assert motion.shape is not None and motion.pose is not None
    assert motion.shape.shape == (FRAMES, 68, 2) and motion.pose.shape == (FRAMES, 4)
    np.testing.assert_allclose(motion.pose[0], 0.0, atol=1e-6)
    t = np.arange(FRAMES) / FPS
    mouth = 0.8 * np.maximum(0.0, np.sin(np.pi * 3.0 * t)) ** 1.5
    gap = np.linalg.norm(motion.shape[:, [66, 65, 67]] - motion.shape[:, [62, 63, 61]], axis=2)
    assert np.corrcoef(mouth, gap.mean(1))[0, 1] > 0.9
    roll = np.degrees(motion.pose[:, 3])
    assert np.corrcoef(2.0 * np.sin(2 * np.pi * t), roll)[0, 1] > 0.8
    assert 1.0 < np.abs(roll).max() < 3.5  # in degrees, as posed
    # in frame 0's face units: the eyes are one unit apart along x (up to the offline
    # smoothing, which lets later frames' landmarks pull on frame 0's by a few 1e-3)
    eyes = motion.shape[0, 42:48].mean(0) - motion.shape[0, 36:42].mean(0)
    np.testing.assert_allclose(eyes, [1.0, 0.0], atol=3e-3)


def test_gaps_are_filled_by_blending_neighbours() -> None:
    pts = np.zeros((5, 68, 2))
    pts[4] = 4.0
    present = np.array([True, False, False, False, True])
    filled = fill_missing(pts, present)
    np.testing.assert_allclose(filled[:, 0, 0], [0, 1, 2, 3, 4])


def test_store_round_trip_and_refusals(motion: MotionData, tmp_path: Path) -> None:
    path = tmp_path / MOTION_NAME
    save_motion(motion, path)
    back = load_motion(path)
    assert back.durations_ms == motion.durations_ms and back.loop == motion.loop
    assert back.shape is not None and motion.shape is not None
    np.testing.assert_array_equal(back.shape, motion.shape)
    bad = MotionData("landmarks", (100, 100), shape=np.zeros((3, 68, 2), np.float32))
    with pytest.raises(MotionError, match="shape must be"):
        save_motion(bad, tmp_path / "bad.npz")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MotionError):
        load_motion(tmp_path / "obj.npy")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(MotionError):
        load_motion(tmp_path / "junk.npz")


def test_liveportrait_arrays_become_motion() -> None:
    n = 5
    arrays = {
        "fps": np.array(25.0),
        "scale": np.ones((n, 1)),
        "R": np.tile(np.eye(3), (n, 1, 1)),
        "exp": np.zeros((n, 21, 3)),
        "t": np.zeros((n, 3)),
        "c_d_lip": np.zeros((n, 1)),
    }
    motion = liveportrait_motion(arrays)
    assert motion.format == "liveportrait" and motion.durations_ms == (40,) * n
    assert motion.lip is not None and motion.eyes is None
    with pytest.raises(MotionError, match="not a LivePortrait motion"):
        liveportrait_motion({k: v for k, v in arrays.items() if k != "R"})


def test_cli_adds_a_motion_template_without_the_clip(
    talking_clip: object,
    models: DlibFaceModels,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "_models", lambda: models)
    clip = tmp_path / "talk.gif"
    write_gif(talking_clip, clip)  # type: ignore[arg-type]
    lib = tmp_path / "lib"
    argv = ["--dir", str(lib), "add", str(clip), "--kind", "motion", "--id", "talk"]
    code = cli.main([*argv, "--title", "Talk", "--license", "CC0-1.0"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "motion template talk" in out and f"{FRAMES} frames" in out
    folder = lib / "talk"
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", MOTION_NAME, "preview.gif"]
    manifest = read_manifest(folder)
    assert manifest.kind == "motion" and manifest.frame_count == FRAMES
    preview = read_animation(folder / "preview.gif")
    assert max(preview.size) <= 160
    catalog = TemplateCatalog(lib)
    catalog.load(None, rebuild_stale=False)
    template = catalog.require("talk")
    assert template.kind == "motion" and describe_motion(template.motion)["frame_count"] == FRAMES
    assert cli.main(["--dir", str(lib), "list"]) == 0
    assert "motion" in capsys.readouterr().out


def test_cli_imports_liveportrait_npz(
    models: DlibFaceModels, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "_models", lambda: models)
    n = 6
    roll = np.radians(np.linspace(0, 10, n))
    rot = np.zeros((n, 3, 3))
    rot[:, 0, 0] = rot[:, 1, 1] = np.cos(roll)
    rot[:, 0, 1], rot[:, 1, 0], rot[:, 2, 2] = -np.sin(roll), np.sin(roll), 1.0
    npz = tmp_path / "lp.npz"
    np.savez(npz, fps=np.array(30), scale=np.ones((n, 1)), R=rot, exp=np.zeros((n, 21, 3)),
             t=np.zeros((n, 3)))  # fmt: skip
    lib = tmp_path / "lib"
    notice = tmp_path / "LICENSE-LivePortrait.txt"
    notice.write_text("MIT License\n")
    args = ["--dir", str(lib), "add-motion", str(npz), "--id", "lp", "--title", "LP"]
    assert cli.main([*args, "--license", "MIT", "--notice", str(notice)]) == 0
    assert (lib / "lp" / notice.name).read_text() == "MIT License\n"
    assert cli.main([*args, "--force", "--notice", str(tmp_path / "missing.txt")]) == 2
    catalog = TemplateCatalog(lib)
    catalog.load(None, rebuild_stale=False)
    template = catalog.require("lp")
    assert template.motion.format == "liveportrait" and template.manifest.frame_count == n
    assert (lib / "lp" / "preview.gif").is_file()
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, R=np.array([object()], dtype=object))
    assert (
        cli.main(["--dir", str(lib), "add-motion", str(pickled), "--id", "p", "--title", "P"]) == 2
    )


def test_old_manifests_load_as_swap(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    manifest = {"id": "old", "title": "Old", "source": "s", "license": "CC0-1.0"}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert read_manifest(folder).kind == "swap"


def test_a_clip_without_a_face_has_no_motion(tmp_path: Path, models: DlibFaceModels) -> None:
    from server.types import Animation

    blank = Animation([np.full((64, 64, 3), 128, np.uint8)] * 3, [100] * 3)
    write_gif(blank, tmp_path / "blank.gif")
    with pytest.raises(MotionError, match="no face"):
        motion_from_clip(tmp_path / "blank.gif", models)


def test_cli_renders_motion_previews_again(
    models: DlibFaceModels,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "_models", lambda: models)
    n = 5
    npz = tmp_path / "lp.npz"
    rot = np.repeat(np.eye(3)[None], n, 0)
    np.savez(npz, fps=np.array(10), scale=np.ones((n, 1)), R=rot, exp=np.zeros((n, 21, 3)),
             t=np.zeros((n, 3)))  # fmt: skip
    lib = tmp_path / "lib"
    assert cli.main(["--dir", str(lib), "add-motion", str(npz), "--id", "lp", "--title", "LP"]) == 0
    preview = lib / "lp" / "preview.gif"
    made, motion = preview.read_bytes(), (lib / "lp" / MOTION_NAME).read_bytes()
    stale = read_animation(preview)
    write_gif(type(stale)([f // 2 for f in stale.frames], stale.durations_ms, stale.loop), preview)
    capsys.readouterr()
    assert cli.main(["--dir", str(lib), "preview"]) == 0
    assert "lp: preview of 5 frames rendered again" in capsys.readouterr().out
    assert preview.read_bytes() == made  # rendered from the stored motion, as when added
    assert (lib / "lp" / MOTION_NAME).read_bytes() == motion
    assert cli.main(["--dir", str(lib), "preview", "lp"]) == 0
    assert cli.main(["--dir", str(lib), "preview", "missing"]) == 2
    assert "no template 'missing'" in capsys.readouterr().err
