"""staged_template: a template folder appears complete or not at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.gif_templates.manifest import InvalidTemplateIdError
from server.gif_templates.staging import TemplateExistsError, staged_template


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_completed_block_becomes_the_template(tmp_path: Path) -> None:
    library = tmp_path / "lib"  # created on demand
    with staged_template(library, "wave") as staging:
        assert staging.parent == library and staging.name.startswith(".staging-wave")
        (staging / "manifest.json").write_text("{}")
        assert not (library / "wave").exists()  # nothing visible until the block ends
    assert _names(library) == ["wave"]
    assert _names(library / "wave") == ["manifest.json"]


def test_a_failed_block_leaves_the_library_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "wave").mkdir()
    (tmp_path / "wave" / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_template(tmp_path, "wave", force=True) as staging:
        (staging / "new.txt").write_text("new")
        raise RuntimeError("analysis failed")
    assert _names(tmp_path) == ["wave"]
    assert _names(tmp_path / "wave") == ["old.txt"]


def test_an_existing_template_is_replaced_only_with_force(tmp_path: Path) -> None:
    (tmp_path / "wave").mkdir()
    (tmp_path / "wave" / "old.txt").write_text("old")
    with pytest.raises(TemplateExistsError, match="--force"), staged_template(tmp_path, "wave"):
        pytest.fail("the block must not run")
    assert _names(tmp_path) == ["wave"]
    with staged_template(tmp_path, "wave", force=True) as staging:
        (staging / "new.txt").write_text("new")
    assert _names(tmp_path) == ["wave"]  # no trash folder left behind
    assert _names(tmp_path / "wave") == ["new.txt"]


def test_an_invalid_id_is_refused_before_anything_is_made(tmp_path: Path) -> None:
    with pytest.raises(InvalidTemplateIdError), staged_template(tmp_path, "../up"):
        pytest.fail("the block must not run")
    assert _names(tmp_path) == []
