"""Hostile template sources: header-declared sizes are refused before decoding, big
frames are downscaled as they are decoded, and every refusal is a MediaError (a one-line
CLI error), never a traceback or gigabytes of memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from server.gif_templates.library import MAX_SIDE, prepare_source
from server.gif_templates.media import MediaError, MediaLimitError, read_animation, sniff_format
from server.gif_templates.media_video import read_video
from tests.gif_templates.gifbuild import GifFrame, build_gif
from tools import templates as cli

PALETTE = np.zeros((256, 3), np.uint8)
PALETTE[1] = (250, 20, 20)


def pixel_gif(width: int, height: int, frames: int) -> bytes:
    """A huge screen with ``frames`` one-pixel frames: a few KB on disk."""
    dot = np.ones((1, 1), np.uint8)
    return build_gif(
        width, height, [GifFrame(dot, PALETTE, left=i % 50, top=i // 50) for i in range(frames)]
    )


def test_canvas_times_frames_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gif"
    path.write_bytes(pixel_gif(4000, 4000, 400))
    assert path.stat().st_size < 400_000  # local palettes; no pixels to speak of
    with pytest.raises(MediaLimitError, match="400 frames of 4000x4000"):
        read_animation(path, max_seconds=11.0)


def test_a_65535_px_screen_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "screen.gif"
    path.write_bytes(pixel_gif(65535, 65535, 1))
    with pytest.raises(MediaLimitError):
        read_animation(path)
    code = cli.main(["add", str(path), "--id", "screen", "--title", "x", "--license", "CC0-1.0",
                     "--dir", str(tmp_path / "lib")])  # fmt: skip
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("error: screen.gif:") and "Traceback" not in err
    assert not (tmp_path / "lib" / "screen").exists()


def test_big_gif_frames_are_downscaled_while_decoding(tmp_path: Path) -> None:
    frames = [GifFrame(np.full((600, 900), i % 2, np.uint8), PALETTE) for i in range(3)]
    path = tmp_path / "big.gif"
    path.write_bytes(build_gif(900, 600, frames))
    anim = read_animation(path, max_side=MAX_SIDE)
    assert [f.shape for f in anim.frames] == [(320, 480, 3)] * 3
    assert prepare_source(path, tmp_path / "out.gif") is False  # re-encoded, not kept


@pytest.mark.parametrize(
    "data",
    [b"GIF89a\x00\x00\x00\x00\x00\x00\x00;", b"GIF89a" + bytes(30), b"GIF87a\xff\xff"],
)
def test_broken_gifs_are_media_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "broken.gif"
    path.write_bytes(data)
    with pytest.raises(MediaError):
        read_animation(path)


def make_video(path: Path, width: int, height: int, fps: int, seconds: float) -> Path:
    """A cheap-to-encode clip: a moving bar on grey."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(fps * seconds)):
            img = np.full((height, width, 3), 90, np.uint8)
            img[:, (i * 7) % width :][:, :40] = 230
            out.mux(stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
        out.mux(stream.encode())
    return path


def test_video_is_scaled_and_decimated_in_the_decoder(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "c.mp4", 640, 360, 60, 1.0)
    anim = read_video(clip, max_seconds=11.0, max_side=320, max_fps=30.0)
    assert {f.shape for f in anim.frames} == {(180, 320, 3)}
    assert len(anim.frames) == 30 and abs(sum(anim.durations_ms) - 1000) <= 20


def test_video_demuxer_is_forced_from_the_magic_bytes(tmp_path: Path) -> None:
    clip = make_video(tmp_path / "c.mp4", 64, 64, 10, 0.5)
    disguised = tmp_path / "c.avi"  # the name says AVI, the bytes say MP4
    disguised.write_bytes(clip.read_bytes())
    assert sniff_format(disguised) == "video"
    assert len(read_animation(disguised).frames) == 5
    fake = tmp_path / "playlist.mp4"  # an HLS playlist is no video, whatever the name
    fake.write_bytes(b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n")
    with pytest.raises(MediaError):
        read_animation(fake)


def test_ffmpeg_gets_the_forced_demuxer_and_only_the_file_protocol(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What reaches FFmpeg: an open file object, the demuxer named by the magic bytes
    and a protocol whitelist of ``file`` alone, so no reference inside a container can
    make it open a network or pipe URL."""
    clip = make_video(tmp_path / "c.mkv", 64, 64, 10, 0.3)
    seen: list[tuple[Any, dict[str, Any]]] = []
    real_open = av.open

    def spy(source: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append((source, kwargs))
        return real_open(source, *args, **kwargs)

    monkeypatch.setattr(av, "open", spy)
    assert len(read_video(clip, max_seconds=11.0).frames) == 3
    ((source, kwargs),) = seen
    assert not isinstance(source, (str, Path)) and hasattr(source, "read")
    assert kwargs["format"] == "matroska"
    assert kwargs["options"] == {"protocol_whitelist": "file"}


_RSS_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys, time
    from pathlib import Path
    from server.gif_templates.library import prepare_source
    src, dest = Path(sys.argv[1]), Path(sys.argv[2])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    try:
        prepare_source(src, dest)
        outcome = "ok"
    except Exception as exc:
        outcome = type(exc).__name__
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    seconds = time.perf_counter() - started
    report = {"growth_mb": (peak - before) / 1024, "peak_mb": peak / 1024}
    print(json.dumps({**report, "outcome": outcome, "s": seconds}))
    """
)


def import_rss(src: Path, dest: Path, cap_mb: int = 3000) -> dict[str, Any]:
    """prepare_source in a fresh process under an address-space cap: RSS growth."""
    shell = f'ulimit -v {cap_mb * 1024}; exec "$0" -c "$1" "$2" "$3"'
    out = subprocess.run(
        ["sh", "-c", shell, sys.executable, _RSS_SCRIPT, str(src), str(dest)],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


def test_hostile_imports_stay_within_a_memory_budget(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.gif"
    bomb.write_bytes(pixel_gif(4000, 4000, 400))
    clip = make_video(tmp_path / "hd.mp4", 1920, 1080, 60, 2.0)
    refused = import_rss(bomb, tmp_path / "a.gif")
    assert refused["outcome"] == "MediaLimitError" and refused["growth_mb"] < 50, refused
    imported = import_rss(clip, tmp_path / "b.gif")
    assert imported["outcome"] == "ok" and imported["growth_mb"] < 250, imported
