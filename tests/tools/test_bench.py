"""tools.bench runs end to end on the starter library and prints what it promises."""

from __future__ import annotations

import pytest

from tools import bench


def test_bench_prints_stages_percentiles_and_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--template", "astronaut-nod", "--runs", "2", "--naive-runs", "1"]) == 0
    out = capsys.readouterr().out
    for needle in ("identity (1 selfie)", "| swap |", "| encode |", "| render |", "I/O floor"):
        assert needle in out
    assert "render / I/O floor:" in out and "naive / render:" in out
    assert "plain detect-and-warp swapper" in out and "plain / render:" in out
    plain = float(out.split("plain / render:")[1].split("x")[0])
    assert plain > 1.0  # the per-frame swapper is slower than a render
    ratio = float(out.split("render / I/O floor:")[1].split("x")[0])
    assert ratio > 1.0  # a render does more than decoding and encoding
