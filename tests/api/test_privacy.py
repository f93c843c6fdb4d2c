"""Consent before anything is decoded, retention with a sweep, erasure that leaves no
trace anywhere in the data dir, and no tokens in the logs."""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import server.identities as identities_module
from server.storage.db import DB_NAME
from tests.api.conftest import TEMPLATE_ID, AppFactory, fake_app, new_device, upload
from tests.api.test_renders import new_identity, poll, post_render
from tools import datacheck, sweep


def _rendered(client: Any, face_jpeg: bytes) -> tuple[str, str]:
    """(identity id, render id) of an identity with a finished render."""
    ident = new_identity(client, face_jpeg)
    body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
    assert poll(client, body["status_url"])["status"] == "done"
    return ident, body["id"]


@pytest.mark.parametrize("consent", [None, "", "no", "false", "0", "maybe"])
def test_no_consent_no_decoding(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, face_jpeg: bytes, consent: str | None
) -> None:
    client = fake_app(make_app).test_client()
    decoded: list[int] = []
    monkeypatch.setattr(identities_module, "decode_selfie", lambda *a: decoded.append(1))
    for files in ([b"not an image at all"], [face_jpeg]):
        response = upload(client, *files, consent=consent)
        assert response.status_code == 422, response.json
        assert response.json["error"]["code"] == "consent_required"
    assert decoded == []


@pytest.mark.parametrize("consent", ["true", "yes", "1", "True"])
def test_consent_is_recorded_with_time_and_policy(
    make_app: AppFactory, tmp_path: Path, face_jpeg: bytes, consent: str
) -> None:
    client = fake_app(make_app, consent_policy="2026-07").test_client()
    response = upload(client, face_jpeg, consent=consent)
    assert response.status_code == 201, response.json
    body = response.json
    with sqlite3.connect(tmp_path / "data" / DB_NAME) as db:
        row = db.execute(
            "SELECT consent_at, consent_policy, created_at, expires_at FROM identities"
        ).fetchone()
    assert row[0] == body["created_at"] and row[1] == "2026-07"
    created = datetime.fromisoformat(row[2])
    assert datetime.fromisoformat(row[3]) - created == timedelta(hours=48)
    assert body["expires_at"] == row[3]


def test_the_sweep_erases_expired_identities_and_their_renders(
    make_app: AppFactory, tmp_path: Path, face_jpeg: bytes
) -> None:
    client = fake_app(make_app, retention_hours=2).test_client()
    old_ident, old_render = _rendered(client, face_jpeg)
    data = tmp_path / "data"
    now = datetime.now(UTC)
    assert sweep.run(data, now + timedelta(hours=1.9)).identities == 0
    report = sweep.run(data, now + timedelta(hours=2, minutes=1))
    assert (report.identities, report.renders) == (1, 1)
    assert client.get(f"/v1/identities/{old_ident}").status_code == 404
    assert client.get(f"/v1/renders/{old_render}").status_code == 404
    assert datacheck.check(data) == {}
    assert sweep.main(["--data-dir", str(data)]) == 0


def test_the_service_sweeps_by_itself(make_app: AppFactory, face_jpeg: bytes) -> None:
    client = fake_app(make_app, retention_hours=0.0003, sweep_interval_s=0.2).test_client()
    ident, render = _rendered(client, face_jpeg)  # expires about a second after upload
    deadline = time.monotonic() + 15
    # The sweep erases the identity, then its renders: on a busy machine a request can
    # fall between the two, so both are awaited.
    for path in (f"/v1/identities/{ident}", f"/v1/renders/{render}"):
        while client.get(path).status_code != 404:
            assert time.monotonic() < deadline, f"the sweep never erased {path}"
            time.sleep(0.1)


def _traces(make_app: AppFactory, face_jpeg: bytes) -> tuple[Any, Any, list[bytes], Path]:
    """An app, a client with one rendered identity, the identity's telltale byte
    strings, and the data dir."""
    app = fake_app(make_app)
    client, _ = new_device(app)
    ident, render = _rendered(client, face_jpeg)
    services = app.extensions["faceloop"]
    identity = services.identities._store.load(ident)
    texture = np.ascontiguousarray(identity.texture).tobytes()
    middle = len(texture) // 2
    marks = [
        ident.encode(),
        render.encode(),
        texture[middle : middle + 96],
        np.asarray(identity.descriptor, np.float32).tobytes()[:64],
        np.asarray(identity.descriptor, np.float64).tobytes()[:64],
    ]
    data_dir = Path(services.settings.data_dir)
    assert _found(data_dir, marks[:3]), "the telltales must be present before the erase"
    return app, client, marks, data_dir


def _found(data_dir: Path, marks: list[bytes]) -> list[str]:
    """Every file (database and its WAL included) holding one of ``marks``."""
    hits = []
    for path in data_dir.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            hits += [f"{path.name}: {m[:12]!r}" for m in marks if m in content]
    return hits


def test_deleting_an_identity_leaves_no_trace(make_app: AppFactory, face_jpeg: bytes) -> None:
    _, client, marks, data_dir = _traces(make_app, face_jpeg)
    ident = marks[0].decode()
    assert client.delete(f"/v1/identities/{ident}").status_code == 204
    assert _found(data_dir, marks) == []
    assert datacheck.check(data_dir) == {}


def test_deleting_the_device_leaves_no_trace(make_app: AppFactory, face_jpeg: bytes) -> None:
    _, client, marks, data_dir = _traces(make_app, face_jpeg)
    token = client.environ_base["HTTP_AUTHORIZATION"].split()[1]
    assert client.delete("/v1/devices/me").status_code == 204
    assert _found(data_dir, [*marks, token.encode()]) == []
    assert datacheck.check(data_dir) == {}


def test_no_token_or_image_bytes_in_the_logs(
    make_app: AppFactory, face_jpeg: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = fake_app(make_app)
    client, _ = new_device(app)
    token = client.environ_base["HTTP_AUTHORIZATION"].split()[1]
    ident, render = _rendered(client, face_jpeg)
    result = client.get(f"/v1/renders/{render}/result")
    result.close()
    client.get("/v1/renders/rnd_" + "0" * 24)  # an error path too
    client.delete(f"/v1/identities/{ident}")
    client.delete("/v1/devices/me")
    client.get(f"/v1/identities/{ident}")  # 401 with the old token
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert token not in text and token[:16] not in text
    assert face_jpeg[100:140].hex() not in text and repr(face_jpeg[100:140]) not in text


def test_datacheck_reports_orphans(
    make_app: AppFactory, face_jpeg: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    app = fake_app(make_app)
    client = app.test_client()
    ident, render = _rendered(client, face_jpeg)
    data = Path(app.extensions["faceloop"].settings.data_dir)
    assert datacheck.main(["--data-dir", str(data)]) == 0
    (data / "identities" / ("idt_" + "a" * 24)).mkdir()  # files without a record
    (data / "renders" / render / "result.gif").unlink()  # a done render without result
    (data / "identities" / ident / "arrays.npz").unlink()  # a record without its files
    problems = datacheck.check(data)
    assert problems == {
        "identity_files_without_record": ["idt_" + "a" * 24],
        "identity_record_without_files": [ident],
        "done_render_without_result": [render],
    }
    assert datacheck.main(["--data-dir", str(data)]) == 1
    assert "done_render_without_result: 1" in capsys.readouterr().out
