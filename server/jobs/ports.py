"""The narrow interfaces the render service needs from its collaborators.

Declared here (structurally) so jobs/ depends on shapes, not on the catalog or the
pipeline modules; services.py hands in the real ones.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from server.types import IdentityData, OutputFormat


class RenderOutputLike(Protocol):
    data: bytes
    media_type: str
    frame_count: int
    stats: dict[str, Any]


class Renderer(Protocol):
    """``server.render.pipeline.render``'s signature."""

    def __call__(
        self,
        template: Any,
        faces: Mapping[int, IdentityData],
        engine: Any,
        fmt: OutputFormat,
        progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        render_id: str | None = None,
    ) -> RenderOutputLike: ...


class TemplateSource(Protocol):
    """What is needed of ``TemplateCatalog``: lookup by id, listing, size.

    ``get`` returns None for an unknown id.
    """

    def get(self, template_id: str) -> Any: ...

    def list(self, tag: str | None = None, kind: str | None = None) -> Sequence[Any]: ...

    def __len__(self) -> int: ...
