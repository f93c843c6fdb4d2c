"""RenderService fixtures: real stores and queue, a scripted renderer, a small in-memory
template source shaped like the catalog's entries."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from server.jobs.queue import InProcessQueue
from server.jobs.records import RenderRecordStore
from server.jobs.renders import RENDER_TASK, RenderService
from server.storage.identities import IdentityStore
from server.storage.ids import new_id
from server.storage.layout import DataLayout
from tests.conftest import synthetic_identity
from tests.jobs.fakes import WAIT, ScriptedRenderer


@dataclass
class Track:
    track_id: int


@dataclass
class Analysis:
    tracks: list[Track]
    source_sha256: str = "ab" * 32

    @property
    def main_track(self) -> Track | None:
        return self.tracks[0] if self.tracks else None


@dataclass
class Template:
    analysis: Analysis


class Templates:
    def __init__(self, entries: dict[str, Template]) -> None:
        self.entries = entries

    def get(self, template_id: str) -> Template | None:
        return self.entries.get(template_id)

    def list(self, tag: str | None = None) -> list[Template]:
        return list(self.entries.values())

    def __len__(self) -> int:
        return len(self.entries)


@dataclass
class Rig:
    service: RenderService
    store: RenderRecordStore
    identities: IdentityStore
    renderer: ScriptedRenderer
    queue: InProcessQueue
    layout: DataLayout

    def identity(self, seed: int = 1) -> str:
        ident = new_id("identity")
        self.identities.save(ident, synthetic_identity(seed), "2025-01-01T00:00:00Z")
        return ident


def make_rig(root: Path, workers: int = 1, queue_size: int = 8) -> Rig:
    layout = DataLayout(root)
    layout.ensure()
    store, identities, renderer = (
        RenderRecordStore(layout),
        IdentityStore(layout),
        ScriptedRenderer(),
    )
    templates = Templates(
        {"duo": Template(Analysis([Track(0), Track(3)])), "empty": Template(Analysis([]))}
    )
    service = RenderService(
        store, identities, templates, {"classic": object()}, renderer, progress_interval_s=0.0
    )
    queue = InProcessQueue({RENDER_TASK: service.run}, workers, queue_size, retry_after_s=2)
    service.bind_queue(queue)
    return Rig(service, store, identities, renderer, queue, layout)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(tmp_path)
    yield made
    made.queue.close(WAIT)
