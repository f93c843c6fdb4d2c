"""A one-template library for API tests, built and analysed by the catalog's own code
(``import_template``), then loaded with ``TemplateCatalog`` like the server does."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from server.gif_templates.catalog import TemplateCatalog, TemplateManifest
from server.gif_templates.library import import_template
from server.gif_templates.media import write_gif
from server.types import Animation

TEMPLATE_ID = "astro-nod"
TEMPLATE_TAGS = ["portrait", "test"]

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
    return root


def load_catalog(root: Path, models: Any) -> TemplateCatalog:
    catalog = TemplateCatalog(root)
    catalog.load(models, rebuild_stale=False, log=log)
    if TEMPLATE_ID not in catalog:
        raise RuntimeError(f"test template unavailable: {catalog.unavailable}")
    return catalog
