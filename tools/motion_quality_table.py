"""The Markdown table :mod:`tools.motion_quality` prints: a row per selfie x clip and the
share of pairs meeting each bar."""

from __future__ import annotations

from typing import Any

import numpy as np

from server.vision import eye_state


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows and the share of pairs meeting each bar."""
    head = (
        "| selfie | clip | id ok | id dist | r disp | r mouth | border | border max "
        "| blink EAR | blink edges | open edges | gaze r |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        blink, edges, opened, gaze = (
            _shown(r.get(k, float("nan")))
            for k in ("blink_ear", "blink_edges", "open_edges", "gaze_r")
        )
        lines.append(
            f"| {r['selfie']} | {r['clip']} | {r['id_ok']:.2f} | {r['id_dist_median']:.3f} | "
            f"{r['r_disp']:.2f} | {r['r_mouth']:.2f} | {r['border']:.2f} | "
            f"{r['border_max']:.2f} | {blink} | {edges} | {opened} | {gaze} |"
        )
    bars = {
        "id_ok": lambda v: v >= 0.9,
        "r_disp": lambda v: v >= 0.8,
        "r_mouth": lambda v: v >= 0.6,
        "border": lambda v: v <= 3.0,
    }
    met = ", ".join(f"{k}: {sum(ok(r[k]) for r in rows)}/{len(rows)}" for k, ok in bars.items())
    blinking = [r["blink_ear"] for r in rows if not np.isnan(r.get("blink_ear", np.nan))]
    shut = sum(v <= 0.6 for v in blinking)
    edges = [r for r in rows if not np.isnan(r.get("blink_edges", np.nan))]
    seen_shut = sum(r["blink_edges"] < eye_state.SHUT <= r.get("open_edges", np.inf) for r in edges)
    gazes = [r["gaze_r"] for r in rows if not np.isnan(r.get("gaze_r", np.nan))]
    looked = f"; gaze r median {np.median(gazes):.2f} over {len(gazes)} pairs" if gazes else ""
    return "\n".join(lines) + (
        f"\n\npairs meeting each bar: {met}; blinks read as shut (EAR <= 0.6 of frame 0's): "
        f"{shut}/{len(blinking)}; by the eyes' edges (< {eye_state.SHUT}, open on frame 0): "
        f"{seen_shut}/{len(edges)}{looked}"
    )


def _shown(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.2f}"
