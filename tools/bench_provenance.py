"""What provenance marks cost a render: the same swap render with and without them,
interleaved, side by side.

    python -m tools.bench_provenance [--template ID_OR_PATH] [--runs 5] [--format gif]

"stamped" is what the service does for every render (see
:mod:`server.render.provenance`): badge, watermark (for a GIF, measured on the frames
it will show and topped up where its palettes took too much), GIF comment and C2PA
signature, with a key secret and signing chain in a temporary folder; "unstamped" is
the same render without them. Each run renders both, one after the other, so both see
the same machine state; the ratio of the medians is what to compare across machines.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from server.engines import build_engines
from server.faces.dlib_models import DlibFaceModels
from server.faces.identity import build_identity
from server.render.pipeline import Stamp, render
from server.render.provenance import Provenance, ProvenanceOptions
from tools.bench import DEFAULT_TEMPLATE, _selfie, _template


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    models = DlibFaceModels()
    engine = build_engines(models)["classic"]
    template = _template(args, models)
    faces = {template.analysis.tracks[0].track_id: build_identity([_selfie(None)], models)}

    def timed(stamp: Stamp | None) -> float:
        t0 = time.perf_counter()
        render(template, faces, engine, args.format, stamp=stamp)
        return time.perf_counter() - t0

    with tempfile.TemporaryDirectory(prefix="faceloop-bench-") as tmp:
        marks = Provenance(ProvenanceOptions(directory=Path(tmp)))
        timed(marks.stamp("rnd_warmup"))  # key secret, signing chain, caches
        plain, stamped = [], []
        for i in range(args.runs):
            plain.append(timed(None))
            stamped.append(timed(marks.stamp(f"rnd_bench{i:04d}")))
    a, b = statistics.median(plain), statistics.median(stamped)
    print(f"template: {args.template}, format: {args.format}, runs: {args.runs}")
    print("| render | median | runs |\n|---|---|---|")
    print(f"| unstamped | {a:.3f} s | {', '.join(f'{t:.2f}' for t in plain)} |")
    print(f"| stamped | {b:.3f} s | {', '.join(f'{t:.2f}' for t in stamped)} |")
    print(f"stamped / unstamped: {b / a:.2f}x")
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.bench_provenance", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--template", default=DEFAULT_TEMPLATE, help="template id or animation file")
    p.add_argument("--dir", type=Path, help="template library (default: settings)")
    p.add_argument("--format", default="gif", choices=["gif", "mp4", "webp"])
    p.add_argument("--runs", type=int, default=5)
    return p


if __name__ == "__main__":
    raise SystemExit(main())
