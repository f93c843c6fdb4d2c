"""A bounded in-process job queue with the enqueue shape a real broker could serve.

Producers call ``enqueue(task_name, payload)`` with a JSON-serialisable payload of
ids only; consumers are plain functions registered by name. State and results never
travel through the queue: tasks read and write the result store on disk. Swapping in
Celery or RQ on Redis means a second :class:`JobQueue` implementation whose
``enqueue`` calls ``send_task(name, kwargs=payload)`` / ``Queue.enqueue``; the views and
:class:`~server.jobs.renders.RenderService` stay as they are. (The split between a
thin view that enqueues and a task that writes its state follows the idea of
Flask's "Background Tasks with Celery" pattern.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from server.storage.errors import Busy

log = logging.getLogger(__name__)

Payload = Mapping[str, Any]
Task = Callable[[Payload], None]

_POLL_S = 0.5  # how often idle workers look at the closed flag
_WAKE = object()


class QueueFull(Busy):
    """No room for another job right now."""

    code = "queue_full"


class JobQueue(Protocol):
    """What producers need from a queue (in-process threads today, a broker later)."""

    def enqueue(self, task_name: str, payload: Payload) -> None:
        """Accept a job or raise :class:`QueueFull`; never blocks."""
        ...

    def close(self, timeout: float | None = None) -> list[tuple[str, Payload]]:
        """Stop taking jobs; return waiting jobs this process drops (a broker keeps
        them and returns [])."""
        ...


class InProcessQueue:
    """``workers`` daemon threads draining a queue of at most ``maxsize`` waiting jobs.

    Tasks are looked up by name at run time, as a broker worker would. Exceptions in
    a task are logged; recording the failure is the task's own job.
    """

    def __init__(
        self,
        tasks: Mapping[str, Task],
        workers: int,
        maxsize: int,
        retry_after_s: int,
        name: str = "faceloop-job",
    ) -> None:
        self._tasks = dict(tasks)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=maxsize)
        self._retry_after_s = retry_after_s
        self._closed = threading.Event()
        self._late: list[tuple[str, Payload]] = []
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def enqueue(self, task_name: str, payload: Payload) -> None:
        if task_name not in self._tasks:
            raise KeyError(f"unknown task {task_name!r}")
        # Round-trip through JSON: what a broker would carry, and a guard against
        # objects (arrays, paths, models) sneaking into payloads.
        message = json.loads(json.dumps({"task": task_name, "payload": dict(payload)}))
        if self._closed.is_set():
            raise QueueFull("the server is shutting down", self._retry_after_s)
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            raise QueueFull(
                "too many renders are waiting; try again shortly", self._retry_after_s
            ) from None

    def pending(self) -> int:
        """Jobs waiting (not yet picked up by a worker)."""
        return self._queue.qsize()

    def close(self, timeout: float | None = None) -> list[tuple[str, Payload]]:
        """Refuse new jobs and stop the workers after their current job.

        Waits up to ``timeout`` for them; returns the jobs that were still waiting,
        (task name, payload), so their owner can mark them as interrupted.
        """
        self._closed.set()
        dropped: list[tuple[str, Payload]] = []
        while True:
            try:
                message = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, dict):
                dropped.append((message["task"], message["payload"]))
        for _ in self._threads:  # wake idle workers so they see the closed flag now
            with contextlib.suppress(queue.Full):
                self._queue.put_nowait(_WAKE)
        for thread in self._threads:
            thread.join(timeout)
        return dropped + self._late

    def _work(self) -> None:
        while not self._closed.is_set():
            try:
                message = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if not isinstance(message, dict):  # _WAKE
                continue
            if self._closed.is_set():  # picked up during close: hand it back as dropped
                self._late.append((message["task"], message["payload"]))
                return
            try:
                self._tasks[message["task"]](message["payload"])
            except Exception:
                log.exception("job %s failed", message["task"])
