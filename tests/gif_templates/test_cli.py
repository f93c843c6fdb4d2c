"""python -m tools.templates add / list / analyse, end to end on generated clips."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from server.faces.dlib_models import DlibFaceModels
from server.gif_templates.catalog import TemplateCatalog
from server.gif_templates.media import read_animation, write_gif
from server.types import Frame
from tests.gif_templates.helpers import astronaut, plain_clip
from tools import templates as cli


@pytest.fixture(autouse=True)
def shared_models(models: DlibFaceModels, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_models", lambda: models)  # load dlib once per session


def _mp4(path: Path, frames: list[Frame], fps: int = 12) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        for img in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode())
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_analyse_end_to_end(
    tmp_path: Path, astronaut_bgr: Frame, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = tmp_path / "lib"
    clip = _mp4(tmp_path / "astro.mp4", astronaut(astronaut_bgr, n=8).frames)
    code, out, err = _run(
        capsys, "add", str(clip), "--id", "astro", "--title", "Astronaut smiles",
        "--tags", "space,smile", "--source", "NASA (public domain)", "--license", "public domain",
        "--dir", str(lib),
    )  # fmt: skip
    assert code == 0, err
    assert "added astro (normalised and re-encoded)" in out
    assert "8 frames, 220x220" in out and "face track 0 (main): present in 8/8" in out
    assert "analysing astro: 100%" in err
    manifest = json.loads((lib / "astro" / "manifest.json").read_text())
    assert manifest["tags"] == ["smile", "space"] and manifest["face_count"] == 1
    durations = read_animation(lib / "astro" / "source.gif").durations_ms
    assert set(durations) <= {80, 90} and abs(sum(durations) - 8000 / 12) <= 10  # 12 fps

    code, out, _ = _run(capsys, "--dir", str(lib), "list")
    assert code == 0 and "astro" in out and "Astronaut smiles" in out

    (lib / "astro" / "analysis.npz").unlink()
    code, out, _ = _run(capsys, "list", "--dir", str(lib))
    assert "astro: unavailable (analysis missing" in out
    code, out, _ = _run(capsys, "analyse", "astro", "--dir", str(lib))
    assert code == 0 and "face track 0" in out
    catalog = TemplateCatalog(lib)
    catalog.load(None, rebuild_stale=False)
    assert catalog.ids() == ["astro"]


def test_add_keeps_a_fitting_gif_and_refuses_to_overwrite(
    tmp_path: Path, astronaut_bgr: Frame, capsys: pytest.CaptureFixture[str]
) -> None:
    lib = tmp_path / "lib"
    clip = tmp_path / "astro.gif"
    write_gif(astronaut(astronaut_bgr, n=5), clip)
    args = ["add", str(clip), "--id", "astro", "--title", "A", "--dir", str(lib)]
    code, out, _ = _run(capsys, *args)
    assert code == 0 and "kept byte for byte" in out
    assert (lib / "astro" / "source.gif").read_bytes() == clip.read_bytes()

    code, _, err = _run(capsys, *args)
    assert code == 2 and "exists" in err and "--force" in err and err.count("\n") == 1
    code, _, _ = _run(capsys, *args, "--force", "--title", "B")
    assert code == 0
    assert json.loads((lib / "astro" / "manifest.json").read_text())["title"] == "B"
    assert sorted(p.name for p in lib.iterdir()) == ["astro"]  # no staging left behind


@pytest.mark.parametrize(
    ("make", "template_id", "message"),
    [
        (lambda d: d / "missing.gif", "ok", "no such file"),
        (lambda d: _text(d / "notes.gif"), "ok", "not a GIF, WebP or MP4"),
        (lambda d: _gif(d / "plain.gif"), "ok", "no face found"),
        (lambda d: _gif(d / "plain.gif"), "../evil", "invalid template id"),
        (lambda d: _gif(d / "plain.gif"), "Big", "invalid template id"),
    ],
)
def test_add_errors_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, template_id: str, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    code, _, err = _run(
        capsys, "add", str(path), "--id", template_id, "--title", "x", "--dir", str(tmp_path / "l")
    )
    errors = [line for line in err.splitlines() if not line.startswith("  analysing")]
    assert code == 2 and len(errors) == 1 and errors[0].startswith("error: ")
    assert message in errors[0]
    assert not (tmp_path / "l").exists() or not any((tmp_path / "l").iterdir())


def test_a_template_without_face_needs_allow_no_face(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _gif(tmp_path / "plain.gif")
    code, _, err = _run(
        capsys, "add", str(path), "--id", "plain", "--title", "x", "--allow-no-face",
        "--dir", str(tmp_path / "l"),
    )  # fmt: skip
    assert code == 0 and "warning: plain: no face found" in err


def test_analyse_unknown_template(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "l").mkdir()
    code, _, err = _run(capsys, "analyse", "nope", "--dir", str(tmp_path / "l"))
    assert code == 2 and "no template 'nope'" in err


def _text(path: Path) -> Path:
    path.write_text("hello")
    return path


def _gif(path: Path) -> Path:
    write_gif(plain_clip(), path)
    return path


def test_settings_directory_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FACELOOP_TEMPLATES_DIR", str(tmp_path / "from-env"))
    code, _, _ = _run(capsys, "add", str(_gif(tmp_path / "p.gif")), "--id", "p", "--title", "x",
                      "--allow-no-face")  # fmt: skip
    assert code == 0 and (tmp_path / "from-env" / "p" / "source.gif").is_file()
    kept = read_animation(tmp_path / "from-env" / "p" / "source.gif").frames[0]
    assert np.array_equal(read_animation(tmp_path / "p.gif").frames[0], kept)
