"""A gunicorn worker killed with SIGKILL mid-render: its renders end failed with the
reason "interrupted", none stays running, no half-written result is served, the service
keeps rendering and the data dir has no orphans (tools.faulttest, run as a test)."""

from __future__ import annotations

from pathlib import Path

from tools.faulttest import passed, run_fault


def test_a_worker_killed_mid_render(tmp_path: Path) -> None:
    result = run_fault(tmp_path / "data")
    assert result["problems"] == []
    assert "interrupted" in result["failure_codes"]  # type: ignore[operator]
    assert set(result["statuses"]) <= {"done", "failed"}  # type: ignore[arg-type]
    assert result["render_after_kill"] == "done"
    assert result["datacheck_exit"] == 0, result["datacheck"]
    assert passed(result)
