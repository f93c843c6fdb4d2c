"""Render outputs carry no metadata from the inputs: a selfie with EXIF (GPS, camera),
an ICC profile and XMP goes in; the GIF, WebP and MP4 results have no EXIF, no ICC
profile and nothing of the input's XMP."""

from __future__ import annotations

import io

import av
import pytest
from PIL import Image, ImageCms

from tests.api.conftest import TEMPLATE_ID, AppFactory, upload
from tests.api.test_render_end_to_end import wait_done

MARKER = "FaceloopLeakCheck"


def tagged_selfie(face_jpeg: bytes) -> bytes:
    """The face as a JPEG with EXIF (camera, GPS), an sRGB ICC profile and XMP."""
    image = Image.open(io.BytesIO(face_jpeg))
    exif = Image.Exif()
    exif[0x010F] = MARKER  # Make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}  # GPS
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description>{MARKER}</rdf:Description>'
    xmp += "</x:xmpmeta>"
    buf = io.BytesIO()
    image.save(buf, "JPEG", exif=exif.tobytes(), icc_profile=icc, xmp=xmp.encode(), quality=92)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["gif", "webp", "mp4"])
def test_outputs_carry_no_input_metadata(make_app: AppFactory, face_jpeg: bytes, fmt: str) -> None:
    selfie = tagged_selfie(face_jpeg)
    with Image.open(io.BytesIO(selfie)) as check:  # the input really carries it all
        assert check.getexif()[0x010F] == MARKER and check.info.get("icc_profile")
        assert MARKER in str(check.info.get("xmp", b""))
    client = make_app().test_client()
    identity = upload(client, selfie).json["id"]
    body = {"identity_id": identity, "template_id": TEMPLATE_ID, "format": fmt}
    done = wait_done(client, client.post("/v1/renders", json=body).json["status_url"])
    assert done["status"] == "done", done["error"]
    with client.get(done["result_url"]) as response:
        data = response.data
    assert MARKER.encode() not in data
    # the service may add its own XMP (a provenance label); the input's never passes
    for tag in (b"Exif\x00\x00", b"ICC_PROFILE", b"iCCP", b"ICCP"):
        assert tag not in data, tag
    if fmt == "mp4":
        with av.open(io.BytesIO(data)) as container:
            assert MARKER not in str(container.metadata)
        return
    with Image.open(io.BytesIO(data)) as image:
        assert not image.getexif() and "icc_profile" not in image.info
        assert "exif" not in image.info
        assert MARKER not in str(image.info.get("xmp", b""))
