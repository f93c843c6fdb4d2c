"""Render endpoints over a scripted renderer: shapes, status codes, queue, deletion."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from server.storage.ids import RENDER_ID_PATTERN
from tests.api.conftest import TEMPLATE_ID, AppFactory, fake_app, upload
from tests.jobs.fakes import WAIT, Gate, ScriptedRenderer

RENDER_FIELDS = {
    "id", "status", "progress", "result_url", "error", "created_at", "updated_at",
    "template_id", "identity_ids", "faces", "format", "engine", "engine_info", "status_url",
}  # fmt: skip


def new_identity(client: Any, face_jpeg: bytes) -> str:
    response = upload(client, face_jpeg)
    assert response.status_code == 201, response.json
    return str(response.json["id"])


def post_render(client: Any, **body: Any) -> Any:
    return client.post("/v1/renders", json=body)


def poll(client: Any, status_url: str, until: tuple[str, ...] = ("done", "failed")) -> Any:
    deadline = time.monotonic() + WAIT
    while True:
        body = client.get(status_url).json
        if body["status"] in until:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.02)


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code


@pytest.fixture
def rendering(make_app: AppFactory, face_jpeg: bytes) -> tuple[Any, ScriptedRenderer, str]:
    renderer = ScriptedRenderer()
    client = fake_app(make_app, renderer=renderer).test_client()
    return client, renderer, new_identity(client, face_jpeg)


def test_submit_poll_download_and_reuse(rendering: tuple[Any, ScriptedRenderer, str]) -> None:
    client, renderer, ident = rendering
    accepted = post_render(client, identity_id=ident, template_id=TEMPLATE_ID)
    assert accepted.status_code == 202
    body = accepted.json
    assert body["status"] == "queued" and body["status_url"] == f"/v1/renders/{body['id']}"
    assert accepted.headers["Location"] == body["status_url"]
    assert re.fullmatch(RENDER_ID_PATTERN, body["id"])

    done = poll(client, body["status_url"])
    assert set(done) == RENDER_FIELDS
    assert done["status"] == "done" and done["progress"] == 1.0 and done["error"] is None
    assert done["identity_ids"] == [ident] and done["faces"] == {"0": ident}
    assert done["format"] == "gif" and done["engine"] == "classic"
    assert done["template_id"] == TEMPLATE_ID
    assert done["result_url"] == f"/v1/renders/{body['id']}/result"
    with client.get(done["result_url"]) as result:
        assert result.status_code == 200 and result.mimetype == "image/gif"
        assert result.data == b"GIF89a gif [0]"

    again = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format="gif",
                        faces={"0": ident})  # fmt: skip
    assert again.status_code == 200
    assert again.json == {**body, "status": "done", "result_url": done["result_url"]}
    assert len(renderer.calls) == 1


@pytest.mark.parametrize(("fmt", "mimetype"), [("mp4", "video/mp4"), ("webp", "image/webp")])
def test_result_content_types(
    rendering: tuple[Any, ScriptedRenderer, str], fmt: str, mimetype: str
) -> None:
    client, _, ident = rendering
    body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format=fmt).json
    done = poll(client, body["status_url"])
    with client.get(done["result_url"]) as result:
        assert result.mimetype == mimetype


def test_not_ready_then_done(rendering: tuple[Any, ScriptedRenderer, str]) -> None:
    client, renderer, ident = rendering
    gate = Gate(at=0.25)
    renderer.behaviour = gate
    body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
    assert gate.entered.wait(WAIT)
    running = client.get(body["status_url"]).json
    assert running["status"] == "running" and running["progress"] == pytest.approx(0.25)
    assert running["result_url"] is None
    assert_error(client.get(f"/v1/renders/{body['id']}/result"), 409, "render_not_ready")
    gate.opened.set()
    assert poll(client, body["status_url"])["status"] == "done"


class TemplateTooHard(Exception):
    code = "template_face_too_small"
    message = "the template's face is too small"


def test_failed_render_reports_its_error(rendering: tuple[Any, ScriptedRenderer, str]) -> None:
    client, renderer, ident = rendering

    def fail(progress: Any, cancelled: Any) -> None:
        raise TemplateTooHard()

    renderer.behaviour = fail
    body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
    failed = poll(client, body["status_url"])
    assert failed["status"] == "failed" and failed["result_url"] is None
    assert failed["error"] == {"code": "template_face_too_small",
                               "message": "the template's face is too small"}  # fmt: skip
    assert_error(client.get(f"/v1/renders/{body['id']}/result"), 409, "render_failed")


def test_full_queue_is_429_with_retry_after(make_app: AppFactory, face_jpeg: bytes) -> None:
    renderer = ScriptedRenderer()
    gate = Gate()
    renderer.behaviour = gate
    app = fake_app(make_app, renderer=renderer, render_workers=1, queue_size=1, retry_after_s=9)
    client = app.test_client()
    ident = new_identity(client, face_jpeg)
    try:
        first = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format="gif")
        assert first.status_code == 202 and gate.entered.wait(WAIT)
        second = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format="mp4")
        assert second.status_code == 202
        third = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format="webp")
        assert_error(third, 429, "queue_full")
        assert third.headers["Retry-After"] == "9"
        # the refused render left nothing behind; the identical queued one is joined
        assert post_render(client, identity_id=ident, template_id=TEMPLATE_ID,
                           format="mp4").json["id"] == second.json["id"]  # fmt: skip
    finally:
        gate.opened.set()
    assert poll(client, second.json["status_url"])["status"] == "done"
    retry = post_render(client, identity_id=ident, template_id=TEMPLATE_ID, format="webp")
    assert retry.status_code == 202


def test_deleting_the_identity_deletes_its_renders(
    rendering: tuple[Any, ScriptedRenderer, str],
) -> None:
    client, _, ident = rendering
    body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
    done = poll(client, body["status_url"])
    assert client.delete(f"/v1/identities/{ident}").status_code == 204
    assert_error(client.get(body["status_url"]), 404, "render_not_found")
    assert_error(client.get(done["result_url"]), 404, "render_not_found")
    assert_error(post_render(client, identity_id=ident, template_id=TEMPLATE_ID), 404,
                 "identity_not_found")  # fmt: skip


def test_lookup_errors(rendering: tuple[Any, ScriptedRenderer, str]) -> None:
    client, _, ident = rendering
    other = "idt_" + "0" * 24
    cases = [
        ({"identity_id": other, "template_id": TEMPLATE_ID}, 404, "identity_not_found"),
        ({"identity_id": "../../etc", "template_id": TEMPLATE_ID}, 404, "identity_not_found"),
        ({"identity_id": "ïdéntïty", "template_id": TEMPLATE_ID}, 404, "identity_not_found"),
        ({"identity_id": ident, "template_id": "nope"}, 404, "template_not_found"),
        ({"identity_id": ident, "template_id": "../x"}, 404, "template_not_found"),
        ({"identity_id": ident, "template_id": TEMPLATE_ID, "faces": {"0": other}}, 404,
         "identity_not_found"),
        ({"identity_id": ident, "template_id": TEMPLATE_ID, "faces": {"5": ident}}, 422,
         "unknown_track"),
        ({"identity_id": ident, "template_id": TEMPLATE_ID, "faces": {"main": ident}}, 422,
         "unknown_track"),
    ]  # fmt: skip
    for body, status, code in cases:
        assert_error(post_render(client, **body), status, code)


@pytest.mark.parametrize(
    "body",
    [
        {"identity_id": "idt_x", "template_id": TEMPLATE_ID, "format": "bmp"},
        {"identity_id": "idt_x", "template_id": TEMPLATE_ID, "format": None},
        {"identity_id": "idt_x"},
        {"template_id": TEMPLATE_ID},
        {"identity_id": 5, "template_id": TEMPLATE_ID},
        {"identity_id": "idt_x", "template_id": TEMPLATE_ID, "faces": ["0"]},
        {"identity_id": "idt_x", "template_id": TEMPLATE_ID, "faces": {"0": 1}},
        {"identity_id": "idt_x", "template_id": TEMPLATE_ID, "engine": "neural", "x": 1},
        {"identity_id": "x" * 1000, "template_id": TEMPLATE_ID},
        [1, 2, 3],
        "a string",
        None,
    ],
)
def test_schema_errors_are_422(client: Any, body: Any) -> None:
    response = client.post("/v1/renders", data=json.dumps(body), content_type="application/json")
    assert_error(response, 422, "validation_error")
    assert response.json["error"]["details"]


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b"", "application/json", 400, "invalid_json"),
        (b"   ", None, 400, "invalid_json"),
        (b"{not json", "application/json", 400, "invalid_json"),
        (bytes(range(256)) * 8, "application/octet-stream", 400, "invalid_json"),
        (b"\xff\xfe{\x00}\x00", "application/json", 400, "invalid_json"),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "invalid_json"),
        (json.dumps({"identity_id": "x" * 200_000}).encode(), "application/json", 413,
         "too_large"),
        (b"identity_id=a&template_id=b", "application/x-www-form-urlencoded", 400,
         "invalid_json"),
    ],
)  # fmt: skip
def test_garbage_bodies_never_500(
    client: Any, data: bytes, content_type: str | None, status: int, code: str
) -> None:
    response = client.post("/v1/renders", data=data, content_type=content_type)
    assert_error(response, status, code)


@pytest.mark.parametrize("render_id", ["..", "..%2F..%2Fx", "rnd_" + "z" * 24, "rnd_" + "0" * 24,
                                       "%F0%9F%98%80", "a" * 4000])  # fmt: skip
def test_unknown_render_ids_are_404(client: Any, render_id: str) -> None:
    for suffix in ("", "/result"):
        response = client.get(f"/v1/renders/{render_id}{suffix}")
        assert response.status_code == 404 and response.is_json
