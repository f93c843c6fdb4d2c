"""A template folder built beside the library and moved into place only when complete,
so an import that fails part way leaves the library as it was.

The staging folder is hidden (``.staging-<id>.<owner>...``): the catalog skips it, and
start-up clean-up removes one whose process died (see :mod:`server.storage.atomic`).
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

from server.gif_templates.manifest import TemplateError, validate_template_id
from server.storage.atomic import scratch_dir_name


class TemplateExistsError(TemplateError):
    pass


@contextlib.contextmanager
def staged_template(templates_dir: Path, template_id: str, force: bool = False) -> Iterator[Path]:
    """Yield a new empty staging folder for template ``template_id``; when the block
    completes it becomes ``templates_dir/<template_id>`` (replacing an existing one only
    with ``force``, else TemplateExistsError before anything is written). The staging
    folder is removed whether the block completes or raises."""
    validate_template_id(template_id)
    target = templates_dir / template_id
    if target.exists() and not force:
        raise TemplateExistsError(f"template {template_id!r} exists (use --force to replace it)")
    templates_dir.mkdir(parents=True, exist_ok=True)
    staging = templates_dir / scratch_dir_name("staging", template_id)
    staging.mkdir(mode=0o755)
    try:
        yield staging
        move_into_place(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_into_place(staging: Path, target: Path) -> None:
    """Rename ``staging`` to ``target``; an existing ``target`` is renamed aside first
    and deleted after."""
    if target.exists():
        trash = target.with_name(scratch_dir_name("trash", target.name))
        target.rename(trash)
        staging.rename(target)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        staging.rename(target)
