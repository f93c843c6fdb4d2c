"""RenderService and engines: reasons for unavailable engines, the engine description
recorded with each render and in its request key, identities loaded per engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.jobs.queue import InProcessQueue
from server.jobs.records import RenderRecordStore
from server.jobs.renders import RENDER_TASK, RenderService
from server.jobs.requests import RenderRequest
from server.storage.errors import Conflict
from server.storage.identities import IdentityStore
from server.storage.ids import new_id
from server.storage.layout import DataLayout
from tests.conftest import synthetic_identity
from tests.jobs.conftest import Analysis, Template, Templates, Track
from tests.jobs.fakes import WAIT, ScriptedRenderer, wait_until


class Engine:
    def __init__(self, name: str, sha: str) -> None:
        self.name, self.sha = name, sha

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "version": 3,
            "models": [{"name": "m", "sha256": self.sha, "provider": "CPU"}],
        }


def service(root: Path, engines: dict[str, Any], **kwargs: Any) -> tuple[RenderService, str]:
    layout = DataLayout(root)
    layout.ensure()
    identities = IdentityStore(layout)
    templates = Templates({"duo": Template(Analysis([Track(0)]))})
    svc = RenderService(
        RenderRecordStore(layout), identities, templates, engines, ScriptedRenderer(), **kwargs
    )
    ident = new_id("identity")
    identities.save(ident, synthetic_identity(), "2025-01-01T00:00:00Z")
    return svc, ident


def test_unavailable_engine_answers_with_its_reason(tmp_path: Path) -> None:
    svc, ident = service(
        tmp_path, {"classic": Engine("classic", "a" * 64)},
        unavailable_engines={"neural": "inswapper_128: missing file /m/inswapper_128.onnx"},
    )  # fmt: skip
    with pytest.raises(Conflict) as info:
        svc.submit(RenderRequest(ident, "duo", engine="neural"))
    assert info.value.code == "engine_unavailable"
    assert "inswapper_128: missing file" in info.value.message


def test_records_keep_the_engine_description_and_keys_follow_the_models(tmp_path: Path) -> None:
    engines = {"classic": Engine("classic", "a" * 64), "neural": Engine("neural", "b" * 64)}
    svc, ident = service(tmp_path / "one", engines)
    queue = InProcessQueue({RENDER_TASK: svc.run}, 1, 4, retry_after_s=1)
    svc.bind_queue(queue)
    record, reused = svc.submit(RenderRequest(ident, "duo", engine="auto"))
    assert not reused and record.engine == "neural"
    assert record.engine_info == engines["neural"].describe()
    again, reused = svc.submit(RenderRequest(ident, "duo", engine="neural"))
    assert reused and again.id == record.id
    engines["neural"].sha = "c" * 64  # another model file: not the same render
    other, reused = svc.submit(RenderRequest(ident, "duo", engine="neural"))
    assert not reused and other.id != record.id
    engines["neural"].describe = lambda: {  # type: ignore[method-assign]
        **Engine("neural", "c" * 64).describe(),
        "models": [{"name": "m", "sha256": "c" * 64, "provider": "CUDAExecutionProvider"}],
    }
    _, reused = svc.submit(RenderRequest(ident, "duo", engine="neural"))
    assert reused  # the provider alone does not make a new render
    queue.close(WAIT)


def test_identities_are_loaded_for_the_engine_that_runs(tmp_path: Path) -> None:
    seen: list[tuple[str, str]] = []
    layout_root = tmp_path / "data"
    holder: dict[str, IdentityStore] = {}

    def loader(identity_id: str, engine: str) -> Any:
        seen.append((identity_id, engine))
        return holder["store"].load(identity_id)

    svc, ident = service(
        layout_root, {"neural": Engine("neural", "b" * 64)}, identity_loader=loader
    )
    holder["store"] = IdentityStore(DataLayout(layout_root))
    queue = InProcessQueue({RENDER_TASK: svc.run}, 1, 4, retry_after_s=1)
    svc.bind_queue(queue)
    record, _ = svc.submit(RenderRequest(ident, "duo"))
    wait_until(lambda: svc.get(record.id).status in ("done", "failed"))
    assert svc.get(record.id).status == "done" and seen == [(ident, "neural")]
    queue.close(WAIT)
