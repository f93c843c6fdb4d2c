"""Fakes shared by the runtime tests: manifest edits and recording session factories."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from server.runtime import Manifest, SessionConfig, create_session
from server.runtime.providers import CPU, CUDA


def with_model(manifest: Manifest, name: str, **update: Any) -> Manifest:
    """A copy of ``manifest`` with fields of one model replaced."""
    models = tuple(m.model_copy(update=update) if m.name == name else m for m in manifest.models)
    return manifest.model_copy(update={"models": models})


class ClaimingSession:
    """A real session that reports other providers (to fake a GPU host)."""

    def __init__(self, inner: Any, providers: list[str]) -> None:
        self._inner = inner
        self._providers = providers
        self.feeds: list[dict[str, np.ndarray]] = []

    def get_providers(self) -> list[str]:
        return list(self._providers)

    def run(self, output_names: Any, feed: dict[str, np.ndarray]) -> list[Any]:
        self.feeds.append(feed)
        return self._inner.run(output_names, feed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class Factory:
    """Session factory that records calls and wraps real sessions."""

    def __init__(self, claim: list[str] | None = None) -> None:
        self.claim = claim
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.sessions: dict[str, ClaimingSession] = {}

    def __call__(self, path: Path, providers: Sequence[str], config: SessionConfig) -> Any:
        self.calls.append((path.name, tuple(providers)))
        inner = create_session(path, [CPU], config)
        session = ClaimingSession(inner, self.claim or inner.get_providers())
        self.sessions[path.name] = session
        return session


class GpuFailsFactory(Factory):
    """Like a GPU build on a host where the CUDA session cannot start."""

    def __call__(self, path: Path, providers: Sequence[str], config: SessionConfig) -> Any:
        if CUDA in providers:
            self.calls.append((path.name, tuple(providers)))
            raise RuntimeError("CUDA failure 100: no CUDA-capable device is detected\nmore")
        return super().__call__(path, providers, config)
