"""A template's manifest.json and id: the fields people write and those computed from
the source, the id rule (a folder name, never a path), the file names of a template
folder, and the errors of the template library.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.gif_templates.analysis import TemplateAnalysis
from server.types import MotionData, TemplateKind

TEMPLATE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_ID_RE = re.compile(TEMPLATE_ID_PATTERN)
_TAG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
SOURCE_NAME = "source.gif"
MANIFEST_NAME = "manifest.json"
ANALYSIS_NAME = "analysis.npz"
PREVIEW_NAME = "preview.gif"


class TemplateError(Exception):
    """Base of the template library's errors (messages are one line, for users)."""


class InvalidTemplateIdError(TemplateError, ValueError):
    pass


class TemplateNotFoundError(TemplateError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "template not found"


class TemplateUnavailableError(TemplateError):
    pass


def is_template_id(value: object) -> bool:
    """Whether ``value`` is a template id (lowercase, digits, '-', '_'; no paths)."""
    return isinstance(value, str) and _ID_RE.fullmatch(value) is not None


def validate_template_id(value: str) -> str:
    """Return ``value`` if it is a template id, else InvalidTemplateIdError."""
    if not is_template_id(value):
        raise InvalidTemplateIdError(
            f"invalid template id {value!r}: 1-64 of a-z 0-9 - _, first a letter or digit"
        )
    return value


class TemplateManifest(BaseModel):
    """manifest.json. ``width`` .. ``face_count`` are computed from the source and its
    analysis whenever the analysis is (re)built; the rest is written by people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=TEMPLATE_ID_PATTERN)
    kind: TemplateKind = Field(
        default="swap", description="swap: faces re-rendered; motion: the selfie animated."
    )
    title: str = Field(min_length=1, max_length=120)
    tags: list[str] = Field(default_factory=list)
    source: str = Field(min_length=1, max_length=500, description="Origin and credit.")
    license: str = Field(min_length=1, max_length=200)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    width: int = Field(default=0, ge=0)
    height: int = Field(default=0, ge=0)
    frame_count: int = Field(default=0, ge=0)
    duration_ms: int = Field(default=0, ge=0)
    face_count: int = Field(default=0, ge=0)

    @field_validator("tags")
    @classmethod
    def _check_tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not _TAG_RE.fullmatch(tag):
                raise ValueError(f"invalid tag {tag!r}: 1-32 of a-z 0-9 - _")
        return sorted(set(tags))

    def with_analysis(self, analysis: TemplateAnalysis) -> TemplateManifest:
        """This manifest with the computed fields taken from ``analysis``."""
        return self.model_copy(
            update={
                "width": analysis.width,
                "height": analysis.height,
                "frame_count": analysis.frame_count,
                "duration_ms": int(sum(analysis.durations_ms)),
                "face_count": len(analysis.tracks),
            }
        )

    def with_motion(self, motion: MotionData, width: int, height: int) -> TemplateManifest:
        """This manifest with the computed fields of a motion template (``width`` and
        ``height``: its preview's; renders take the portrait's size)."""
        return self.model_copy(
            update={
                "width": width,
                "height": height,
                "frame_count": motion.frame_count,
                "duration_ms": int(sum(motion.durations_ms)),
                "face_count": 1,
            }
        )


def read_manifest(folder: Path) -> TemplateManifest:
    return TemplateManifest.model_validate_json((folder / MANIFEST_NAME).read_text("utf-8"))
