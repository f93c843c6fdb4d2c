"""A full or read-only data dir gives 507/503 (uploads) or a failed render with a reason,
leaves nothing behind and recovers by itself; identical requests racing start one
render."""

from __future__ import annotations

import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import server.storage.identities as identity_storage
from server.jobs.records import RenderRecordStore
from server.storage.layout import DataLayout
from tests.api.conftest import TEMPLATE_ID, AppFactory, fake_app, upload
from tests.api.test_renders import new_identity, poll, post_render
from tests.jobs.fakes import ScriptedRenderer


def failing(err: int) -> Any:
    def write(*_: Any, **__: Any) -> None:
        raise OSError(err, os.strerror(err), "/srv/faceloop/data/secret/path")

    return write


def leftovers(data_dir: Path) -> list[str]:
    """Hidden temp files and staging/trash dirs anywhere under the data dir."""
    return [p.name for p in data_dir.rglob(".*") if not p.name.endswith(".lock")]


@pytest.mark.parametrize(
    ("err", "status", "code"),
    [(errno.ENOSPC, 507, "storage_full"), (errno.EROFS, 503, "storage_unavailable")],
)
def test_upload_on_a_full_or_read_only_disk(
    make_app: AppFactory,
    face_jpeg: bytes,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    err: int,
    status: int,
    code: str,
) -> None:
    client = fake_app(make_app).test_client()
    with monkeypatch.context() as patch:
        patch.setattr(identity_storage, "atomic_write_bytes", failing(err))
        response = upload(client, face_jpeg)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert "/srv" not in response.get_data(as_text=True)
    assert response.headers["Retry-After"].isdigit()
    assert leftovers(tmp_path / "data") == []
    assert not any((tmp_path / "data" / "identities").iterdir())
    assert upload(client, face_jpeg).status_code == 201  # space is back: it just works


def test_render_on_a_full_disk_fails_with_a_reason_then_recovers(
    make_app: AppFactory, face_jpeg: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    renderer = ScriptedRenderer()
    client = fake_app(make_app, renderer=renderer).test_client()
    ident = new_identity(client, face_jpeg)
    with monkeypatch.context() as patch:
        patch.setattr(RenderRecordStore, "write_result", failing(errno.ENOSPC))
        first = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
        failed = poll(client, first["status_url"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "storage_full", failed
    assert "/srv" not in str(failed)
    assert leftovers(tmp_path / "data") == []
    again = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
    assert again["id"] != first["id"]
    assert poll(client, again["status_url"])["status"] == "done"


def test_identical_concurrent_requests_start_one_render(
    make_app: AppFactory, face_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    renderer = ScriptedRenderer()
    app = fake_app(make_app, renderer=renderer)
    ident = new_identity(app.test_client(), face_jpeg)
    lookup = RenderRecordStore.indexed

    def slow_lookup(self: RenderRecordStore, key: str) -> str | None:
        time.sleep(0.01)  # widen the window between looking up and creating
        return lookup(self, key)

    monkeypatch.setattr(RenderRecordStore, "indexed", slow_lookup)
    ids: list[str] = []
    start = threading.Barrier(30)

    def ask() -> None:
        client = app.test_client()
        start.wait()
        response = post_render(client, identity_id=ident, template_id=TEMPLATE_ID)
        ids.append(response.json["id"])

    threads = [threading.Thread(target=ask) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(ids) == 30 and len(set(ids)) == 1, sorted(set(ids))
    poll(app.test_client(), f"/v1/renders/{ids[0]}")
    assert len(renderer.calls) == 1


def test_a_data_dir_read_only_at_start_up_recovers_by_itself(
    make_app: AppFactory, face_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(DataLayout, "ensure", failing(errno.EROFS))
        client = fake_app(make_app).test_client()  # starts: reads work, writes do not
        assert client.get("/healthz").status_code == 200
        refused = upload(client, face_jpeg)
        assert refused.status_code == 503, refused.json
        assert refused.json["error"]["code"] == "storage_unavailable"
    assert upload(client, face_jpeg).status_code == 201  # writable again: no restart needed
