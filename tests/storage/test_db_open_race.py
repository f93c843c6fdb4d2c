"""Server workers boot together and open the same new database file at once: each can
hold a shared lock while wanting the exclusive one the switch to write-ahead logging
takes, and SQLite then fails one of them at once ("database is locked"), which killed
the worker and with it the server. Opening now waits that out."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from server.storage import db
from server.storage.db import Database

PROCESSES, TRIALS = 4, 20


def _open(
    path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue
) -> None:
    barrier.wait()
    try:
        Database(Path(path)).connection()
        out.put("ok")
    except Exception as exc:  # reported to the test, which fails on it
        out.put(repr(exc))


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    failures = []
    for trial in range(TRIALS):
        path = str(tmp_path / f"race{trial}.db")
        barrier, out = ctx.Barrier(PROCESSES), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(path, barrier, out)) for _ in range(PROCESSES)]
        for p in procs:
            p.start()
        results = [out.get(timeout=60) for _ in procs]
        for p in procs:
            p.join()
        failures += [r for r in results if r != "ok"]
        mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
    assert failures == []


def test_a_locked_step_is_tried_again_and_other_errors_are_not() -> None:
    calls = []

    def locked_twice() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")

    db._when_unlocked(locked_twice)
    assert len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("disk I/O error")

    calls.clear()
    with pytest.raises(sqlite3.OperationalError, match="disk I/O"):
        db._when_unlocked(broken)
    assert len(calls) == 1
