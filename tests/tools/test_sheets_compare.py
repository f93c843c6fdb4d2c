"""tools.sheets_compare: two runs' contact sheets side by side, most changed first."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tools.sheets import CELL, LABEL, contact_sheet
from tools.sheets_compare import compare, main


def sheet(shade: int, spot: int = 0) -> np.ndarray:
    """A sheet of a grey clip whose output has a ``spot`` grey-level square on it."""
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(6)]
    output = [f.copy() for f in frames]
    for f in output:
        f[20:40, 20:40] = np.clip(f[20:40, 20:40].astype(int) + spot, 0, 255)
    selfie = np.full((64, 64, 3), shade, np.uint8)
    return contact_sheet(selfie, None, frames, output, [None] * 6, ["pair"])


def write(folder: Path, sheets: dict[str, np.ndarray]) -> Path:
    folder.mkdir()
    for name, image in sheets.items():
        cv2.imwrite(str(folder / f"{name}.png"), image)
    return folder


def test_the_changed_pairs_come_first_with_their_sheets(tmp_path: Path) -> None:
    before = write(tmp_path / "before", {"same": sheet(90), "moved": sheet(90), "gone": sheet(1)})
    after = write(tmp_path / "after", {"same": sheet(90), "moved": sheet(90, 60), "new": sheet(2)})
    out = tmp_path / "out"
    lines = compare(before, after, out, changed=0.3)
    rows = [line.split(" | ")[0].lstrip("| ") for line in lines[2:4]]
    assert rows == ["moved", "same"]  # most changed first
    assert "| same | 0.00 | 0 | unchanged |" in lines
    assert "before only: gone" in lines and "after only: new" in lines
    assert sorted(p.name for p in out.iterdir()) == ["moved.png"]
    side = cv2.imread(str(out / "moved.png"))
    assert side.shape[0] == 3 * (CELL + LABEL)  # selfie and template, before, after
    before_row = side[CELL + LABEL : 2 * (CELL + LABEL), CELL:]
    after_row = side[2 * (CELL + LABEL) :, CELL:]
    assert np.abs(before_row.astype(int) - after_row).max() > 30  # the spot shows


def test_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / "none"), str(tmp_path), str(tmp_path / "out")])
    assert stop.value.code == 2


def test_a_file_that_is_no_image_stops_the_comparison_with_its_name(tmp_path: Path) -> None:
    for folder in ("before", "after"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "pair.png").write_bytes(b"not a png")
    with pytest.raises(SystemExit, match=r"not an image: .*before/pair\.png"):
        compare(tmp_path / "before", tmp_path / "after", tmp_path / "out", 0.3)
