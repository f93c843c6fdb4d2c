"""Every engine described once: its name, the template kind it renders, what it needs
of an identity and where it stands when a request says ``auto``.

Requests, settings, the CLI tools and the render service read names and preferences
from here; the engine classes themselves are built by :func:`server.engines.load_engines`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.types import MotionFormat, TemplateKind

AUTO = "auto"


@dataclass(frozen=True)
class EngineSpec:
    name: str  # what requests, settings and CLIs say
    kind: TemplateKind  # the template kind it renders
    needs: tuple[str, ...]  # IdentityData fields it reads (None there: cannot render)
    preference: int  # ``auto`` tries lower first
    motion_formats: tuple[MotionFormat, ...] = ()  # motion templates it can play
    summary: str = ""


ENGINES: tuple[EngineSpec, ...] = (
    EngineSpec(
        "neural", "swap", ("texture", "landmarks"), 0, summary="inswapper_128 + ArcFace (models)"
    ),
    EngineSpec("classic", "swap", ("texture", "landmarks"), 1, summary="dlib landmarks, warp"),
    EngineSpec(
        "neural",
        "motion",
        ("portrait",),
        0,
        ("liveportrait",),
        summary="LivePortrait (models)",
    ),
    EngineSpec(
        "classic",
        "motion",
        ("portrait", "portrait_landmarks"),
        1,
        ("landmarks",),
        summary="landmark retargeting and mesh warp, embedded",
    ),
)
ENGINE_NAMES: tuple[str, ...] = tuple(dict.fromkeys(s.name for s in ENGINES))
CHOICES: tuple[str, ...] = (*ENGINE_NAMES, AUTO)


class EngineUnavailable(Exception):
    """No loaded engine can render this; the message says why (one line, for users)."""


def spec(name: str, kind: TemplateKind) -> EngineSpec | None:
    return next((s for s in ENGINES if s.name == name and s.kind == kind), None)


def auto_order(kind: TemplateKind) -> list[str]:
    """Engine names for ``kind``, most preferred first."""
    return [s.name for s in sorted(ENGINES, key=lambda s: s.preference) if s.kind == kind]


def resolve(
    requested: str,
    kind: TemplateKind,
    loaded: Mapping[str, Any],
    unavailable: Mapping[str, str] | None = None,
    motion_format: MotionFormat | None = None,
) -> str:
    """The engine that renders: ``requested`` if loaded and able, or for ``auto`` the
    first able one in preference order. ``loaded`` maps the names of the engines of
    ``kind`` this process runs to them; ``unavailable`` says why others do not run."""
    able = [
        n for n in auto_order(kind) if motion_format is None or motion_format in _formats(n, kind)
    ]
    if requested == AUTO:
        for name in able:
            if name in loaded:
                return name
        if not able:
            raise EngineUnavailable(f"no engine plays {motion_format} motion")
        requested = able[0]
    if spec(requested, kind) is None:
        raise EngineUnavailable(f"engine {requested!r} does not render {kind} templates")
    if requested not in able:
        raise EngineUnavailable(
            f"engine {requested!r} cannot play this template's {motion_format} motion; "
            f"{' or '.join(able) or 'no engine'} can"
        )
    if requested not in loaded:
        reason = (unavailable or {}).get(requested)
        raise EngineUnavailable(
            f"engine {requested!r} is not available" + (f": {reason}" if reason else "")
        )
    return requested


def _formats(name: str, kind: TemplateKind) -> tuple[MotionFormat, ...]:
    found = spec(name, kind)
    return found.motion_formats if found is not None else ()
