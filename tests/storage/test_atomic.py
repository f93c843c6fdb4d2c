from __future__ import annotations

from pathlib import Path

import pytest

from server.storage.atomic import (
    atomic_write_bytes,
    atomic_write_json,
    atomic_writer,
    clean_strays,
    remove_tree,
    scratch_dir_name,
    temp_name,
)


class Boom(Exception):
    pass


def test_write_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "result.gif"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["result.gif"]


def test_writer_that_raises_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "result.gif"
    with pytest.raises(Boom), atomic_writer(target) as fh:
        fh.write(b"half of a gif")
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_writer_that_raises_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    atomic_write_json(target, {"status": "queued"})
    before = target.read_bytes()
    with pytest.raises(Boom), atomic_writer(target) as fh:
        fh.write(b'{"status": "do')
        raise Boom
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_interrupted_writer_leaves_only_a_hidden_temp(tmp_path: Path) -> None:
    """While writing, the final name does not exist: readers never see partial data."""
    target = tmp_path / "result.gif"
    with atomic_writer(target) as fh:
        fh.write(b"partial")
        assert not target.exists()
        (temp,) = tmp_path.iterdir()
        assert temp.name.startswith(".result.gif.") and temp.name.endswith(".tmp")
    assert target.read_bytes() == b"partial"


def test_missing_directory_fails_without_creating_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "gone" / "x.json", b"{}")
    assert not (tmp_path / "gone").exists()


def test_clean_strays_removes_only_dead_owners_files(tmp_path: Path, dead_owner: str) -> None:
    live_tmp = temp_name(tmp_path / "a.gif")
    live_tmp.write_bytes(b"still being written")
    dead_tmp = tmp_path / f".b.gif.{dead_owner}.0123abcd.tmp"
    dead_tmp.write_bytes(b"abandoned")
    nested = tmp_path / "renders" / "x"
    nested.mkdir(parents=True)
    dead_nested = nested / f".record.json.{dead_owner}.deadbeef.tmp"
    dead_nested.write_bytes(b"{")
    dead_dir = tmp_path / f".trash-idt_x.{dead_owner}.00ff00ff"
    (dead_dir / "sub").mkdir(parents=True)
    live_dir = tmp_path / scratch_dir_name("staging", "idt_y")
    live_dir.mkdir()
    keep = tmp_path / "ordinary.tmp"
    keep.write_bytes(b"not ours")

    assert clean_strays(tmp_path) == 3
    assert live_tmp.exists() and live_dir.exists() and keep.exists()
    assert not dead_tmp.exists() and not dead_nested.exists() and not dead_dir.exists()


def test_remove_tree(tmp_path: Path) -> None:
    victim = tmp_path / "rnd_x"
    (victim / "deep").mkdir(parents=True)
    (victim / "deep" / "f").write_bytes(b"x")
    assert remove_tree(victim) is True
    assert list(tmp_path.iterdir()) == []
    assert remove_tree(victim) is False
