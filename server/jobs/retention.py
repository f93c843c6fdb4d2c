"""Retention: identities (and every render made from them) are erased once their
``expires_at`` has passed. :func:`sweep` runs in each service process on a timer
(:class:`SweepThread`) and as ``python -m tools.sweep``; sweeps racing each other
or a user's delete are harmless (whoever comes second finds nothing)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from server.jobs.records import RenderRecordStore
from server.storage.db import Database
from server.storage.errors import NotFound
from server.storage.identities import IdentityStore

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class SweepReport:
    identities: int
    renders: int


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sweep(
    identities: IdentityStore, renders: RenderRecordStore, db: Database, now: datetime
) -> SweepReport:
    """Erase every identity expired at ``now`` with its renders and finished rate-limit
    windows; compact the database afterwards so erased rows leave no bytes behind."""
    removed_identities = removed_renders = 0
    for identity_id in identities.expired(iso(now)):
        with contextlib.suppress(NotFound):  # deleted meanwhile
            for render_id in identities.delete(identity_id):
                removed_renders += int(renders.delete(render_id))
            removed_identities += 1
    # rate-limit windows name devices and client addresses: drop the finished ones
    db.execute("DELETE FROM rate_counters WHERE expires_at <= ?", (now.timestamp(),))
    if removed_identities:
        db.compact()
    return SweepReport(removed_identities, removed_renders)


class SweepThread:
    """Calls ``run()`` every ``interval_s`` seconds until stopped (a daemon thread)."""

    def __init__(self, run: Callable[[], SweepReport], interval_s: float) -> None:
        self._run, self._interval_s = run, interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="faceloop-sweep", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                report = self._run()
            except Exception:  # a failing sweep must not end the timer
                log.exception("retention sweep failed")
                continue
            if report.identities:
                log.info(
                    "retention: erased %d identities and %d renders",
                    report.identities,
                    report.renders,
                )
