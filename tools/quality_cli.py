"""tools.quality's command line: its arguments, a classic engine with options changed,
and the text of its results (one line per pair, markdown tables)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from tools.quality import ClipScore


def fmt(s: ClipScore) -> str:
    """Two-space separated groups (the contact sheet prints one per line)."""
    return (
        f"closer {s.id_closer:.2f} transfer {s.id_transfer:.2f}  flicker {s.flicker:.2f} "
        f"bg {s.bg_psnr:.1f} dist {s.mean_distance:.3f}  detail {s.detail:.2f} "
        f"eyes {s.eye_light:.2f} detail {s.eye_detail:.2f}  "
        f"mouth {s.mouth_agree:.2f} r {s.mouth_corr:.2f}  bridge {s.bridge:.2f} "
        f"slide {s.slide:.2f} gaze r {s.gaze_corr:.2f}"
    )


def table(rows: list[tuple[str, ClipScore, float]]) -> str:
    lines = [
        "| pair | face frames | id_closer | id_transfer | flicker | bg_psnr (dB) | render (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, s, sec in rows:
        lines.append(
            f"| {name} | {s.face_frames} | {s.id_closer:.2f} | {s.id_transfer:.2f} | "
            f"{s.flicker:.2f} | {s.bg_psnr:.1f} | {sec:.2f} |"
        )
    if rows:
        n = np.array([s.face_frames for _, s, _ in rows], float)
        w = n / max(n.sum(), 1)
        closer = float(sum(s.id_closer * k for (_, s, _), k in zip(rows, w, strict=True)))
        transfer = float(sum(s.id_transfer * k for (_, s, _), k in zip(rows, w, strict=True)))
        flicker = max(s.flicker for _, s, _ in rows)
        psnr = min(s.bg_psnr for _, s, _ in rows)
        lines.append(
            f"| **all ({len(rows)} pairs)** | {int(n.sum())} | **{closer:.2f}** | "
            f"**{transfer:.2f}** | max {flicker:.2f} | min {psnr:.1f} | "
            f"mean {np.mean([x for _, _, x in rows]):.2f} |"
        )
    return "\n".join(lines)


def artefact_table(rows: list[tuple[str, ClipScore, float]]) -> str:
    """The artefact measures per pair, with medians and the worst over the pairs (the
    lowest; the highest for slide)."""
    keys = (
        "detail", "eye_light", "eye_detail", "mouth_agree", "mouth_corr", "bridge", "slide",
        "gaze_corr",
    )  # fmt: skip
    lines = ["| pair | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, s, _ in rows:
        lines.append(f"| {name} | " + " | ".join(f"{getattr(s, k):.2f}" for k in keys) + " |")
    if rows:
        cols = [np.array([getattr(s, k) for _, s, _ in rows], float) for k in keys]
        cells = [_median_worst(c, k == "slide") for k, c in zip(keys, cols, strict=True)]
        lines.append(f"| **median (worst), {len(rows)} pairs** | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _median_worst(column: NDArray[np.float64], high_worst: bool) -> str:
    """``median (worst)`` of a column, NaN where no pair has a value (gaze_corr: no
    template whose gaze moves)."""
    seen = column[np.isfinite(column)]
    if not len(seen):
        return "nan"
    worst = seen.max() if high_worst else seen.min()
    return f"{np.median(seen):.2f} ({worst:.2f})"


def parser(doc: str) -> Any:
    import argparse
    from pathlib import Path

    p = argparse.ArgumentParser(prog="python -m tools.quality", description=doc.split("\n\n")[0])
    p.add_argument("--selfies", nargs="+", type=Path, required=True, help="image files or folders")
    p.add_argument("--templates", nargs="+", required=True, help="template ids or animation files")
    p.add_argument("--dir", type=Path, help="template library for ids (default: settings)")
    p.add_argument("--engine", default="classic")
    p.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a ClassicOptions field for this run, e.g. keep_eyes=true or shading=0",
    )
    p.add_argument("--format", default="gif", choices=["gif", "webp", "mp4"])
    p.add_argument("--sheets", type=Path, help="write a contact sheet PNG per pair here")
    p.add_argument("--table", type=Path, help="append the markdown tables to this file")
    return p


def classic_with(options: list[str]) -> Any:
    """A classic engine with some options changed (to measure a choice)."""
    import dataclasses

    from server.engines.classic import ClassicEngine, ClassicOptions

    fields = {f.name: f.type for f in dataclasses.fields(ClassicOptions)}
    values: dict[str, object] = {}
    for item in options:
        name, _, raw = item.partition("=")
        if name not in fields:
            raise SystemExit(f"error: unknown option {name!r}; known: {', '.join(fields)}")
        kind = fields[name]
        if kind == "bool":
            values[name] = raw.lower() in ("1", "true", "yes")
        elif kind == "str":
            values[name] = raw
        else:
            values[name] = int(raw) if kind == "int" else float(raw)
    return ClassicEngine(ClassicOptions(**values))  # type: ignore[arg-type]
