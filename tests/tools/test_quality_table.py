"""tools.quality's artefact table: each measure's median and worst over the pairs, the
pairs without a value (gaze r where the template's gaze stays put) left out."""

from __future__ import annotations

from tools.quality import ClipScore
from tools.quality_cli import artefact_table


def _score(slide: float, gaze: float) -> ClipScore:
    return ClipScore(45, 1.0, 1.0, 0.9, 50.0, 0.45, slide=slide, gaze_corr=gaze)


def test_the_summary_skips_pairs_without_a_value() -> None:
    rows = [("a", _score(0.8, float("nan")), 1.0), ("b", _score(1.1, 0.9), 1.0)]
    rows.append(("c", _score(0.9, 0.5), 1.0))
    header, _, *_, summary = artefact_table(rows).splitlines()
    cells = dict(zip(_cells(header), _cells(summary), strict=True))
    assert cells["slide"] == "0.90 (1.10)"  # the highest is the worst slide
    assert cells["gaze_corr"] == "0.70 (0.50)"
    still = artefact_table([("a", _score(0.8, float("nan")), 1.0)]).splitlines()
    assert dict(zip(_cells(still[0]), _cells(still[-1]), strict=True))["gaze_corr"] == "nan"


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]
