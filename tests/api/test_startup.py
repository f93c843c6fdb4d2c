"""What create_app does to a data dir left behind by a dead process."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from server.jobs.records import RenderRecord, RenderRecordStore
from server.storage.db import Database
from server.storage.devices import DeviceStore
from server.storage.ids import new_id
from server.storage.layout import DataLayout
from tests.api.conftest import TEMPLATE_ID, AppFactory, anonymous, fake_app


def _orphan(layout: DataLayout, owner: str, status: str, device: str) -> RenderRecord:
    record = RenderRecord(
        id=new_id("render"), status=status, progress=0.4, template_id=TEMPLATE_ID,  # type: ignore[arg-type]
        template_sha256="0" * 64, faces={"0": new_id("identity")}, identity_ids=[],
        format="gif", engine="classic", request_key=status * 64, owner=owner, device_id=device,
    )  # fmt: skip
    RenderRecordStore(layout).create(record)
    return record


def test_start_up_fails_dead_renders_and_removes_strays(
    make_app: AppFactory, tmp_path: Path, dead_owner: str
) -> None:
    layout = DataLayout(tmp_path / "data")
    layout.ensure()
    device = DeviceStore(Database.in_dir(layout.root)).create("2026-01-01T00:00:00Z")
    running = _orphan(layout, dead_owner, "running", device.device_id)
    queued = _orphan(layout, dead_owner, "queued", device.device_id)
    layout.render_dir(running.id).mkdir()
    stray = layout.render_dir(running.id) / f".result.gif.{dead_owner}.0badc0de.tmp"
    stray.write_bytes(b"GIF89a half")
    staging = layout.identities / f".staging-idt_x.{dead_owner}.12345678"
    staging.mkdir()

    client: Any = anonymous(fake_app(make_app))
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {device.token}"

    on_disk = RenderRecordStore(layout)  # marked at start-up, before anyone reads them
    assert {on_disk.get(r.id).status for r in (running, queued)} == {"failed"}

    for record in (running, queued):
        body = client.get(f"/v1/renders/{record.id}").json
        assert body["status"] == "failed" and body["result_url"] is None
        assert body["error"]["code"] == "interrupted"
    assert not stray.exists() and not staging.exists()
    assert list(layout.render_dir(running.id).iterdir()) == []


def test_create_app_builds_its_services_from_settings(tmp_path: Path, templates_dir: Path) -> None:
    """The production path: nothing injected, models/catalog/engines/pipeline wired here.
    A fresh machine has the model manifest but no weights: classic only, still ready."""
    from server import create_app
    from server.settings import Settings
    from tools.synthetic_models import PRODUCTION_MANIFEST

    models_dir = tmp_path / "models"
    models_dir.mkdir()
    shutil.copy(PRODUCTION_MANIFEST, models_dir / "manifest.json")
    settings = Settings(
        data_dir=tmp_path / "own-data", templates_dir=templates_dir, models_dir=models_dir
    )
    app = create_app(settings)
    try:
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200
        body = ready.json
        assert (body["ready"], body["engines"], body["templates"]) == (True, ["classic"], 2)
        assert "inswapper_128: missing file" in body["engines_unavailable"]["neural"]
        live_portrait = {
            "live_portrait_feature_extractor",
            "live_portrait_motion_extractor",
            "live_portrait_generator",
            "live_portrait_stitcher",
        }
        assert set(body["models"]) == {"inswapper_128", "w600k_r50", "det_10g", *live_portrait}
        assert not any(m["present"] or m["available"] for m in body["models"].values())
        assert (tmp_path / "own-data" / "renders").is_dir()
    finally:
        app.extensions["faceloop"].close()
