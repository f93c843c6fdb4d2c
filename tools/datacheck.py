"""Check that the data dir's files and its records database agree.

    python -m tools.datacheck                 # uses FACELOOP_DATA_DIR
    python -m tools.datacheck --data-dir data

Reports (and exits 1 when it finds any):
  identity files without a record, identity records without their arrays file,
  render folders without a record, done renders whose result file is missing,
  links or index entries that point at missing identities or renders,
  identities or renders whose owner device is gone, hidden scratch files left behind.
Nothing is changed; run it while the service is idle for an exact picture (a render
or upload in flight may show for a moment).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from server.settings import load_settings
from server.storage.db import Database
from server.storage.layout import DataLayout

_QUERIES = {
    "link_without_identity": "SELECT render_id || ' -> ' || identity_id FROM render_identities"
    " WHERE identity_id NOT IN (SELECT id FROM identities)",
    "link_without_render": "SELECT render_id FROM render_identities"
    " WHERE render_id NOT IN (SELECT id FROM renders)",
    "index_without_render": "SELECT render_id FROM render_index"
    " WHERE render_id NOT IN (SELECT id FROM renders)",
    "identity_without_device": "SELECT id FROM identities WHERE device_id IS NOT NULL"
    " AND device_id NOT IN (SELECT id FROM devices)",
    "render_without_device": "SELECT id FROM renders WHERE device_id IS NOT NULL"
    " AND device_id NOT IN (SELECT id FROM devices)",
}


def _names(folder: Path) -> set[str]:
    return (
        {p.name for p in folder.iterdir() if not p.name.startswith(".")}
        if folder.is_dir()
        else set()
    )


def check(data_dir: Path) -> dict[str, list[str]]:
    """Problem kind -> the ids or paths (relative to the data dir) concerned."""
    layout, db = DataLayout(data_dir), Database.in_dir(data_dir)
    identity_rows = {r[0] for r in db.execute("SELECT id FROM identities")}
    render_rows = {r[0]: json.loads(r[1]) for r in db.execute("SELECT id, record FROM renders")}
    identity_dirs, render_dirs = _names(layout.identities), _names(layout.renders)
    found = {
        "identity_files_without_record": sorted(identity_dirs - identity_rows),
        "identity_record_without_files": sorted(
            i for i in identity_rows if not (layout.identities / i / "arrays.npz").is_file()
        ),
        "render_files_without_record": sorted(render_dirs - set(render_rows)),
        "done_render_without_result": sorted(
            i
            for i, rec in render_rows.items()
            if rec.get("status") == "done"
            and not (layout.renders / i / str(rec.get("result_file"))).is_file()
        ),
        "scratch_files": sorted(
            str(p.relative_to(data_dir))
            for p in data_dir.rglob(".*")
            if p.is_relative_to(layout.identities) or p.is_relative_to(layout.renders)
        ),
    }
    for name, sql in _QUERIES.items():
        found[name] = sorted(str(r[0]) for r in db.execute(sql))
    return {kind: items for kind, items in found.items() if items}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.datacheck", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    problems = check(args.data_dir or load_settings().data_dir)
    if not problems:
        print("data dir consistent: no orphans")
        return 0
    for kind, items in problems.items():
        print(f"{kind}: {len(items)}")
        for item in items:
            print(f"  {item}")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
