from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from server.jobs.queue import QueueFull
from server.jobs.records import RenderRecord
from server.jobs.requests import RenderRequest
from server.storage.errors import Conflict, Invalid, NotFound
from server.storage.ids import new_id
from tests.jobs.conftest import Rig, make_rig
from tests.jobs.fakes import WAIT, Gate, wait_until


def submit(rig: Rig, identity: str, **kw: object) -> RenderRecord:
    record, _ = rig.service.submit(RenderRequest(identity_id=identity, template_id="duo", **kw))  # type: ignore[arg-type]
    return record


def finished(rig: Rig, render_id: str) -> RenderRecord:
    wait_until(lambda: rig.service.get(render_id).status in ("done", "failed"))
    return rig.service.get(render_id)


def test_render_runs_to_done_and_stores_the_result(rig: Rig) -> None:
    ident = rig.identity()
    record = submit(rig, ident, format="webp")
    assert record.status == "queued" and record.faces == {"0": ident}
    done = finished(rig, record.id)
    assert done.status == "done" and done.progress == 1.0 and done.error is None
    assert done.identity_ids == [ident] and done.engine == "classic" and done.format == "webp"
    path, media_type = rig.service.result(record.id)
    assert path.read_bytes() == b"GIF89a webp [0]"
    assert media_type == "image/webp"
    assert sorted(p.name for p in path.parent.iterdir()) == ["result.webp"]


def test_progress_is_visible_while_running(rig: Rig) -> None:
    gate = Gate(at=0.4)
    rig.renderer.behaviour = gate
    record = submit(rig, rig.identity())
    assert gate.entered.wait(WAIT)
    running = rig.service.get(record.id)
    assert running.status == "running" and running.progress == pytest.approx(0.4)
    with pytest.raises(Conflict) as info:
        rig.service.result(record.id)
    assert info.value.code == "render_not_ready"
    gate.opened.set()
    assert finished(rig, record.id).status == "done"


class CodedError(Exception):
    def __init__(self) -> None:
        super().__init__("template face too small")
        self.code = "template_face_too_small"
        self.message = "the template face is too small to swap"


def raising(exc: Exception) -> Callable[..., None]:
    def behaviour(progress: Callable[[float], None], cancelled: Callable[[], bool]) -> None:
        progress(0.3)
        raise exc

    return behaviour


def test_failure_is_recorded_with_the_error_code(rig: Rig) -> None:
    rig.renderer.behaviour = raising(CodedError())
    failed = finished(rig, submit(rig, rig.identity()).id)
    assert failed.status == "failed"
    assert failed.error is not None and failed.error.code == "template_face_too_small"
    assert failed.error.message == "the template face is too small to swap"
    with pytest.raises(Conflict) as info:
        rig.service.result(failed.id)
    assert info.value.code == "render_failed"


def test_unexpected_failure_leaks_nothing_and_leaves_no_file(rig: Rig) -> None:
    rig.renderer.behaviour = raising(RuntimeError("secret /srv/path detail"))
    failed = finished(rig, submit(rig, rig.identity()).id)
    assert failed.error is not None and failed.error.code == "render_failed"
    assert "secret" not in failed.error.message
    render_dir = rig.layout.render_dir(failed.id)
    assert not render_dir.exists()


def test_identical_requests_share_one_render(rig: Rig) -> None:
    ident = rig.identity()
    first = submit(rig, ident)
    finished(rig, first.id)
    again, reused = rig.service.submit(RenderRequest(ident, "duo"))
    assert reused and again.id == first.id and again.status == "done"
    explicit, reused = rig.service.submit(RenderRequest(ident, "duo", faces={"0": ident}))
    assert reused and explicit.id == first.id
    other = submit(rig, ident, format="mp4")
    assert other.id != first.id
    assert finished(rig, other.id).format == "mp4"
    assert len(rig.renderer.calls) == 2


def test_identical_request_joins_a_running_render(rig: Rig) -> None:
    gate = Gate()
    rig.renderer.behaviour = gate
    ident = rig.identity()
    first = submit(rig, ident)
    assert gate.entered.wait(WAIT)
    second, reused = rig.service.submit(RenderRequest(ident, "duo"))
    assert reused and second.id == first.id and second.status == "running"
    gate.opened.set()
    finished(rig, first.id)
    assert len(rig.renderer.calls) == 1


def test_a_failed_render_is_retried_as_a_new_one(rig: Rig) -> None:
    ident = rig.identity()
    rig.renderer.behaviour = raising(RuntimeError("flaky"))
    failed = finished(rig, submit(rig, ident).id)
    rig.renderer.behaviour = lambda progress, cancelled: None
    retry, reused = rig.service.submit(RenderRequest(ident, "duo"))
    assert not reused and retry.id != failed.id
    assert finished(rig, retry.id).status == "done"


def test_faces_map_adds_identities_per_track(rig: Rig) -> None:
    a, b = rig.identity(1), rig.identity(2)
    record = submit(rig, a, faces={"3": b})
    assert record.faces == {"0": a, "3": b} and record.identity_ids == [a, b]
    finished(rig, record.id)
    assert sorted(rig.renderer.calls[-1]) == [0, 3]
    swapped = submit(rig, a, faces={"0": b, "3": a})
    assert swapped.identity_ids == [b, a] and swapped.id != record.id


@pytest.mark.parametrize("track", ["1", "7", "-1", "abc", "", "0x1", "٣", "9" * 20])
def test_unknown_tracks_are_invalid(rig: Rig, track: str) -> None:
    with pytest.raises(Invalid) as info:
        submit(rig, rig.identity(), faces={track: rig.identity()})
    assert info.value.code == "unknown_track"


def test_unknown_ids_are_not_found(rig: Rig) -> None:
    ident = rig.identity()
    cases = [
        (RenderRequest(ident, "nope"), "template_not_found"),
        (RenderRequest(ident, "../duo"), "template_not_found"),
        (RenderRequest(new_id("identity"), "duo"), "identity_not_found"),
        (RenderRequest("../../etc", "duo"), "identity_not_found"),
        (RenderRequest(ident, "duo", faces={"3": new_id("identity")}), "identity_not_found"),
    ]
    for request, code in cases:
        with pytest.raises(NotFound) as info:
            rig.service.submit(request)
        assert info.value.code == code
    with pytest.raises(NotFound):
        rig.service.get("rnd_../../x")


def test_template_without_faces_and_missing_engine(rig: Rig) -> None:
    with pytest.raises(Invalid) as info:
        rig.service.submit(RenderRequest(rig.identity(), "empty"))
    assert info.value.code == "no_face_track"
    with pytest.raises(Conflict) as conflict:
        rig.service.submit(RenderRequest(rig.identity(), "duo", engine="neural"))
    assert conflict.value.code == "engine_unavailable"


def test_deleting_an_identity_discards_its_queued_render(rig: Rig) -> None:
    gate = Gate()
    rig.renderer.behaviour = gate
    blocker = submit(rig, rig.identity(1))
    assert gate.entered.wait(WAIT)
    doomed_identity = rig.identity(2)
    queued = submit(rig, doomed_identity)
    assert rig.service.delete_identity(doomed_identity) == [queued.id]
    gate.opened.set()
    finished(rig, blocker.id)
    wait_until(lambda: rig.queue.pending() == 0)
    assert rig.queue.close(WAIT) == []  # the worker took the job (and dropped it)
    assert len(rig.renderer.calls) == 1
    with pytest.raises(NotFound):
        rig.service.get(queued.id)
    assert not rig.layout.render_dir(queued.id).exists()


def test_a_render_whose_identity_vanished_is_removed_not_failed(rig: Rig) -> None:
    """The race where an identity goes between a render's link and its record: the task
    finds the identity gone and deletes the render instead of running it."""
    gate = Gate()
    rig.renderer.behaviour = gate
    blocker = submit(rig, rig.identity(1))
    assert gate.entered.wait(WAIT)
    ident = rig.identity(2)
    queued = submit(rig, ident)
    rig.identities.delete(ident)  # store-level delete: the render record survives
    assert rig.store.exists(queued.id)
    gate.opened.set()
    finished(rig, blocker.id)
    wait_until(lambda: not rig.store.exists(queued.id))
    assert len(rig.renderer.calls) == 1


def test_deleting_an_identity_mid_render_writes_no_result(rig: Rig) -> None:
    gate = Gate()
    rig.renderer.behaviour = gate
    ident = rig.identity()
    record = submit(rig, ident)
    assert gate.entered.wait(WAIT)
    rig.service.delete_identity(ident)
    gate.opened.set()
    rig.queue.close(WAIT)
    assert list(rig.layout.renders.iterdir()) == []
    assert rig.store.ids() == [] and rig.store.indexed(record.request_key) is None
    with pytest.raises(NotFound):
        rig.service.get(record.id)


def test_full_queue_refuses_and_leaves_no_record(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, workers=1, queue_size=1)
    gate = Gate()
    rig.renderer.behaviour = gate
    try:
        running = submit(rig, rig.identity(1))
        assert gate.entered.wait(WAIT)
        waiting = submit(rig, rig.identity(2))
        with pytest.raises(QueueFull) as info:
            submit(rig, rig.identity(3))
        assert info.value.retry_after_s == 2
        assert rig.store.ids() == sorted([running.id, waiting.id])
    finally:
        gate.opened.set()
        rig.queue.close(WAIT)


def test_records_of_dead_processes_are_marked_interrupted(rig: Rig, dead_owner: str) -> None:
    ident = rig.identity()
    base = submit(rig, ident)
    finished(rig, base.id)
    orphans = []
    for status in ("queued", "running"):
        orphan = base.model_copy(
            update={"id": new_id("render"), "status": status, "owner": dead_owner, "progress": 0.2}
        )
        rig.store.create(orphan)
        orphans.append(orphan)
    alive = base.model_copy(update={"id": new_id("render"), "status": "queued"})
    rig.store.create(alive)  # owned by this (live) process

    assert rig.service.recover() == 2
    for orphan in orphans:
        record = rig.store.get(orphan.id)
        assert record.status == "failed" and record.error is not None
        assert record.error.code == "interrupted"
    assert rig.store.get(alive.id).status == "queued"
    assert rig.store.get(base.id).status == "done"


def test_reading_a_dead_processes_record_reports_it_interrupted(rig: Rig, dead_owner: str) -> None:
    base = submit(rig, rig.identity())
    finished(rig, base.id)
    orphan = base.model_copy(
        update={"id": new_id("render"), "status": "running", "owner": dead_owner}
    )
    rig.store.create(orphan)
    seen = rig.service.get(orphan.id)
    assert seen.status == "failed" and seen.error is not None
    assert seen.error.code == "interrupted"
    assert rig.store.get(orphan.id).status == "failed"


def test_closing_marks_waiting_renders_interrupted(rig: Rig) -> None:
    gate = Gate()
    rig.renderer.behaviour = gate
    running = submit(rig, rig.identity(1))
    assert gate.entered.wait(WAIT)
    waiting = submit(rig, rig.identity(2))
    dropped = rig.queue.close(timeout=0.3)  # the running job is still at its gate
    assert dropped == [("render", {"render_id": waiting.id})]
    rig.service.interrupt(dropped)
    after = rig.service.get(waiting.id)
    assert after.status == "failed" and after.error is not None
    assert after.error.code == "interrupted"
    gate.opened.set()
    wait_until(lambda: rig.service.get(running.id).status == "done")
