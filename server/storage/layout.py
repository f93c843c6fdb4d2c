"""Where things live under ``settings.data_dir``.

```
data/
  faceloop.sqlite3 (+ -wal, -shm)          records: devices, identities, renders, links,
                                           identical-request index (server.storage.db)
  identities/<identity id>/arrays.npz      texture, landmarks, descriptors (no pickle)
  renders/<render id>/result.<gif|mp4|webp>
```
Paths are only built from ids that passed :func:`server.storage.ids.is_valid_id`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from server.storage.ids import is_valid_id


@dataclass(frozen=True)
class DataLayout:
    """Directory layout of the data dir; ``ensure()`` creates the top-level folders."""

    root: Path

    @property
    def identities(self) -> Path:
        return self.root / "identities"

    @property
    def renders(self) -> Path:
        return self.root / "renders"

    def ensure(self) -> None:
        for path in (self.identities, self.renders):
            path.mkdir(parents=True, exist_ok=True)

    def identity_dir(self, identity_id: str) -> Path:
        _check("identity", identity_id)
        return self.identities / identity_id

    def render_dir(self, render_id: str) -> Path:
        _check("render", render_id)
        return self.renders / render_id


def _check(kind: str, value: str) -> None:
    if not is_valid_id(kind, value):  # type: ignore[arg-type]
        raise ValueError(f"invalid {kind} id {value!r}")
