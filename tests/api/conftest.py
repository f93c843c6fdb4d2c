"""API fixtures: a temporary data dir, a one-template library made from a package-shipped
face, shared dlib models, and an app factory that can swap in a gated renderer."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from server import create_app
from server.services import Services, build_services
from server.settings import Settings
from server.types import Animation, Frame
from tests.api.template_library import TEMPLATE_ID, build_library, load_catalog
from tests.conftest import encode_image
from tests.jobs.fakes import ScriptedRenderer

__all__ = ["TEMPLATE_ID"]

FAKE_ENGINES: dict[str, Any] = {"classic": object()}


@pytest.fixture(scope="session")
def face_models() -> Any:
    from server.faces.dlib_models import DlibFaceModels

    return DlibFaceModels()


@pytest.fixture(scope="session")
def template_animation(face_bgr: Frame) -> Animation:
    """Six 256x256 frames of the astronaut's face drifting a few pixels, uneven timing."""
    frames = []
    for i, dy in enumerate([0, 3, 6, 3, 0, -3]):
        y, x = 20 + dy, 90 + i
        frames.append(np.ascontiguousarray(face_bgr[y : y + 256, x : x + 256]))
    return Animation(frames, [60, 100, 60, 100, 60, 100], loop=0)


@pytest.fixture(scope="session")
def templates_dir(
    tmp_path_factory: pytest.TempPathFactory, template_animation: Animation, face_models: Any
) -> Path:
    return build_library(tmp_path_factory.mktemp("templates"), template_animation, face_models)


@pytest.fixture(scope="session")
def catalog(templates_dir: Path, face_models: Any) -> Any:
    return load_catalog(templates_dir, face_models)


AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(
    tmp_path: Path, templates_dir: Path, face_models: Any, catalog: Any
) -> Iterator[AppFactory]:
    """``make_app(renderer=..., engines=..., **settings)``: an app on a fresh data dir
    (the same one for every app a test builds).

    Without ``engines`` the real engines are built (shared dlib models; the neural one
    only from a ``models_dir`` the test passes); without ``renderer`` the real
    pipeline renders.
    """
    built: list[Services] = []

    def factory(
        renderer: Any = None, engines: dict[str, Any] | None = None, **overrides: Any
    ) -> Flask:
        for name in ("ratelimit_device", "ratelimit_address", "ratelimit_new_devices"):
            overrides.setdefault(name, UNLIMITED)  # tests that count set small ones
        settings = Settings(
            data_dir=tmp_path / "data",
            templates_dir=templates_dir,
            render_workers=overrides.pop("render_workers", 1),
            # no ONNX models unless a test hands some in (never the repository's own)
            models_dir=overrides.pop("models_dir", tmp_path / "no-models"),
            **overrides,
        )
        services = build_services(
            settings, face_models=face_models, templates=catalog, engines=engines, renderer=renderer
        )
        built.append(services)
        app = create_app(settings, services=services)
        app.test_client_class = DeviceClient
        return app

    yield factory
    for services in built:
        services.close(timeout=5.0)


UNLIMITED = "1000000 per minute"


_TOKENS: dict[str, str] = {}  # data dir -> token of its default test device
_TOKENS_LOCK = threading.Lock()


class DeviceClient(FlaskClient):
    """A test client that sends the bearer token of one device per data dir (made on
    the first client), so every client of every app on it acts as the same device."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {device_token(self.application)}"


def device_token(app: Flask) -> str:
    """The token of the data dir's default test device (created once)."""
    services = app.extensions["faceloop"]
    key = str(services.settings.data_dir)
    with _TOKENS_LOCK:
        token = _TOKENS.get(key)
        if token is None or services.devices.authenticate(token) is None:
            token = _TOKENS[key] = services.devices.create("2026-01-01T00:00:00Z").token
    return token


def anonymous(app: Flask) -> FlaskClient:
    """A client that sends no token."""
    return FlaskClient(app, app.response_class, use_cookies=False)


def new_device(app: Flask) -> tuple[FlaskClient, str]:
    """(client, device id) of a freshly registered device, via POST /v1/devices."""
    response = anonymous(app).post("/v1/devices")
    assert response.status_code == 201, response.json
    client = anonymous(app)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {response.json['token']}"
    return client, response.json["device_id"]


def fake_app(
    make_app: AppFactory, renderer: ScriptedRenderer | None = None, **overrides: Any
) -> Flask:
    """An app whose renders go to a scripted renderer (no real engines needed)."""
    return make_app(renderer=renderer or ScriptedRenderer(), engines=FAKE_ENGINES, **overrides)


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    """A client on an app with the real identity builder and catalog, fake rendering."""
    return fake_app(make_app).test_client()


def multipart(
    field: str, files: list[tuple[bytes, str, str]], consent: str | None = "true"
) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data request with ``files`` in ``field``
    (and the ``consent`` form field unless None).

    Built by hand: werkzeug's test encoder spills large bodies to a temp file it never
    closes (a ResourceWarning, i.e. an error under -W error).
    """
    boundary = "faceloop-test-boundary-7d3f"
    chunks = []
    if consent is not None:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="consent"\r\n\r\n'
            f"{consent}\r\n".encode()
        )
    for data, name, ctype in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{name}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        chunks += [head.encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload(
    client: FlaskClient,
    *files: bytes | tuple[bytes, str, str],
    field: str = "selfies",
    consent: str | None = "true",
) -> Any:
    """POST /v1/identities with ``files`` (bytes, or (bytes, name, content type))."""
    parts = [
        item if isinstance(item, tuple) else (item, f"s{i}.jpg", "image/jpeg")
        for i, item in enumerate(files)
    ]
    body, content_type = multipart(field, parts, consent)
    return client.post("/v1/identities", data=body, content_type=content_type)


@pytest.fixture(scope="session")
def face_jpeg(face_bgr: Frame) -> bytes:
    return encode_image(face_bgr, "JPEG", quality=92)
