"""A small library for API tests, built by the catalog's own code: one swap template
(``import_template``) and one motion template (``add_motion_template``, the motion of a
puppet clip of the same face), then loaded with ``TemplateCatalog`` like the server."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from server.gif_templates.catalog import TemplateCatalog, TemplateManifest
from server.gif_templates.library import import_template
from server.gif_templates.media import write_gif
from server.gif_templates.motion_authoring import add_motion_template, motion_from_clip
from server.types import Animation

TEMPLATE_ID = "astro-nod"
TEMPLATE_TAGS = ["portrait", "test"]
MOTION_ID = "astro-talk"
MOTION_FRAMES = 12

log = logging.getLogger("tests.templates")


def build_library(root: Path, animation: Animation, models: Any) -> Path:
    """``root/<TEMPLATE_ID>/`` with source, manifest, analysis and preview."""
    scratch = root.parent / f"{root.name}-input.gif"
    write_gif(animation, scratch)
    manifest = TemplateManifest(
        id=TEMPLATE_ID,
        title="Astronaut nod",
        tags=TEMPLATE_TAGS,
        source="skimage.data.astronaut (NASA, public domain)",
        license="public domain",
    )
    import_template(scratch, root, manifest, models)
    add_motion(root, animation.frames[0], models)
    return root


def add_motion(root: Path, still: Any, models: Any) -> None:
    """``root/<MOTION_ID>/``: the motion of a talking, nodding clip of ``still``'s face."""
    from tests.render.samples import puppet_clip

    clip = root.parent / f"{root.name}-talk.gif"
    write_gif(puppet_clip(still, side=240, frames=MOTION_FRAMES), clip)
    manifest = TemplateManifest(
        id=MOTION_ID,
        kind="motion",
        title="Astronaut talks",
        tags=["motion", "talk"],
        source="motion of a Faceloop puppet clip of skimage.data.astronaut (public domain)",
        license="public domain",
    )
    add_motion_template(motion_from_clip(clip, models), root, manifest, models)


def load_catalog(root: Path, models: Any) -> TemplateCatalog:
    catalog = TemplateCatalog(root)
    catalog.load(models, rebuild_stale=False, log=log)
    if TEMPLATE_ID not in catalog or MOTION_ID not in catalog:
        raise RuntimeError(f"test template unavailable: {catalog.unavailable}")
    return catalog
