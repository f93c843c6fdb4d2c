"""Hostile inputs checked over HTTP that other tests cover only below the API or only by
status: an oversize body is refused before it is read (declared or chunked), the decode
budget refuses before any pixel is decoded, documents never reach a renderer, upload
names are never paths, unusual pixel modes get a clean answer, and a result file that
vanished is a clean JSON 409 `result_missing` (the render then reads failed) while an
identical request renders anew instead of reusing it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import EpsImagePlugin, Image, ImageFile

from tests.api.conftest import TEMPLATE_ID, AppFactory, fake_app, upload
from tests.api.test_renders import new_identity, poll, post_render


def noise(width: int, height: int) -> np.ndarray:
    return np.random.default_rng(3).integers(0, 256, (height, width, 3), dtype=np.uint8)


def pil_bytes(image: Image.Image, fmt: str, **save: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def grey16() -> bytes:
    values = np.random.default_rng(4).integers(0, 65536, (96, 96), dtype=np.uint16)
    return pil_bytes(Image.fromarray(values), "PNG")


def palette_with_transparency() -> bytes:
    image = Image.fromarray(noise(96, 96)).convert("P", palette=Image.Palette.ADAPTIVE)
    return pil_bytes(image, "PNG", transparency=0)


def test_decode_budget_is_413_before_any_pixel_is_decoded(
    make_app: AppFactory, face_jpeg: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = fake_app(make_app, max_decode_bytes=2**20).test_client()
    loads: list[str] = []
    original = ImageFile.ImageFile.load

    def counting_load(self: ImageFile.ImageFile) -> Any:
        loads.append(str(self.format))
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    big = pil_bytes(Image.fromarray(noise(1024, 768)), "PNG")  # 3 MiB as RGBX > 1 MiB
    response = upload(client, big)
    assert response.status_code == 413, response.json
    assert response.json["error"]["code"] == "too_large"
    assert "needs" in response.json["error"]["message"]
    assert loads == []  # refused from the header alone
    assert upload(client, face_jpeg).status_code == 201  # 1 MiB is enough for a JPEG draft


@pytest.mark.parametrize(
    "data",
    [
        grey16(),
        pil_bytes(Image.fromarray(noise(96, 96)).convert("CMYK"), "JPEG"),
        palette_with_transparency(),
        pil_bytes(Image.fromarray(noise(96, 96)).convert("LA"), "PNG"),
    ],
    ids=["16-bit grey", "CMYK JPEG", "palette with transparency", "grey with alpha"],
)
def test_unusual_pixel_modes_get_a_clean_answer(client: Any, data: bytes) -> None:
    """Decoded to 8-bit BGR before any face code; a picture without a face is a 422."""
    response = upload(client, data)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "no_face"


def test_a_vanished_result_is_json_409_and_not_reused(
    make_app: AppFactory, face_jpeg: bytes, tmp_path: Path
) -> None:
    client = fake_app(make_app).test_client()
    ident = new_identity(client, face_jpeg)
    done = poll(
        client, post_render(client, identity_id=ident, template_id=TEMPLATE_ID).json["status_url"]
    )
    assert done["status"] == "done"
    for result in (tmp_path / "data" / "renders").rglob("result.*"):
        result.unlink()
    response = client.get(done["result_url"])
    assert response.status_code == 409, response.json
    assert response.json["error"]["code"] == "result_missing"
    status = client.get(f"/v1/renders/{done['id']}")
    assert status.json["status"] == "failed"
    assert status.json["error"]["code"] == "result_missing"
    again = post_render(client, identity_id=ident, template_id=TEMPLATE_ID)
    assert again.status_code == 202, again.json  # rendered anew, the gone file not reused
    assert again.json["id"] != done["id"]
    final = poll(client, again.json["status_url"])
    with client.get(final["result_url"]) as fetched:
        assert fetched.status_code == 200, fetched.json


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\nshowpage\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect/></svg>'
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.parametrize("data", [EPS, SVG, PDF], ids=["EPS", "SVG", "PDF"])
def test_documents_never_reach_a_renderer(
    client: Any, data: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named and typed as a JPEG, refused from the bytes: Ghostscript is never run."""
    calls: list[object] = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: calls.append(a))
    response = upload(client, (data, "selfie.jpg", "image/jpeg"))
    assert response.status_code == 415, response.json
    assert response.json["error"]["code"] == "unsupported_type"
    assert calls == []


def test_upload_names_are_never_paths(client: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    names = ["../../escaped.jpg", "/tmp/escaped-abs.jpg", "..\\..\\escaped-win.jpg"]
    response = upload(client, *[(face_jpeg, name, "image/jpeg") for name in names])
    assert response.status_code == 201, response.json
    assert not [p for p in tmp_path.rglob("*escaped*")]
    assert not Path("/tmp/escaped-abs.jpg").exists()
    assert "escaped" not in response.get_data(as_text=True)


class CountingStream(io.RawIOBase):
    """A body of ``size`` bytes that records how many the server read."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.served = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the stream by seeking
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.pos = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        self.pos += offset
        return self.pos

    def tell(self) -> int:
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        buffer[:n] = b"x" * n
        self.pos += n
        self.served += n
        return n


@pytest.mark.parametrize("chunked", [False, True], ids=["Content-Length", "chunked"])
def test_an_oversize_body_is_refused_before_it_is_read(make_app: AppFactory, chunked: bool) -> None:
    app = fake_app(make_app, max_upload_bytes=64 * 1024, max_selfies=1)
    limit = app.config["MAX_CONTENT_LENGTH"]
    stream = CountingStream(50 * 2**20)
    environ: dict[str, Any] = {"wsgi.input_terminated": True} if chunked else {}
    headers = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(stream.size)}
    response = app.test_client().post(
        "/v1/identities",
        input_stream=stream,
        content_type="multipart/form-data; boundary=b",
        headers=headers,
        environ_overrides=environ,
    )
    assert response.status_code == 413, response.json
    assert response.json["error"]["code"] == "too_large"
    assert stream.served <= limit + 64 * 1024  # of 50 MiB: at most one read past the limit
    if not chunked:
        assert stream.served == 0  # the declared length alone refuses it
