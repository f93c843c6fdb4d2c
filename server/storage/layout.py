"""Where things live under ``settings.data_dir``.

```
data/
  identities/<identity id>/identity.json   metadata (selfie reports, quality)
                          /arrays.npz      texture, landmarks, descriptors (no pickle)
                          /renders/<render id>   empty markers: renders using it
  renders/<render id>/record.json          status, progress, error, request
                     /result.<gif|mp4|webp>
  render_index/<request key>.json          {"render_id": ...} for identical-request reuse
  .render-submit.lock                      flock held while a render is looked up / created
```
Paths are only built from ids that passed :func:`server.storage.ids.is_valid_id`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from server.storage.ids import is_valid_id

_KEY = re.compile(r"^[0-9a-f]{64}$")


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

    @property
    def render_index(self) -> Path:
        return self.root / "render_index"

    def ensure(self) -> None:
        for path in (self.identities, self.renders, self.render_index):
            path.mkdir(parents=True, exist_ok=True)

    def identity_dir(self, identity_id: str) -> Path:
        _check("identity", identity_id)
        return self.identities / identity_id

    def render_dir(self, render_id: str) -> Path:
        _check("render", render_id)
        return self.renders / render_id

    def index_file(self, key: str) -> Path:
        if not _KEY.fullmatch(key):
            raise ValueError(f"invalid request key {key!r}")
        return self.render_index / f"{key}.json"


def _check(kind: str, value: str) -> None:
    if not is_valid_id(kind, value):  # type: ignore[arg-type]
        raise ValueError(f"invalid {kind} id {value!r}")
