"""python -m tools.reface end to end: a generated template (a file, or an id in a
library) and a package-shipped face, every output format, and the error paths (one
``error:`` line, exit status 2, no traceback, no output file)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from server.gif_templates.catalog import TemplateManifest
from server.gif_templates.library import import_template
from server.gif_templates.media import read_animation, write_gif
from server.types import Animation
from tests.conftest import encode_image
from tests.render.samples import astronaut, dlib_models, encode_png, puppet_clip, t1_face
from tools import reface

FRAMES = 8
DURATION_MS = 80


@pytest.fixture(autouse=True)
def shared_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reface, "_models", dlib_models)  # load dlib once per session


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A talking astronaut GIF (200 px, 8 frames), a duet of two faces side by side,
    selfies as PNG/JPEG, a library holding the astronaut clip, and bad inputs."""
    root = tmp_path_factory.mktemp("reface")
    clip = puppet_clip(astronaut(), side=200, frames=FRAMES)
    write_gif(clip, root / "astro.gif")
    duet_frames = [np.hstack([f, f[:, ::-1]]) for f in clip.frames]
    write_gif(Animation(duet_frames, clip.durations_ms, 0), root / "duet.gif")
    encode_png(t1_face("david"), root / "david.png")
    (root / "jennifer.jpg").write_bytes(encode_image(t1_face("jennifer")))
    plain = np.full((160, 200, 3), 120, np.uint8)
    plain[:, :100] = (30, 60, 200)
    encode_png(plain, root / "wall.png")
    (root / "notes.jpg").write_text("not an image")
    (root / "cut.png").write_bytes((root / "david.png").read_bytes()[:3000])
    manifest = TemplateManifest(
        id="astro-talk", title="Astronaut talks", source="skimage astronaut", license="PD"
    )
    import_template(root / "astro.gif", root / "lib", manifest, dlib_models())
    return {p.stem: p for p in root.iterdir()} | {"root": root}


def changes(result: Animation, template: Animation, cols: slice = slice(None)) -> list[float]:
    """Per frame, the mean absolute change of the output against the template."""
    pairs = zip(result.frames, template.frames, strict=True)
    return [float(np.abs(r[:, cols].astype(int) - t[:, cols]).mean()) for r, t in pairs]


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = reface.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_file_template_to_gif(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.gif"
    code, stdout, stderr = run(
        capsys, "--selfie", files["david"], "--template", files["astro"], "--out", out
    )
    assert code == 0, stderr
    assert stdout.count("\n") == 1 and f"{FRAMES} frames" in stdout and "0.64 s clip" in stdout
    assert "rendering: 100%" in stderr and "analysing astro.gif" in stderr
    template = read_animation(files["astro"])
    result = read_animation(out)
    assert len(result.frames) == FRAMES and result.durations_ms == template.durations_ms
    assert result.loop == template.loop
    assert min(changes(result, template)) > 1.0  # the face was swapped
    assert [p.name for p in tmp_path.iterdir()] == ["out.gif"]  # no temp file left beside it


def test_library_template_by_id_to_mp4_and_webp(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = tmp_path / "out.MP4"  # extensions are case-insensitive
    code, _, stderr = run(
        capsys, "--selfie", files["david"], "--template", "astro-talk", "--dir", files["lib"],
        "--out", out,
    )  # fmt: skip
    assert code == 0, stderr
    assert "analysing" not in stderr  # the library's analysis is used as stored
    with av.open(str(out)) as container:
        assert sum(1 for _ in container.decode(video=0)) == FRAMES
    monkeypatch.setenv("FACELOOP_TEMPLATES_DIR", str(files["lib"]))  # the settings' default
    webp = tmp_path / "out.webp"
    code, _, stderr = run(capsys, "--selfie", files["jennifer"], "--template", "astro-talk",
                          "--out", webp)  # fmt: skip
    assert code == 0, stderr
    with Image.open(webp) as im:
        assert im.n_frames == FRAMES and im.info.get("loop") == 0


def test_two_selfies_of_one_person_and_a_duet(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mirrored = tmp_path / "david-mirror.png"
    encode_png(np.ascontiguousarray(t1_face("david")[:, ::-1]), mirrored)
    out = tmp_path / "duet.gif"
    code, _, stderr = run(
        capsys, "--selfie", files["david"], mirrored, "--selfie", files["jennifer"],
        "--template", files["duet"], "--out", out,
    )  # fmt: skip
    assert code == 0, stderr
    template, result = read_animation(files["duet"]), read_animation(out)
    left = changes(result, template, slice(0, 200))
    right = changes(result, template, slice(200, None))
    assert min(left) > 1.0 and min(right) > 1.0  # both faces swapped
    # one selfie on both tracks
    code, _, stderr = run(capsys, "--selfie", files["david"], "--template", files["duet"],
                          "--faces", "1=0", "--out", out)  # fmt: skip
    assert code == 0, stderr


def error_line(code: int, stdout: str, stderr: str) -> str:
    assert code == 2
    assert "Traceback" not in stderr and stdout == ""
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@pytest.mark.parametrize(
    ("selfie", "template", "out", "extra", "message"),
    [
        ("wall", "astro", "out.gif", [], "no_face"),
        ("notes", "astro", "out.gif", [], "unsupported_type"),
        ("cut", "astro", "out.gif", [], "bad_image"),
        ("missing", "astro", "out.gif", [], "no such file"),
        ("david", "astro", "out.png", [], "extension must be one of .gif, .mp4, .webp"),
        ("david", "no-such-template", "out.gif", [], "no template 'no-such-template'"),
        ("david", "Bad Id!", "out.gif", [], "invalid template id"),
        ("david", "missing.gif", "out.gif", [], "no such file"),
        ("david", "notes", "out.gif", [], "not a GIF, WebP or MP4"),
        ("david", "astro", "nowhere/out.gif", [], "does not exist"),
        ("david", "astro", "out.gif", ["--faces", "3=0"], "no face track 3"),
        ("david", "astro", "out.gif", ["--faces", "0=1"], "selfie index 1 out of range"),
        ("david", "astro", "out.gif", ["--faces", "zero"], "expected TRACK=SELFIE_INDEX"),
        ("david", "astro", "out.gif", ["--engine", "magic"], "unknown engine 'magic'"),
        ("david", "wall", "out.gif", [], "not a GIF"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    selfie: str,
    template: str,
    out: str,
    extra: list[str],
    message: str,
) -> None:
    selfie_path = files.get(selfie, files["root"] / f"{selfie}.png")
    template_arg = str(files[template]) if template in files else template
    if template == "missing.gif":
        template_arg = str(files["root"] / template)
    args = ["--selfie", selfie_path, "--template", template_arg, "--out", tmp_path / out]
    line = error_line(*run(capsys, *args, "--dir", files["lib"], *extra))
    assert message in line
    assert not (tmp_path / out).exists()


def test_a_selfie_that_is_not_used_is_an_error(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--selfie", files["david"], "--selfie", files["jennifer"], "--template", files["astro"]]
    line = error_line(*run(capsys, *args, "--out", tmp_path / "o.gif"))
    assert "selfie 1 is not used" in line


def test_a_template_without_a_face_is_an_error(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    yy, xx = np.mgrid[0:64, 0:64]
    frames = [np.stack([xx + 8 * i, yy * 3, xx * 0 + 90], -1).astype(np.uint8) for i in range(3)]
    write_gif(Animation(frames, [100] * 3, 0), tmp_path / "plain.gif")
    args = ["--selfie", files["david"], "--template", tmp_path / "plain.gif"]
    line = error_line(*run(capsys, *args, "--out", tmp_path / "o.gif"))
    assert "no face to swap" in line


def test_a_stale_library_template_is_reported_with_the_fix(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = tmp_path / "lib"
    shutil.copytree(files["lib"], lib)
    (lib / "astro-talk" / "analysis.npz").unlink()
    args = ["--selfie", files["david"], "--template", "astro-talk", "--dir", lib]
    line = error_line(*run(capsys, *args, "--out", tmp_path / "o.gif"))
    assert "analysis missing" in line and "python -m tools.templates analyse astro-talk" in line
    assert not (lib / "astro-talk" / "analysis.npz").exists()  # nothing rebuilt behind our back


def test_bad_settings_are_one_error_line(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FACELOOP_MAX_UPLOAD_BYTES", "lots")
    args = ["--selfie", files["david"], "--template", files["astro"]]
    line = error_line(*run(capsys, *args, "--out", tmp_path / "o.gif"))
    assert line.startswith("error: settings: max_upload_bytes")


def test_identity_warnings_are_reported(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.render.samples import tom_hanks

    tom = encode_png(tom_hanks(), tmp_path / "tom.png")
    code, _, stderr = run(
        capsys, "--selfie", tom, "--template", files["astro"], "--out", tmp_path / "o.gif"
    )
    assert code == 0, stderr
    assert "warning: selfie 0 (tom.png): tom.png: head_turned: Face the camera" in stderr


def test_the_module_runs_as_a_script(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.reface", "--selfie", "a.jpg", "--template", "x",
         "--out", str(tmp_path / "out.avi")],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --out {tmp_path / 'out.avi'}: the extension must be one of .gif, .mp4, .webp"
    ]


def test_selfies_are_decoded_like_uploads(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upright = t1_face("david")
    stored = Image.fromarray(np.ascontiguousarray(upright[:, :, ::-1])).transpose(
        Image.Transpose.ROTATE_90
    )
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    rotated = tmp_path / "rotated.jpg"
    stored.save(rotated, "JPEG", quality=92, exif=exif)
    args = ["--template", files["astro"], "--out", tmp_path / "o.gif"]
    code, _, stderr = run(capsys, "--selfie", rotated, *args)
    assert code == 0, stderr
    monkeypatch.setenv("FACELOOP_MAX_UPLOAD_BYTES", "2048")  # the API's limits apply
    line = error_line(*run(capsys, "--selfie", files["david"], *args))
    assert "too_large" in line and "david.png" in line


def test_motion_template_animates_the_selfie(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from server.gif_templates.motion_authoring import add_motion_template, motion_from_clip

    lib = tmp_path / "motion-lib"
    manifest = TemplateManifest(
        id="talk", kind="motion", title="Talk", source="skimage astronaut", license="PD"
    )
    motion = motion_from_clip(files["astro"], dlib_models())
    add_motion_template(motion, lib, manifest, dlib_models())
    out = tmp_path / "motion.gif"
    args = ["--selfie", files["david"], "--template", "talk", "--dir", lib, "--out", out]
    code, stdout, stderr = run(capsys, *args, "--engine", "auto")
    assert code == 0, stderr
    assert f"{FRAMES} frames" in stdout and "engine classic" in stdout
    result = read_animation(out)
    assert len(result.frames) == FRAMES and result.durations_ms == list(motion.durations_ms)
    assert max(result.size) <= 512
    code, _, stderr = run(capsys, *args, "--engine", "neural")
    assert code == 2 and "engine 'neural' cannot play this template's landmarks motion" in stderr
