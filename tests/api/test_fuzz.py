"""Seeded random requests against every route: never a 500, always a JSON error body."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.api.conftest import TEMPLATE_ID

ROUTES = [
    "/healthz", "/readyz", "/openapi.json", "/v1/identities", "/v1/identities/{id}",
    "/v1/templates", "/v1/templates/{id}", "/v1/templates/{id}/preview", "/v1/renders",
    "/v1/renders/{id}", "/v1/renders/{id}/result",
]  # fmt: skip
IDS = [
    "..", "%2e%2e%2f%2e%2e", "idt_" + "0" * 24, "rnd_" + "f" * 24, TEMPLATE_ID, "%00",
    "%F0%9F%92%A9", "a" * 300, "CON", "%25s%25n", "idt_%0A", "-", "__init__",
]  # fmt: skip
CONTENT_TYPES = [
    None, "application/json", "multipart/form-data", "multipart/form-data; boundary=x",
    "text/plain", "application/x-www-form-urlencoded", "image/jpeg",
    "application/json; charset=utf-16",
]  # fmt: skip


def random_body(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return b""
    if kind == 1:
        return rng.randbytes(rng.randrange(1, 4096))
    if kind == 2:
        return b'{"identity_id": "' + rng.randbytes(20).hex().encode() + b'", "faces": {"0": 1}}'
    if kind == 3:
        return b'--x\r\nContent-Disposition: form-data; name="selfies"; filename="a"\r\n\r\n' + (
            rng.randbytes(300) + b"\r\n--x--\r\n"
        )
    if kind == 4:
        return '{"template_id": "ü\u202e", "identity_id": null}'.encode()
    return b"\xff\xd8\xff" + rng.randbytes(200)


@pytest.mark.parametrize("seed", range(4))
def test_random_requests_never_500(client: Any, seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        path = rng.choice(ROUTES).replace("{id}", rng.choice(IDS))
        if rng.random() < 0.3:
            path += "?" + rng.choice(["limit=-5", "offset=x", "tag=%FF", "limit=9999999999"])
        method = rng.choice(["GET", "POST", "DELETE", "PUT", "PATCH"])
        response = client.open(
            path, method=method, data=random_body(rng), content_type=rng.choice(CONTENT_TYPES)
        )
        assert response.status_code < 500, (method, path, response.data[:200])
        if response.status_code >= 400:
            assert set(response.json["error"]) >= {"code", "message"}, (method, path)
        response.close()
