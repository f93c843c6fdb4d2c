"""python -m tools.synthetic_motion_models: four graphs and a manifest that lists them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from server.runtime import load_manifest
from tools.synthetic_motion_models import GROUP, main


def test_cli_writes_the_four_graphs_and_their_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--dir", str(tmp_path)]) == 0
    manifest = load_manifest(tmp_path / "manifest.json")
    files = sorted(entry.file for entry in manifest.models)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*files, "manifest.json"])
    assert len(files) == 4 and all(e.name.startswith(GROUP) for e in manifest.models)
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == 4
    for entry, line in zip(manifest.models, printed, strict=True):
        data = (tmp_path / entry.file).read_bytes()
        assert entry.sha256 == hashlib.sha256(data).hexdigest() and entry.bytes == len(data)
        assert line == f"{tmp_path / entry.file}: {entry.bytes} bytes, sha256 {entry.sha256}"
        assert entry.license == "synthetic" and entry.notes == "synthetic stand-in"
