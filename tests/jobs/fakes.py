"""Test doubles for the render task: a scripted renderer and a gate to hold it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from server.types import MEDIA_TYPES

WAIT = 5.0


@dataclass
class Output:
    data: bytes
    media_type: str = "image/gif"
    frame_count: int = 3
    stats: dict[str, Any] = field(default_factory=dict)


Behaviour = Callable[[Callable[[float], None], Callable[[], bool]], None]


class ScriptedRenderer:
    """Calls ``behaviour(progress, cancelled)`` (to block, report or raise), then
    returns bytes naming the identities it was given."""

    def __init__(self) -> None:
        self.behaviour: Behaviour = lambda progress, cancelled: None
        self.calls: list[dict[int, Any]] = []

    def __call__(
        self,
        template: Any,
        faces: Mapping[int, Any],
        engine: Any,
        fmt: str,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        render_id: str | None = None,
    ) -> Output:
        assert progress is not None and cancelled is not None
        self.calls.append(dict(faces))
        self.behaviour(progress, cancelled)
        return Output(data=f"GIF89a {fmt} {sorted(faces)}".encode(), media_type=MEDIA_TYPES[fmt])


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class Gate:
    """Behaviour that reports ``at`` progress, then blocks until opened."""

    def __init__(self, at: float = 0.5) -> None:
        self.at = at
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, progress: Callable[[float], None], cancelled: Callable[[], bool]) -> None:
        progress(self.at)
        self.entered.set()
        assert self.opened.wait(WAIT)
