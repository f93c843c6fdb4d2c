"""Build a labelled set of hard selfies and measure selfie coaching on it.

    python -m tools.selfie_checks OUT_DIR [--devkit ../shared/devkit] [--table-only]

Writes OUT_DIR/images/*.png and OUT_DIR/labels.json ({name: {"labels": [...],
"source", "variant"}}; label codes are those of ``server.faces.coaching.MESSAGES``
plus ``not_human`` and ``unusable``, a selfie that cannot serve as a texture). The set
is the faces shipped in installed packages (scikit-image's astronaut, two faces of
insightface's t1.jpg, its Tom Hanks crop) and, with ``--devkit``, the development
kit's selfies and not_human pictures, each with the variants of
:mod:`tools.selfie_variants`. Every image is then run through identity building alone,
as one upload, and a markdown table goes to stdout: per check precision, recall and
positives, then refusals and false refusals. OUT_DIR/results.json keeps each image's
outcome and measures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from server.faces.coaching import MESSAGES
from server.faces.dlib_models import DlibFaceModels
from server.faces.identity import FaceError, build_identity, select_face, selfie_report
from server.types import Frame
from tools.selfie_variants import with_masks

# What each base picture shows before any variant (looked at by eye).
PACKAGE_LABELS: dict[str, frozenset[str]] = {
    "astronaut": frozenset({"mouth_open", "teeth_showing"}),  # a broad smile, lips apart
    "t1_jennifer": frozenset({"head_tilted"}),  # her head leans about 25 degrees
    "t1_david": frozenset(),  # a closed-lip grin
    # a 112 px crop upscaled, the head turned, lit from one side
    "tom_hanks": frozenset({"blurry", "head_turned", "side_light"}),
}
DEVKIT_LABELS: dict[str, frozenset[str]] = {
    "s0": frozenset(),
    "s9": frozenset(),
    "s10": frozenset({"head_turned"}),
    "s12": frozenset(),
    "s42": frozenset({"teeth_showing"}),  # lips parted over the front teeth
    "s6": frozenset(),  # terracotta statue: human-like, may be accepted
    "s7": frozenset(),  # 3D cartoon boy: human-like, may be accepted
}
NOT_HUMAN = ("s23", "s25", "s30", "s31")  # alpaca cartoon, dogs
CHECK_CODES = (*MESSAGES, "not_human")


@dataclass
class Sample:
    name: str
    image: Frame
    labels: frozenset[str]
    source: str
    variant: str


def package_bases() -> Iterator[tuple[str, Frame]]:
    from tests.render.samples import astronaut, t1_face, tom_hanks

    yield "astronaut", astronaut()
    yield "t1_jennifer", t1_face("jennifer")
    yield "t1_david", t1_face("david")
    yield "tom_hanks", tom_hanks()


def devkit_bases(devkit: Path) -> Iterator[tuple[str, Frame, frozenset[str]]]:
    for name, labels in DEVKIT_LABELS.items():
        folder = "not_human" if name in ("s6", "s7") else "selfies"
        yield name, _read(devkit / folder / f"{name}.jpg"), labels
    for name in NOT_HUMAN:
        yield (
            name,
            _read(devkit / "not_human" / f"{name}.jpg"),
            frozenset({"not_human", "unusable"}),
        )


def _read(path: Path) -> Frame:
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"error: cannot read {path}")
    return np.ascontiguousarray(image)


def build_set(models: DlibFaceModels, devkit: Path | None) -> list[Sample]:
    """Every base picture and, where dlib finds its face, every variant of it."""
    bases = [(n, img, PACKAGE_LABELS[n], "package") for n, img in package_bases()]
    if devkit is not None:
        bases += [(n, img, lab, "devkit") for n, img, lab in devkit_bases(devkit)]
    variants = with_masks()
    samples = []
    for name, image, labels, source in bases:
        samples.append(Sample(name, image, labels, source, "original"))
        if "not_human" in labels:
            continue
        faces = models.detect(image, min_face=48, max_side=1280)
        if not faces:
            continue
        lm = faces[0].landmarks
        for vname, (make, added) in variants.items():
            samples.append(
                Sample(f"{name}-{vname}", make(image, lm), labels | added, source, vname)
            )
    return samples


@dataclass
class Outcome:
    refused: str | None  # the error code, or None when accepted
    codes: frozenset[str]  # warnings and reasons the checks gave
    measures: dict[str, float]


def run_one(image: Frame, models: DlibFaceModels) -> Outcome:
    """The selfie uploaded alone: refused (with its reasons) or accepted (with its
    warnings); the measures are kept either way when dlib finds a face."""
    try:
        measures = selfie_report(0, image, select_face(image, models, 0)).measures
    except FaceError:
        measures = {}
    try:
        identity = build_identity([image], models)
    except FaceError as exc:
        codes = {str(r["code"]) for r in exc.reasons or []}
        if exc.code == "no_face":
            codes.add("not_human")
        if exc.code == "face_too_small":
            codes.add("face_small")
        return Outcome(exc.code, frozenset(codes), measures)
    report = identity.selfies[0]
    return Outcome(None, frozenset(str(w["code"]) for w in report.warnings), report.measures)


def table(samples: list[Sample], outcomes: list[Outcome]) -> str:
    rows = [
        "| check | precision | recall | positives | predicted | misses (FN) | false alarms (FP) |",
        "|---|---|---|---|---|---|---|",
    ]
    for code in CHECK_CODES:
        truth = [code in s.labels for s in samples]
        said = [code in o.codes for o in outcomes]
        tp = sum(t and p for t, p in zip(truth, said, strict=True))
        fn = [s.name for s, t, p in zip(samples, truth, said, strict=True) if t and not p]
        fp = [s.name for s, t, p in zip(samples, truth, said, strict=True) if p and not t]
        npos, npred = sum(truth), sum(said)
        prec = f"{tp / npred:.2f}" if npred else "-"
        rec = f"{tp / npos:.2f}" if npos else "-"
        rows.append(f"| {code} | {prec} | {rec} | {npos} | {npred} | {_few(fn)} | {_few(fp)} |")
    return "\n".join(rows)


def _few(names: list[str], n: int = 6) -> str:
    if not names:
        return ""
    more = f" (+{len(names) - n})" if len(names) > n else ""
    return ", ".join(names[:n]) + more


def refusals(samples: list[Sample], outcomes: list[Outcome]) -> str:
    unusable = [("unusable" in s.labels) for s in samples]
    refused = [o.refused is not None for o in outcomes]
    false = [s.name for s, u, r in zip(samples, unusable, refused, strict=True) if r and not u]
    missed = [s.name for s, u, r in zip(samples, unusable, refused, strict=True) if u and not r]
    acceptable = len(samples) - sum(unusable)
    lines = [
        "| selfies | acceptable | unusable | refused | false refusals | missed refusals |",
        "|---|---|---|---|---|---|",
        f"| {len(samples)} | {acceptable} | {sum(unusable)} | {sum(refused)} | "
        f"{len(false)} ({len(false) / max(acceptable, 1):.1%} of acceptable) | {len(missed)} |",
        "",
        f"False refusals: {_few(false, 20) or 'none'}",
        f"Missed refusals (accepted with warnings): {_few(missed, 20) or 'none'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.selfie_checks", description=__doc__)
    parser.add_argument("out", type=Path, help="folder for images/, labels.json, results.json")
    parser.add_argument("--devkit", type=Path, help="the development kit (selfies/, not_human/)")
    args = parser.parse_args(argv)
    models = DlibFaceModels()
    samples = build_set(models, args.devkit)
    (args.out / "images").mkdir(parents=True, exist_ok=True)
    labels, results, outcomes = {}, {}, []
    for s in samples:
        cv2.imwrite(str(args.out / "images" / f"{s.name}.png"), s.image)
        labels[s.name] = {"labels": sorted(s.labels), "source": s.source, "variant": s.variant}
        outcome = run_one(s.image, models)
        outcomes.append(outcome)
        results[s.name] = {"refused": outcome.refused, "codes": sorted(outcome.codes),
                           "measures": outcome.measures}  # fmt: skip
    (args.out / "labels.json").write_text(json.dumps(labels, indent=1))
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    print(table(samples, outcomes))
    print()
    print(refusals(samples, outcomes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
