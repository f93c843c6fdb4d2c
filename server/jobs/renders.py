"""RenderService: what the views call (submit / get / result) and the ``render`` task
the queue runs. Views never see the queue, the store or the pipeline.

Identical requests (same identities per track, template and its source hash, format,
engine) share one render: a done one is answered from storage, a queued or running one
is joined; a failed one is retried as a new render.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from server.jobs.ports import Renderer, TemplateSource
from server.jobs.progress import ThrottledProgress
from server.jobs.queue import JobQueue, Payload
from server.jobs.records import ACTIVE, RenderError, RenderGone, RenderRecord, RenderRecordStore
from server.jobs.requests import RenderPlan, RenderRequest, plan_request
from server.storage.errors import Conflict, NotFound, storage_error
from server.storage.identities import IdentityStore
from server.storage.ids import new_id
from server.storage.procinfo import owner_alive, process_token
from server.types import MEDIA_TYPES, IdentityData

log = logging.getLogger(__name__)

RENDER_TASK = "render"
# (identity id, engine name) -> what the engine needs of the identity; the default
# reads the store, services may complete it first (a missing neural embedding).
IdentityLoader = Callable[[str, str], IdentityData]


class RenderService:
    """Submit renders, read their state, run them (as the queue's ``render`` task)."""

    def __init__(
        self,
        store: RenderRecordStore,
        identities: IdentityStore,
        templates: TemplateSource,
        engines: Mapping[str, Any],
        renderer: Renderer,
        default_engine: str = "auto",
        progress_interval_s: float = 0.5,
        unavailable_engines: Mapping[str, str] | None = None,
        identity_loader: IdentityLoader | None = None,
        motion_engines: Mapping[str, Any] | None = None,
        motion_unavailable: Mapping[str, str] | None = None,
    ) -> None:
        """``unavailable_engines``: engine name -> why this process cannot run it (told
        to clients asking for it); ``identity_loader``: see :data:`IdentityLoader`;
        ``motion_engines`` / ``motion_unavailable``: the same for motion templates
        (``renderer`` is then handed a motion template and a motion engine)."""
        self._store = store
        self._identities = identities
        self._templates = templates
        self._engines = engines
        self._renderer = renderer
        self._default_engine = default_engine
        self._progress_interval_s = progress_interval_s
        self._unavailable = dict(unavailable_engines or {})
        self._motion_engines = dict(motion_engines or {})
        self._motion_unavailable = dict(motion_unavailable or {})
        self._load_identity = identity_loader or (
            lambda identity_id, _: identities.load(identity_id)
        )
        self._queue: JobQueue | None = None

    def bind_queue(self, queue: JobQueue) -> None:
        """Attach the queue that runs :meth:`run` under the name ``RENDER_TASK``."""
        self._queue = queue

    # -- producer side (views) -----------------------------------------------------------
    def submit(self, request: RenderRequest) -> tuple[RenderRecord, bool]:
        """Queue a render or join an identical one; returns (record, reused).

        Raises NotFound (identity/template), Invalid (track ids), Conflict
        (engine_unavailable) or QueueFull.
        """
        plan = plan_request(
            request,
            self._templates,
            self._identities,
            self._engines,
            self._default_engine,
            self._unavailable,
            self._motion_engines,
            self._motion_unavailable,
        )
        with self._store.submit_lock():
            existing = self._reusable(plan.key)
            if existing is not None:
                return existing, True
            record = self._create(plan, request.device_id)
        try:  # after the commit, so the worker finds the record
            self._require_queue().enqueue(RENDER_TASK, {"render_id": record.id})
        except Exception:
            self.delete(record.id)
            raise
        return record, False

    def get(self, render_id: str, device_id: str | None = None) -> RenderRecord:
        """The current record; an active one whose owner process died reads as failed.
        With ``device_id``, another device's render is NotFound, like an unknown one."""
        record = self._store.get(render_id)
        if device_id is not None and record.device_id != device_id:
            raise NotFound(f"render {render_id!r} not found", "render_not_found")
        if record.status in ACTIVE and not owner_alive(record.owner):
            record = self._fail(record, "interrupted", "the server restarted during the render")
        return record

    def owns(self, device_id: str, render_id: str) -> bool:
        """Whether ``render_id`` exists and belongs to ``device_id``."""
        try:
            return self._store.get(render_id).device_id == device_id
        except (NotFound, ValueError):
            return False

    def result(self, render_id: str, device_id: str | None = None) -> tuple[Path, str]:
        """(file path, media type) of a done render; Conflict before that."""
        record = self.get(render_id, device_id)
        if record.status == "failed":
            raise Conflict("the render failed; it has no result", "render_failed")
        if record.status != "done":
            raise Conflict(f"the render is {record.status}; poll its status", "render_not_ready")
        path = self._store.result_path(record)
        if path is None:  # the file vanished: say so, in the status too
            message = "the result file is gone; request the render again"
            self._fail(record, "result_missing", message)
            raise Conflict(message, "result_missing")
        return path, record.media_type or MEDIA_TYPES[record.format]

    def delete(self, render_id: str) -> None:
        """Forget a render: record, result and index entry (queued jobs find it gone)."""
        try:
            record = self._store.get(render_id)
        except (NotFound, ValueError):
            record = None
        self._store.delete(render_id)
        if record is not None:
            self._store.unindex(record.request_key, render_id)

    def delete_identity(self, identity_id: str) -> list[str]:
        """Delete an identity and every render that used it; returns the render ids."""
        render_ids = self._identities.delete(identity_id)
        for render_id in render_ids:
            self.delete(render_id)
        return render_ids

    def delete_device(self, device_id: str) -> None:
        """Delete every render a device asked for (its identities go separately)."""
        for render_id in self._store.owned_by(device_id):
            self.delete(render_id)

    def recover(self) -> int:
        """Mark renders left queued/running by dead processes as failed ("interrupted").

        Chosen over re-queueing: the client may have given up or deleted the identity
        meanwhile, and an identical new request simply starts a fresh render.
        """
        count = 0
        for record in self._store.iter_records(ACTIVE):
            if not owner_alive(record.owner):
                self._fail(record, "interrupted", "the server restarted during the render")
                count += 1
        return count

    def interrupt(self, payloads: list[tuple[str, Payload]]) -> None:
        """Mark jobs a closing queue dropped as interrupted."""
        for task, payload in payloads:
            if task == RENDER_TASK:
                try:
                    record = self._store.get(str(payload.get("render_id")))
                except (NotFound, ValueError):
                    continue
                self._fail(record, "interrupted", "the server shut down before the render ran")

    # -- consumer side (the queue's task) ------------------------------------------------
    def run(self, payload: Payload) -> None:
        """The ``render`` task: load inputs by id, render, store the result atomically."""
        render_id = str(payload.get("render_id"))
        try:
            record = self._store.get(render_id)
        except (NotFound, ValueError):
            log.info("render %s was deleted before it ran; dropped", render_id)
            return
        if record.status != "queued":
            return
        try:
            self._run(record)
        except RenderGone:
            log.info("render %s was deleted while running; discarded", render_id)
        except NotFound as exc:
            if exc.code == "identity_not_found":  # identity deleted: its renders go too
                self.delete(render_id)
            else:
                self._fail_latest(render_id, exc.code, exc.message)
        except Exception as exc:
            self._fail_with(render_id, exc)

    def _fail_with(self, render_id: str, exc: Exception) -> None:
        """Record why a render failed: the error's own code, a storage problem (disk
        full, read-only data dir), out_of_memory or, for anything else, render_failed."""
        if isinstance(exc, OSError) and (problem := storage_error(exc)) is not None:
            log.error("render %s: %s (errno %s)", render_id, problem.code, exc.errno)
            exc = problem
        code, message = getattr(exc, "code", None), getattr(exc, "message", None)
        if isinstance(exc, MemoryError):  # the worker's memory cap (server.worker_memory)
            log.error("render %s: out of memory", render_id)
            self._fail_latest(
                render_id, "out_of_memory", "the render needed more memory than allowed"
            )
        elif isinstance(code, str) and isinstance(message, str):
            self._fail_latest(render_id, code, message)
        elif self._store.exists(render_id):  # else: deleted meanwhile, pipeline stopped
            log.exception("render %s failed", render_id)
            self._fail_latest(render_id, "render_failed", "the render failed unexpectedly")

    def _run(self, record: RenderRecord) -> None:
        faces = {
            int(track): self._load_identity(i, record.engine) for track, i in record.faces.items()
        }
        template = self._templates.get(record.template_id)
        if template is None:
            raise NotFound(f"template {record.template_id!r} is gone", "template_not_found")
        motion = getattr(template, "kind", "swap") == "motion"
        engine = (self._motion_engines if motion else self._engines).get(record.engine)
        if engine is None:
            raise Conflict(f"engine {record.engine!r} is not loaded", "engine_unavailable")
        record = record.evolve(status="running", owner=process_token())
        self._store.save(record)
        holder = {"record": record}

        def sink(value: float) -> None:
            holder["record"] = holder["record"].evolve(progress=value)
            self._store.save(holder["record"])

        progress = ThrottledProgress(sink, min_interval_s=self._progress_interval_s)
        output = self._renderer(
            template,
            faces,
            engine,
            record.format,
            progress=progress,
            cancelled=lambda: not self._store.exists(record.id),
            render_id=record.id,
        )
        name = self._store.write_result(record.id, record.format, output.data)
        done = holder["record"].evolve(
            status="done",
            progress=1.0,
            result_file=name,
            media_type=output.media_type,
            frame_count=output.frame_count,
            stats=dict(output.stats or {}),
        )
        self._store.save(done)

    # -- helpers -------------------------------------------------------------------------
    def _reusable(self, key: str) -> RenderRecord | None:
        render_id = self._store.indexed(key)
        if render_id is None:
            return None
        try:
            record = self.get(render_id)
        except NotFound:
            return None
        if record.status == "done" and self._store.result_path(record) is not None:
            return record
        return record if record.status in ACTIVE else None

    def _create(self, plan: RenderPlan, device_id: str | None) -> RenderRecord:
        """Write, link and index a new render for ``plan`` (inside the submit
        transaction: an identity deleted meanwhile fails the link with NotFound)."""
        record = RenderRecord(
            id=new_id("render"),
            template_id=plan.template_id,
            template_sha256=plan.template_sha256,
            faces=plan.faces,
            identity_ids=plan.identity_ids,
            format=plan.format,
            engine=plan.engine,
            engine_info=plan.engine_info,
            request_key=plan.key,
            owner=process_token(),
            device_id=device_id,
        )
        self._store.create(record)
        for identity_id in record.identity_ids:
            self._identities.link_render(identity_id, record.id)
        self._store.index(record.request_key, record.id)
        return record

    def _fail(self, record: RenderRecord, code: str, message: str) -> RenderRecord:
        failed = record.evolve(status="failed", error=RenderError(code=code, message=message))
        try:
            self._store.save(failed)
        except RenderGone:  # deleted meanwhile: nothing to record
            pass
        except OSError as exc:  # cannot even record the failure: leave nothing half-done
            log.error("render %s: cannot record its failure (errno %s)", record.id, exc.errno)
            self.delete(record.id)
        return failed

    def _fail_latest(self, render_id: str, code: str, message: str) -> None:
        """Fail the render as last saved (keeping its progress); no-op if deleted."""
        try:
            record = self._store.get(render_id)
        except NotFound:
            log.info("render %s was deleted while running; discarded", render_id)
            return
        self._fail(record, code, message)

    def _require_queue(self) -> JobQueue:
        if self._queue is None:
            raise RuntimeError("RenderService has no queue bound")
        return self._queue
