"""Measure the invisible watermark: detection after re-encoding, scaling and trimming,
false positives on unmarked clips, and how much it changes the picture.

    python -m tools.provenance_check [--keys 4] [--index 1000] [CLIP.gif ...]

Default clips: the template library's sources (templates_gifs/*/source.gif) and, when
present, the development clips in /work/shared/devkit/templates/*.gif. For each clip
and each of ``--keys`` random keys the frames get the service's marks (badge and
watermark, exactly as a render does), are encoded by the service's GIF encoder, and
that output is then transformed:

- gif:  decoded and re-encoded as a GIF with a new adaptive palette (Pillow);
- mp4:  re-encoded to H.264 MP4 (the service's encoder, crf 20) and decoded;
- half: scaled to 50% (area filter), re-encoded as a GIF;
- trim: the first half of the frames only, re-encoded as a GIF;
- all:  trimmed, scaled to 50% and re-encoded to MP4, all three at once.

A marked copy counts as detected when its own key is the best match in an index of
``--index`` other keys plus its own and reaches the threshold. Negatives: every
unmarked clip, as encoded and after each transformation, against the whole index
(any match is a false positive), and every marked copy against the index without its
own key (a match is a false positive too). PSNR compares marked and unmarked frames
(watermark only, and watermark plus badge).
"""

from __future__ import annotations

import argparse
import io
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from server.gif_templates.media import read_animation
from server.render.encode import Draft, encode_mp4, quantise_gif
from server.render.provenance import Provenance, ProvenanceOptions
from server.settings import REPO_ROOT
from server.types import Frame
from server.vision import watermark as wm

DEVKIT = Path("/work/shared/devkit/templates")
Transform = Callable[[list[Frame], list[int]], list[Frame]]


def default_clips() -> dict[str, list[Path]]:
    groups = {"template library": sorted((REPO_ROOT / "templates_gifs").glob("*/source.gif"))}
    if DEVKIT.is_dir():
        groups["devkit"] = sorted(DEVKIT.glob("*.gif"))
    return groups


def decode(data: bytes) -> list[Frame]:
    with av.open(io.BytesIO(data)) as box:
        return [f.to_ndarray(format="bgr24") for f in box.decode(video=0)]


def pillow_gif(frames: Sequence[Frame], durations: Sequence[int]) -> list[Frame]:
    """Re-encoded as a GIF by Pillow (its own adaptive palette per frame), decoded."""
    images = [Image.fromarray(np.ascontiguousarray(f[:, :, ::-1])) for f in frames]
    buf = io.BytesIO()
    images[0].save(
        buf, "GIF", save_all=True, append_images=images[1:], duration=list(durations), loop=0
    )
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.ascontiguousarray(np.asarray(im.convert("RGB"))[:, :, ::-1]))
    return out


def half(frames: Sequence[Frame]) -> list[Frame]:
    return [
        cv2.resize(f, (max(1, f.shape[1] // 2), max(1, f.shape[0] // 2)), cv2.INTER_AREA)
        for f in frames
    ]


def first_half(frames: list[Frame], durations: list[int]) -> tuple[list[Frame], list[int]]:
    n = max(1, len(frames) // 2)
    return frames[:n], durations[:n]


TRANSFORMS: dict[str, Transform] = {
    "gif": lambda f, d: pillow_gif(f, d),
    "mp4": lambda f, d: decode(encode_mp4(f, d)),
    "half": lambda f, d: pillow_gif(half(f), d),
    "trim": lambda f, d: pillow_gif(*first_half(f, d)),
    "all": lambda f, d: decode(encode_mp4(half(first_half(f, d)[0]), first_half(f, d)[1])),
}


def with_faces(frames: list[Frame]) -> list[Frame]:
    """The frames with a central ellipse changed a little, so the GIF encoder codes it
    as it codes a swapped face (one shared palette of few colours)."""
    out = []
    for f in frames:
        h, w = f.shape[:2]
        mask = np.zeros((h, w), np.uint8)
        cv2.ellipse(mask, (w // 2, h // 2), (w // 5, h // 4), 0, 0, 360, 1, -1)
        g = f.astype(np.int16)
        g[mask > 0] += 6
        out.append(np.clip(g, 0, 255).astype(np.uint8))
    return out


def service_output(
    frames: list[Frame], durations: list[int], marks: Provenance | None, render_id: str
) -> list[Frame]:
    """What a render of these frames looks like: the emulated face, then the service's
    own marking and GIF encoding (badge, watermark, GIF refinement, comment)."""
    out = with_faces(frames)

    def encoder(f: Sequence[Frame], t: Sequence[Frame], _: bool) -> Draft:
        return quantise_gif(f, t, (durations, 0))

    if marks is None:
        return decode_gif(encoder(out, frames, False).data())
    return decode_gif(marks.encode(render_id, out, frames, "gif", encoder))


def decode_gif(data: bytes) -> list[Frame]:
    with Image.open(io.BytesIO(data)) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.ascontiguousarray(np.asarray(im.convert("RGB"))[:, :, ::-1]))
    return out


def psnr(a: Sequence[Frame], b: Sequence[Frame]) -> float:
    mse = float(
        np.mean([np.mean((x.astype(np.float64) - y) ** 2) for x, y in zip(a, b, strict=True)])
    )
    return 99.0 if mse == 0 else 10 * np.log10(255.0**2 / mse)


class Tally:
    """Detections per transformation, false positives per kind of negative."""

    def __init__(self) -> None:
        self.hits: dict[str, list[bool]] = {}
        self.own: dict[str, list[float]] = {}
        self.false: dict[str, list[float]] = {}
        self.psnr_mark: list[float] = []
        self.psnr_output: list[float] = []

    def positive(self, name: str, detected: bool, score: float) -> None:
        self.hits.setdefault(name, []).append(detected)
        self.own.setdefault(name, []).append(score)

    def negative(self, name: str, best: float) -> None:
        self.false.setdefault(name, []).append(best)


def variants(frames: list[Frame], durations: list[int]) -> dict[str, list[Frame]]:
    return {"as encoded": frames} | {n: t(frames, durations) for n, t in TRANSFORMS.items()}


def check_clip(
    path: Path, render_ids: Sequence[str], marks: Provenance, index: np.ndarray, tally: Tally
) -> None:
    anim = read_animation(path, max_seconds=10.0, max_side=480)
    frames, durations = list(anim.frames), list(anim.durations_ms)
    unmarked = service_output(frames, durations, None, "")
    for name, seen in variants(unmarked, durations).items():
        tally.negative(f"unmarked, {name}", float(wm.scores(wm.soft_bits(seen), index).max()))
    for render_id in render_ids:
        key = marks.key(render_id)
        marked = service_output(frames, durations, marks, render_id)
        for name, seen in variants(marked, durations).items():
            evidence = wm.soft_bits(seen)
            own = float(wm.scores(evidence, key[None])[0])
            others = float(wm.scores(evidence, index).max())
            found = own >= wm.THRESHOLD and own > others
            tally.positive(name, found, own)
            if not found:
                print(f"missed: {path.name}, {render_id}, {name}: score {own:.2f}", flush=True)
            tally.negative(f"marked, other keys, {name}", others)
    tally.psnr_mark.append(psnr(wm.embed(frames, marks.key(render_ids[0])), frames))
    tally.psnr_output.append(psnr(marked, unmarked))


def report(tally: Tally, clips: int, index_size: int) -> None:
    t = wm.THRESHOLD
    print(f"clips: {clips}; threshold {t}; index of {index_size} keys")
    print("| transformation | detected | rate | own score min / mean |")
    print("|---|---|---|---|")
    for name, hits in tally.hits.items():
        own = tally.own[name]
        rate = 100 * sum(hits) / len(hits)
        row = f"| {name} | {sum(hits)}/{len(hits)} | {rate:.1f}% |"
        print(f"{row} {min(own):.2f} / {np.mean(own):.2f} |")
    print("\n| negatives | false positives | rate | best score max / mean |")
    print("|---|---|---|---|")
    for name, best in tally.false.items():
        fp = sum(b >= t for b in best)
        row = f"| {name} | {fp}/{len(best)} | {100 * fp / len(best):.1f}% |"
        print(f"{row} {max(best):.2f} / {np.mean(best):.2f} |")
    bound = index_size * float(np.exp(-wm.KEY_BITS * t * t / 2))
    print(f"\nHoeffding bound on a false match per file against {index_size} keys: {bound:.1e}")
    print(
        f"PSNR watermark only: min {min(tally.psnr_mark):.1f} dB, mean "
        f"{np.mean(tally.psnr_mark):.1f} dB; service GIF output marked vs unmarked "
        f"(badge included): mean {np.mean(tally.psnr_output):.1f} dB"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("clips", nargs="*", type=Path)
    parser.add_argument("--keys", type=int, default=4, help="render ids (keys) per clip")
    parser.add_argument("--index", type=int, default=1000, help="other keys in the index")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    index = np.array([wm.key_from_bytes(rng.bytes(8)) for _ in range(args.index)])
    groups = {"given clips": list(args.clips)} if args.clips else default_clips()
    with tempfile.TemporaryDirectory(prefix="faceloop-provenance-") as tmp:
        marks = Provenance(ProvenanceOptions(Path(tmp), visible_mark=True, c2pa=False))
        for group, clips in groups.items():
            tally = Tally()
            for n, path in enumerate(clips):
                ids = [f"rnd_{group[:3]}{n:03d}{k:03d}" for k in range(args.keys)]
                check_clip(path, ids, marks, index, tally)
            print(f"\n### {group}\n")
            report(tally, len(clips), args.index)


if __name__ == "__main__":
    main()
