"""Contact sheets of two runs side by side, the pairs that changed most first.

    python -m tools.sheets_compare BEFORE AFTER OUT [--changed 0.3]

BEFORE and AFTER are folders of sheets written by ``python -m tools.quality --sheets``
for the same pairs (two versions of the code, or two options). For every pair in both,
OUT gets one PNG with the before run's output row above the after run's (the selfie
and the template's row once, on top), and the command prints a table of how much each
pair's output row changed: the mean and the largest absolute difference in grey
levels. Pairs are listed most changed first, so a grader looks at those first; pairs
that changed by less than ``--changed`` on average are listed as unchanged and get no
PNG. A pair in one folder only is listed as such.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from server.types import Frame
from tools.sheets import CELL, LABEL

ROW = CELL + LABEL  # a sheet is two rows of panels: selfie and template, then output


@dataclass(frozen=True)
class Change:
    """How one pair's output row differs between the two runs (grey levels)."""

    name: str
    mean: float
    largest: int


def output_row(sheet: Frame) -> Frame:
    """The sheet's output panels (its second row, without the text column)."""
    return np.asarray(sheet[ROW : 2 * ROW, CELL:], np.uint8)


def change(before: Frame, after: Frame, name: str) -> Change:
    """The difference of two sheets' output rows; sheets of other sizes (other frame
    counts or panel sizes) count as changed everywhere."""
    a, b = output_row(before), output_row(after)
    if a.shape != b.shape:
        return Change(name, 255.0, 255)
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16))
    return Change(name, float(diff.mean()), int(diff.max()) if diff.size else 0)


def side_by_side(before: Frame, after: Frame) -> Frame:
    """The after sheet's selfie and template row, then the before run's output row and
    the after run's, each captioned in its text column."""
    rows = [after[:ROW]]
    for label, sheet in (("before", before), ("after", after)):
        row = sheet[ROW : 2 * ROW].copy()
        if row.shape[1] != after.shape[1]:  # another frame count: fit to the width
            row = np.asarray(
                cv2.resize(row, (after.shape[1], ROW), interpolation=cv2.INTER_AREA), np.uint8
            )
        cv2.putText(
            row, label, (4, ROW - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 220, 255), 1, cv2.LINE_AA
        )
        rows.append(row)
    return np.vstack(rows)


def compare(before: Path, after: Path, out: Path, changed: float) -> list[str]:
    """Write the side-by-side sheets of the changed pairs to ``out``; the report's
    lines (a Markdown table, then the pairs found in one folder only)."""
    old = {p.stem: p for p in before.glob("*.png")}
    new = {p.stem: p for p in after.glob("*.png")}
    out.mkdir(parents=True, exist_ok=True)
    found = []
    for name in sorted(old.keys() & new.keys()):
        a, b = _read(old[name]), _read(new[name])
        c = change(a, b, name)
        found.append(c)
        if c.mean >= changed:
            cv2.imwrite(str(out / f"{name}.png"), side_by_side(a, b))
    found.sort(key=lambda c: (-c.mean, c.name))
    lines = ["| pair | mean change | largest | |", "|---|---|---|---|"]
    for c in found:
        mark = "sheet written" if c.mean >= changed else "unchanged"
        lines.append(f"| {c.name} | {c.mean:.2f} | {c.largest} | {mark} |")
    lines += [f"before only: {n}" for n in sorted(old.keys() - new.keys())]
    lines += [f"after only: {n}" for n in sorted(new.keys() - old.keys())]
    return lines


def _read(path: Path) -> Frame:
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"not an image: {path}")
    return np.asarray(image, np.uint8)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m tools.sheets_compare", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("before", type=Path, help="folder of sheets of the earlier run")
    p.add_argument("after", type=Path, help="folder of sheets of the later run")
    p.add_argument("out", type=Path, help="folder for the side-by-side sheets")
    p.add_argument(
        "--changed",
        type=float,
        default=0.3,
        help="mean grey-level change under which a pair counts as unchanged (default 0.3)",
    )
    args = p.parse_args(argv)
    for folder in (args.before, args.after):
        if not folder.is_dir():
            p.error(f"not a folder: {folder}")
    print("\n".join(compare(args.before, args.after, args.out, args.changed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
