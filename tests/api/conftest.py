"""API fixtures: a temporary data dir, a one-template library made from a package-shipped
face, shared dlib models, and an app factory that can swap in a gated renderer."""

from __future__ import annotations

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
        return create_app(settings, services=services)

    yield factory
    for services in built:
        services.close(timeout=5.0)


def fake_app(
    make_app: AppFactory, renderer: ScriptedRenderer | None = None, **overrides: Any
) -> Flask:
    """An app whose renders go to a scripted renderer (no real engines needed)."""
    return make_app(renderer=renderer or ScriptedRenderer(), engines=FAKE_ENGINES, **overrides)


@pytest.fixture
def client(make_app: AppFactory) -> FlaskClient:
    """A client on an app with the real identity builder and catalog, fake rendering."""
    return fake_app(make_app).test_client()


def multipart(field: str, files: list[tuple[bytes, str, str]]) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data request with ``files`` in ``field``.

    Built by hand: werkzeug's test encoder spills large bodies to a temp file it never
    closes (a ResourceWarning, i.e. an error under -W error).
    """
    boundary = "faceloop-test-boundary-7d3f"
    chunks = []
    for data, name, ctype in files:
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{name}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        chunks += [head.encode(), data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload(
    client: FlaskClient, *files: bytes | tuple[bytes, str, str], field: str = "selfies"
) -> Any:
    """POST /v1/identities with ``files`` (bytes, or (bytes, name, content type))."""
    parts = [
        item if isinstance(item, tuple) else (item, f"s{i}.jpg", "image/jpeg")
        for i, item in enumerate(files)
    ]
    body, content_type = multipart(field, parts)
    return client.post("/v1/identities", data=body, content_type=content_type)


@pytest.fixture(scope="session")
def face_jpeg(face_bgr: Frame) -> bytes:
    return encode_image(face_bgr, "JPEG", quality=92)
