"""Device tokens: registration, bearer authentication, ownership (another device's ids
answer exactly like unknown ones) and erasing a device."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from server.storage.db import DB_NAME
from server.storage.devices import token_hash
from server.storage.ids import DEVICE_ID_PATTERN, new_id
from tests.api.conftest import TEMPLATE_ID, AppFactory, anonymous, fake_app, new_device
from tests.api.test_renders import new_identity, poll, post_render


def assert_unauthorized(response: Any) -> None:
    assert response.status_code == 401, response.data
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_register_gives_a_strong_token_stored_only_as_a_hash(
    make_app: AppFactory, tmp_path: Path
) -> None:
    app = fake_app(make_app)
    response = anonymous(app).post("/v1/devices")
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert re.fullmatch(DEVICE_ID_PATTERN, body["device_id"])
    assert len(body["token"]) >= 43  # 32 random bytes, base64url
    assert anonymous(app).post("/v1/devices").json["token"] != body["token"]
    app.extensions["faceloop"].db.compact()
    stored = b"".join(p.read_bytes() for p in (tmp_path / "data").glob(f"{DB_NAME}*"))
    assert body["token"].encode() not in stored
    assert token_hash(body["token"]).encode() in stored


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/v1/identities"),
        ("get", "/v1/identities/idt_" + "0" * 24),
        ("delete", "/v1/identities/idt_" + "0" * 24),
        ("post", "/v1/renders"),
        ("get", "/v1/renders/rnd_" + "0" * 24),
        ("get", "/v1/renders/rnd_" + "0" * 24 + "/result"),
        ("delete", "/v1/devices/me"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer ", "bearer x y"])
def test_every_private_endpoint_needs_a_valid_token(
    make_app: AppFactory, method: str, path: str, header: str | None
) -> None:
    client = anonymous(fake_app(make_app))
    headers = {"Authorization": header} if header is not None else {}
    assert_unauthorized(getattr(client, method)(path, headers=headers))


def test_the_template_catalogue_and_probes_are_public(make_app: AppFactory) -> None:
    client = anonymous(fake_app(make_app))
    for path in ("/v1/templates", f"/v1/templates/{TEMPLATE_ID}", "/healthz", "/openapi.json"):
        assert client.get(path).status_code == 200, path


def test_another_devices_ids_look_unknown(make_app: AppFactory, face_jpeg: bytes) -> None:
    app = fake_app(make_app)
    owner = app.test_client()
    ident = new_identity(owner, face_jpeg)
    render = post_render(owner, identity_id=ident, template_id=TEMPLATE_ID).json
    poll(owner, render["status_url"])
    other, _ = new_device(app)
    unknown_ident, unknown_render = new_id("identity"), new_id("render")

    def same_404(path: str, unknown: str, known: str, method: str = "get") -> None:
        theirs = getattr(other, method)(path.format(known))
        never = getattr(other, method)(path.format(unknown))
        assert theirs.status_code == never.status_code == 404
        assert theirs.json["error"]["code"] == never.json["error"]["code"]
        assert (
            theirs.json["error"]["message"].replace(known, unknown)
            == never.json["error"]["message"]
        )

    same_404("/v1/identities/{}", unknown_ident, ident)
    same_404("/v1/identities/{}", unknown_ident, ident, "delete")
    same_404("/v1/renders/{}", unknown_render, render["id"])
    same_404("/v1/renders/{}/result", unknown_render, render["id"])
    taken = post_render(other, identity_id=ident, template_id=TEMPLATE_ID)
    assert taken.status_code == 404 and taken.json["error"]["code"] == "identity_not_found"
    # the owner still has everything
    assert owner.get(f"/v1/identities/{ident}").status_code == 200
    result = owner.get(f"/v1/renders/{render['id']}/result")
    assert result.status_code == 200 and "private" in result.headers["Cache-Control"]
    result.close()


def test_identical_requests_are_shared_only_within_a_device(
    make_app: AppFactory, face_jpeg: bytes
) -> None:
    app = fake_app(make_app)
    first, _ = new_device(app)
    second, _ = new_device(app)
    ids = []
    for client in (first, second, first):
        ident = new_identity(client, face_jpeg) if client is not first or not ids else ids[0][0]
        body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
        poll(client, body["status_url"])
        ids.append((ident, body["id"]))
    assert ids[0] == ids[2]  # the same device asking again reuses its render
    assert ids[1][1] != ids[0][1]


def test_deleting_the_device_erases_it_and_its_token(
    make_app: AppFactory, face_jpeg: bytes
) -> None:
    app = fake_app(make_app)
    client, device_id = new_device(app)
    ident = new_identity(client, face_jpeg)
    body = post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json
    poll(client, body["status_url"])
    assert client.delete("/v1/devices/me").status_code == 204
    assert_unauthorized(client.get(f"/v1/identities/{ident}"))
    services = app.extensions["faceloop"]
    assert not services.devices.exists(device_id)
    with pytest.raises(Exception, match="not found"):
        services.identities.get(ident)
    with pytest.raises(Exception, match="not found"):
        services.renders.get(body["id"])


def test_openapi_documents_the_token(make_app: AppFactory) -> None:
    doc = anonymous(fake_app(make_app)).get("/openapi.json").json
    assert doc["components"]["securitySchemes"]["device"]["scheme"] == "bearer"
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            private = path.startswith("/v1/") and not path.startswith("/v1/templates")
            private = private and (method, path) != ("post", "/v1/devices")
            assert ("security" in op) is private and ("401" in op["responses"]) is private
            assert ("429" in op["responses"]) is path.startswith("/v1/")
