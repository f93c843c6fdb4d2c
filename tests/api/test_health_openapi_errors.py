from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import AppFactory, fake_app
from tests.jobs.fakes import ScriptedRenderer


def test_healthz(make_app: AppFactory) -> None:
    response = fake_app(make_app).test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_reports_engines_and_templates(make_app: AppFactory) -> None:
    response = fake_app(make_app).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {
        "ready": True,
        "engines": ["classic"],
        "templates": 2,
        "engines_unavailable": {},
        "motion_engines": ["classic"],
        "motion_engines_unavailable": {
            "neural": "no model store (models directory or manifest missing)"
        },
        "models": {},
    }


def test_readyz_is_503_without_engines(make_app: AppFactory) -> None:
    response = make_app(renderer=ScriptedRenderer(), engines={}).test_client().get("/readyz")
    assert response.status_code == 503 and response.json["ready"] is False


def _flask_paths(app: Flask) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods or ():
            if method not in ("HEAD", "OPTIONS"):
                found.add((path, method.lower()))
    return found


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [
            r for v in node.values() for r in _refs(v)
        ]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_openapi_covers_every_route_and_resolves(make_app: AppFactory) -> None:
    app = fake_app(make_app)
    doc = app.test_client().get("/openapi.json").json
    assert re.fullmatch(r"3\.[01]\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    documented = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert _flask_paths(app) == documented
    schemas = doc["components"]["schemas"]
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)
            for name in re.findall(r"{(\w+)}", path):
                assert any(p["name"] == name and p["in"] == "path" for p in op["parameters"])
    create = schemas["RenderCreate"]
    assert set(create["required"]) == {"identity_id", "template_id"}
    assert schemas["ErrorResponse"]["required"] == ["error"]


def test_unknown_path_is_json_404(client: Any) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_wrong_method_is_json_405_with_allow(client: Any) -> None:
    response = client.put("/v1/renders")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("testing", [True, False])
def test_unexpected_errors_are_json_500_without_traceback(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture, testing: bool
) -> None:
    app = fake_app(make_app)
    app.testing = testing

    def explode() -> str:
        raise RuntimeError("secret internals /etc/passwd")

    app.add_url_rule("/boom", "boom", explode)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert response.json == {"error": {"code": "internal", "message": "internal server error"}}
    assert b"secret" not in response.data and b"Traceback" not in response.data
    assert "secret internals" in caplog.text  # logged for operators
