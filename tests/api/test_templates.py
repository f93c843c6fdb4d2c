from __future__ import annotations

import io
from typing import Any

import pytest
from PIL import Image

from tests.api.conftest import TEMPLATE_ID
from tests.api.template_library import MOTION_FRAMES, MOTION_ID, TEMPLATE_TAGS


def test_list(client: Any) -> None:
    page = client.get("/v1/templates?kind=swap").json
    assert page["total"] == 1 and page["next"] is None and page["next_offset"] is None
    (item,) = page["items"]
    assert item["id"] == TEMPLATE_ID and item["tags"] == TEMPLATE_TAGS
    assert item["kind"] == "swap"
    assert (item["width"], item["height"], item["frame_count"]) == (256, 256, 6)
    assert item["duration_ms"] == 480 and item["face_count"] == 1
    assert item["preview_url"] == f"/v1/templates/{TEMPLATE_ID}/preview"


def test_tag_filter_and_pagination(client: Any) -> None:
    assert client.get("/v1/templates?tag=portrait").json["total"] == 1
    assert client.get("/v1/templates?tag=nope").json == {
        "items": [], "total": 0, "limit": 20, "offset": 0, "next_offset": None, "next": None,
    }  # fmt: skip
    first = client.get("/v1/templates?limit=1&offset=0&tag=portrait").json
    assert len(first["items"]) == 1 and first["next"] is None
    past = client.get("/v1/templates?limit=5&offset=1&kind=swap").json
    assert past["items"] == [] and past["total"] == 1


def test_next_link_when_more_pages(
    client: Any, catalog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (only,) = catalog.list(kind="swap")
    monkeypatch.setattr(catalog, "list", lambda tag=None, kind=None: [only] * 5)
    page = client.get("/v1/templates?limit=2&offset=1&tag=test").json
    assert len(page["items"]) == 2 and page["total"] == 5 and page["next_offset"] == 3
    assert page["next"] == "/v1/templates?limit=2&offset=3&tag=test"
    last = client.get(page["next"]).json
    assert len(last["items"]) == 2 and last["next"] is None


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=abc", "offset=-1", "offset=1e3", "tag=" + "x" * 65, "kind=x"],
)
def test_bad_query_is_422(client: Any, query: str) -> None:
    response = client.get(f"/v1/templates?{query}")
    assert response.status_code == 422 and response.json["error"]["code"] == "validation_error"


def test_detail(client: Any, catalog: Any) -> None:
    detail = client.get(f"/v1/templates/{TEMPLATE_ID}").json
    analysis = catalog.get(TEMPLATE_ID).analysis
    assert detail["manifest"]["id"] == TEMPLATE_ID and detail["manifest"]["license"]
    assert detail["frame_count"] == analysis.frame_count == 6
    assert detail["faces"]["count"] == len(analysis.tracks) == 1
    main = analysis.main_track.track_id
    assert detail["faces"]["main_track"] == main
    assert detail["faces"]["tracks"] == [{"track_id": main, "main": True}]


def test_preview_is_a_small_gif(client: Any) -> None:
    with client.get(f"/v1/templates/{TEMPLATE_ID}/preview") as response:
        assert response.status_code == 200 and response.mimetype == "image/gif"
        data = response.data
    assert data.startswith(b"GIF8")
    with Image.open(io.BytesIO(data)) as im:
        assert getattr(im, "n_frames", 1) > 1


@pytest.mark.parametrize("template_id", ["nope", "..", "..%2Fetc", "%C3%A9t%C3%A9", "A" * 300])
def test_unknown_templates_are_404(client: Any, template_id: str) -> None:
    for suffix in ("", "/preview"):
        response = client.get(f"/v1/templates/{template_id}{suffix}")
        assert response.status_code == 404
        assert response.json["error"]["code"] in ("template_not_found", "not_found")


def test_kinds_listed_and_filtered(client: Any) -> None:
    everything = client.get("/v1/templates").json
    assert {i["id"]: i["kind"] for i in everything["items"]} == {
        TEMPLATE_ID: "swap",
        MOTION_ID: "motion",
    }
    motion = client.get("/v1/templates?kind=motion").json
    assert [i["id"] for i in motion["items"]] == [MOTION_ID] and motion["total"] == 1
    (item,) = motion["items"]
    assert item["frame_count"] == MOTION_FRAMES and item["face_count"] == 1


def test_motion_detail_describes_frames_timing_and_motion(client: Any, catalog: Any) -> None:
    detail = client.get(f"/v1/templates/{MOTION_ID}").json
    motion = catalog.get(MOTION_ID).motion
    assert detail["kind"] == "motion" and detail["manifest"]["kind"] == "motion"
    out = detail["motion"]
    assert out["format"] == "landmarks" and out["frame_count"] == MOTION_FRAMES
    assert out["durations_ms"] == list(motion.durations_ms) and out["loop"] == 0
    assert out["duration_ms"] == sum(motion.durations_ms) == detail["duration_ms"]
    assert out["max_mouth_opening_iod"] > 0.1  # the clip talks
    assert out["gaze"] == (motion.gaze is not None)
    assert detail["faces"]["count"] == 1 and detail["faces"]["tracks"] == []
    assert client.get(f"/v1/templates/{TEMPLATE_ID}").json["motion"] is None


def test_motion_preview_is_a_gif(client: Any) -> None:
    with client.get(f"/v1/templates/{MOTION_ID}/preview") as response:
        assert response.status_code == 200 and response.mimetype == "image/gif"
        with Image.open(io.BytesIO(response.data)) as im:
            assert 1 < getattr(im, "n_frames", 1) <= MOTION_FRAMES  # at most 10 fps
