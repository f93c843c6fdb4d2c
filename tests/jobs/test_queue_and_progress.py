from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from server.jobs.progress import ThrottledProgress
from server.jobs.queue import InProcessQueue, QueueFull

WAIT = 5.0


class Recorder:
    """A task that records payloads and can be held at a gate."""

    def __init__(self, gated: bool = False) -> None:
        self.seen: list[dict[str, Any]] = []
        self.started = threading.Semaphore(0)
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.done = threading.Semaphore(0)

    def __call__(self, payload: Mapping[str, Any]) -> None:
        self.started.release()
        assert self.gate.wait(WAIT)
        self.seen.append(dict(payload))
        self.done.release()


def wait_for(sem: threading.Semaphore, n: int = 1) -> None:
    for _ in range(n):
        assert sem.acquire(timeout=WAIT)


def test_jobs_run_with_their_payload() -> None:
    task = Recorder()
    q = InProcessQueue({"t": task}, workers=2, maxsize=4, retry_after_s=3)
    try:
        for i in range(3):
            q.enqueue("t", {"render_id": f"r{i}"})
        wait_for(task.done, 3)
        assert sorted(p["render_id"] for p in task.seen) == ["r0", "r1", "r2"]
    finally:
        q.close(WAIT)


def test_payloads_must_be_json() -> None:
    q = InProcessQueue({"t": Recorder()}, workers=1, maxsize=1, retry_after_s=1)
    try:
        with pytest.raises(TypeError):
            q.enqueue("t", {"frame": np.zeros(3)})
        with pytest.raises(KeyError):
            q.enqueue("nope", {})
    finally:
        q.close(WAIT)


def test_full_queue_refuses_with_retry_after_and_recovers() -> None:
    task = Recorder(gated=True)
    q = InProcessQueue({"t": task}, workers=1, maxsize=2, retry_after_s=7)
    try:
        q.enqueue("t", {"n": 0})
        wait_for(task.started)  # the worker holds job 0; the queue itself is empty
        q.enqueue("t", {"n": 1})
        q.enqueue("t", {"n": 2})
        with pytest.raises(QueueFull) as info:
            q.enqueue("t", {"n": 3})
        assert info.value.code == "queue_full" and info.value.retry_after_s == 7
        assert q.pending() == 2
        task.gate.set()
        wait_for(task.done, 3)
        q.enqueue("t", {"n": 4})  # room again
        wait_for(task.done)
        assert [p["n"] for p in task.seen] == [0, 1, 2, 4]
    finally:
        task.gate.set()
        q.close(WAIT)


def test_a_failing_task_does_not_kill_the_worker(caplog: pytest.LogCaptureFixture) -> None:
    task = Recorder()

    def flaky(payload: Mapping[str, Any]) -> None:
        if payload["n"] == 0:
            raise RuntimeError("boom")
        task(payload)

    q = InProcessQueue({"t": flaky}, workers=1, maxsize=4, retry_after_s=1)
    try:
        q.enqueue("t", {"n": 0})
        q.enqueue("t", {"n": 1})
        wait_for(task.done)
        assert task.seen == [{"n": 1}]
        assert "job t failed" in caplog.text
    finally:
        q.close(WAIT)


def test_close_returns_waiting_jobs_and_refuses_new_ones() -> None:
    task = Recorder(gated=True)
    q = InProcessQueue({"t": task}, workers=1, maxsize=3, retry_after_s=1)
    q.enqueue("t", {"n": 0})
    wait_for(task.started)
    q.enqueue("t", {"n": 1})
    q.enqueue("t", {"n": 2})
    threading.Timer(0.2, task.gate.set).start()
    dropped = q.close(WAIT)
    assert dropped == [("t", {"n": 1}), ("t", {"n": 2})]
    assert task.seen == [{"n": 0}]  # the running job finished
    with pytest.raises(QueueFull):
        q.enqueue("t", {"n": 3})


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_throttled_monotonic_and_capped() -> None:
    clock = FakeClock()
    sent: list[float] = []
    progress = ThrottledProgress(sent.append, min_interval_s=0.5, clock=clock)
    progress(0.1)
    progress(0.2)  # too soon
    clock.now += 0.6
    progress(0.05)  # backwards: dropped even though time passed
    progress(0.3)
    clock.now += 0.6
    progress(0.305)  # below the minimum step
    progress(float("nan"))
    clock.now += 0.6
    progress(5.0)  # clamped below 1.0: "done" is the runner's to say
    assert sent == [0.1, 0.3, 0.99]
    assert progress.last == 0.99


def test_progress_with_the_real_clock_writes_rarely() -> None:
    sent: list[float] = []
    progress = ThrottledProgress(sent.append, min_interval_s=0.05)
    start = time.monotonic()
    for i in range(2000):
        progress(i / 2000)
    elapsed = time.monotonic() - start
    assert 1 <= len(sent) <= elapsed / 0.05 + 1
