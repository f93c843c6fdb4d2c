from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.storage.ids import is_valid_id, new_id
from server.storage.layout import DataLayout
from server.storage.procinfo import owner_alive, process_token

BAD_IDS = [
    "",
    "../x",
    "..",
    "idt_../../etc/passwd",
    "idt_" + "g" * 24,
    "idt_" + "A" * 24,
    "idt_" + "a" * 23,
    "idt_" + "a" * 25,
    "idt_" + "a" * 24 + "\n",
    "idt_" + "а" * 24,  # Cyrillic a
    "rnd_" + "a" * 24,
    " idt_" + "a" * 24,
    "idt_" + "a" * 23 + "\x00",
]


def test_new_ids_are_valid_and_distinct() -> None:
    ids = {new_id("identity") for _ in range(200)}
    assert len(ids) == 200
    assert all(is_valid_id("identity", i) and not is_valid_id("render", i) for i in ids)
    assert is_valid_id("render", new_id("render"))


@pytest.mark.parametrize("value", BAD_IDS)
def test_malformed_identity_ids_are_refused(value: str) -> None:
    assert not is_valid_id("identity", value)


@pytest.mark.parametrize("value", [None, 3, b"idt_" + b"a" * 24, ["x"]])
def test_non_strings_are_refused(value: object) -> None:
    assert not is_valid_id("identity", value)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("dance-01", True),
        ("a", True),
        ("cat_wave", True),
        ("../x", False),
        ("Dance", False),
        ("-x", False),
        ("x" * 65, False),
        ("a/b", False),
        ("ü", False),
        ("a.gif", False),
    ],
)
def test_template_ids(value: str, ok: bool) -> None:
    assert is_valid_id("template", value) is ok


@pytest.mark.parametrize("value", ["../x", "idt_" + "a" * 23, "rnd_" + "a" * 24])
def test_layout_never_builds_paths_from_bad_ids(tmp_path: Path, value: str) -> None:
    layout = DataLayout(tmp_path)
    with pytest.raises(ValueError):
        layout.identity_dir(value)
    with pytest.raises(ValueError):
        layout.render_dir(value.replace("rnd_", "idt_") if value.startswith("rnd_") else value)


def test_layout_paths_stay_inside_the_root(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path)
    layout.ensure()
    ident, render = new_id("identity"), new_id("render")
    assert layout.identity_dir(ident).parent == tmp_path / "identities"
    assert layout.render_dir(render).parent == tmp_path / "renders"


def test_owner_tokens(dead_owner: str) -> None:
    me = process_token()
    assert me.startswith(f"{os.getpid()}-")
    assert owner_alive(me)
    assert not owner_alive(dead_owner)
    pid, ticks = me.split("-")
    assert not owner_alive(f"{pid}-{int(ticks) + 1}")  # same pid, other start: recycled
    for bad in [None, "", "x-y", "12", "../1-2"]:
        assert not owner_alive(bad)


def test_parent_process_is_alive() -> None:
    from server.storage.procinfo import _token_for

    assert owner_alive(_token_for(os.getppid()))
