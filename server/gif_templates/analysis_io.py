"""Storage of a :class:`TemplateAnalysis` as a compressed ``.npz`` of plain arrays.

Layout: ``meta`` is a JSON string (a 0-d unicode array); each track ``i`` stores
``t{i}.landmarks`` (N, 68, 2) float32, ``t{i}.present`` and ``t{i}.detected`` (N,) bool,
and every extra array as ``t{i}.x.{name}``. No object arrays, so loading works with
``allow_pickle=False`` and a file cannot run code. Writes are atomic.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from server.gif_templates.tracks import FaceTrack
from server.storage.atomic import atomic_writer

if TYPE_CHECKING:
    from server.gif_templates.analysis import TemplateAnalysis

_UNSAVED_STATS = {"seconds"}
_EXTRA_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class AnalysisError(ValueError):
    """A stored analysis is missing, unreadable or malformed."""


def save_analysis(analysis: TemplateAnalysis, path: str | os.PathLike[str]) -> None:
    """Write ``analysis`` to ``path`` (tmp file + os.replace)."""
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(_meta(analysis)))}
    arrays["repeats"] = np.asarray(analysis.repeats, bool)
    for i, track in enumerate(analysis.tracks):
        arrays[f"t{i}.landmarks"] = np.asarray(track.landmarks, np.float32)
        arrays[f"t{i}.present"] = np.asarray(track.present, bool)
        arrays[f"t{i}.detected"] = np.asarray(track.detected, bool)
        for name, value in track.extras.items():
            if not set(name) <= _EXTRA_NAME_CHARS or np.asarray(value).dtype.hasobject:
                raise ValueError(f"extra {name!r}: names are [a-z0-9_], values plain arrays")
            arrays[f"t{i}.x.{name}"] = np.asarray(value)
    with atomic_writer(Path(path)) as fh:
        np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]


def _meta(analysis: TemplateAnalysis) -> dict[str, Any]:
    return {
        "version": analysis.version,
        "source_sha256": analysis.source_sha256,
        "width": analysis.width,
        "height": analysis.height,
        "durations_ms": [int(d) for d in analysis.durations_ms],
        "loop": int(analysis.loop),
        "tracks": [{"track_id": t.track_id, "extras": sorted(t.extras)} for t in analysis.tracks],
        # timings are left out: the same source gives the same file content
        "stats": {k: float(v) for k, v in analysis.stats.items() if k not in _UNSAVED_STATS},
    }


def load_analysis(path: str | os.PathLike[str]) -> TemplateAnalysis:
    """Read an analysis written by :func:`save_analysis`; raises :class:`AnalysisError`."""
    from server.gif_templates.analysis import TemplateAnalysis

    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            n = len(meta["durations_ms"])
            tracks = [_load_track(data, i, entry, n) for i, entry in enumerate(meta["tracks"])]
            repeats = np.asarray(data["repeats"], bool) if "repeats" in data else np.zeros(n, bool)
            if repeats.shape != (n,):
                raise AnalysisError("repeats: array does not match the frames")
            return TemplateAnalysis(
                version=int(meta["version"]),
                source_sha256=str(meta["source_sha256"]),
                width=int(meta["width"]),
                height=int(meta["height"]),
                durations_ms=[int(d) for d in meta["durations_ms"]],
                loop=int(meta["loop"]),
                tracks=tracks,
                stats={k: float(v) for k, v in meta.get("stats", {}).items()},
                repeats=repeats,
            )
    except (OSError, KeyError, TypeError, ValueError, zipfile.BadZipFile) as exc:
        if isinstance(exc, AnalysisError):
            raise
        raise AnalysisError(f"{Path(path).name}: unreadable analysis ({exc})") from exc


def _load_track(data: Any, i: int, entry: dict[str, Any], n: int) -> FaceTrack:
    landmarks = np.asarray(data[f"t{i}.landmarks"], np.float32)
    present = np.asarray(data[f"t{i}.present"], bool)
    detected = np.asarray(data[f"t{i}.detected"], bool)
    if landmarks.shape != (n, 68, 2) or present.shape != (n,) or detected.shape != (n,):
        raise AnalysisError(f"track {i}: arrays do not match {n} frames")
    extras = {name: np.asarray(data[f"t{i}.x.{name}"]) for name in entry["extras"]}
    return FaceTrack(int(entry["track_id"]), landmarks, present, detected, extras)
