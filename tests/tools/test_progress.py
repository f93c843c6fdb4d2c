"""stderr_progress: one line per step of the work, never repeated."""

from __future__ import annotations

import pytest

from tools.progress import stderr_progress


def test_one_line_per_step(capsys: pytest.CaptureFixture[str]) -> None:
    report = stderr_progress("rendering", steps=5)
    for k in range(11):
        report(k / 10)
    report(1.0)  # the end reported twice prints once
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines == [f"  rendering: {p}%" for p in (0, 20, 40, 60, 80, 100)]
