"""tools.bench_provenance renders with and without marks and prints their ratio."""

from __future__ import annotations

import pytest

from tools import bench_provenance


def test_prints_both_renders_and_their_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_provenance.main(["--template", "astronaut-nod", "--runs", "1"]) == 0
    out = capsys.readouterr().out
    assert "| unstamped |" in out and "| stamped |" in out
    ratio = float(out.split("stamped / unstamped:")[1].split("x")[0])
    assert ratio > 0  # a number (its size is the benchmark's to report, not a test's)
