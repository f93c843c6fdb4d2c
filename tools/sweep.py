"""Erase identities (and their renders) whose retention has passed.

The service already sweeps by itself every FACELOOP_SWEEP_INTERVAL_S seconds; this
command does the same once, e.g. from cron when the service runs with the interval
set to 0:

    python -m tools.sweep                 # uses FACELOOP_DATA_DIR
    python -m tools.sweep --data-dir data
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from server.jobs.records import RenderRecordStore
from server.jobs.retention import SweepReport, sweep
from server.settings import load_settings
from server.storage.db import Database
from server.storage.identities import IdentityStore
from server.storage.layout import DataLayout


def run(data_dir: Path, now: datetime | None = None) -> SweepReport:
    layout = DataLayout(data_dir)
    db = Database.in_dir(data_dir)
    return sweep(
        IdentityStore(layout, db), RenderRecordStore(layout, db), db, now or datetime.now(UTC)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sweep", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    report = run(args.data_dir or load_settings().data_dir)
    print(f"erased {report.identities} identities and {report.renders} renders")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
