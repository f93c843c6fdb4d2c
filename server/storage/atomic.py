"""Atomic file writes and the clean-up of what interrupted writers leave behind.

A file is written to a temp name in the same directory, fsynced and ``os.replace``d
onto its final name, so a reader sees the old file, the new file or nothing, never a
half-written one. Temp names carry the writer's owner token so start-up clean-up can
tell an abandoned temp file from one another live worker is still writing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from server.storage.procinfo import owner_alive, process_token

log = logging.getLogger(__name__)

TMP_SUFFIX = ".tmp"
_TMP_NAME = re.compile(r"^\..+\.(?P<owner>\d+-\d+)\.[0-9a-f]{8}\.tmp$")
# Directories being built (".staging-...") or torn down (".trash-...").
_SCRATCH_DIR = re.compile(r"^\.(?P<kind>staging|trash)-.*\.(?P<owner>\d+-\d+)\.[0-9a-f]{8}$")


def temp_name(final: Path) -> Path:
    """A fresh temp path beside ``final``, tagged with this process's owner token."""
    return final.with_name(f".{final.name}.{process_token()}.{secrets.token_hex(4)}{TMP_SUFFIX}")


def scratch_dir_name(kind: str, name: str) -> str:
    """Name for a hidden staging/trash directory owned by this process."""
    return f".{kind}-{name}.{process_token()}.{secrets.token_hex(4)}"


def fsync_dir(path: Path) -> None:
    """Persist a directory entry change (rename/create); best effort on odd filesystems."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_writer(path: Path) -> Iterator[IO[bytes]]:
    """Yield a binary file that replaces ``path`` only if the block completes.

    If the block raises, the temp file is removed and ``path`` is left untouched.
    The parent directory must already exist (a deleted parent makes the write fail,
    which is how writers notice their render or identity was deleted meanwhile).
    """
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_writer(path) as fh:
        fh.write(data)


def atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as UTF-8 JSON to ``path`` atomically."""
    atomic_write_bytes(path, json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8"))


def remove_tree(path: Path, kind: str = "trash") -> bool:
    """Make a directory vanish at once (rename), then delete it; False if it was absent."""
    trash = path.parent / scratch_dir_name(kind, path.name)
    try:
        os.rename(path, trash)
    except FileNotFoundError:
        return False
    shutil.rmtree(trash, ignore_errors=True)
    return True


def clean_strays(root: Path) -> int:
    """Delete temp files and scratch dirs under ``root`` whose writer is gone.

    Returns how many were removed. Called at start-up; safe while other live
    workers write, since their files carry a live owner token.
    """
    removed = 0
    if not root.is_dir():
        return 0
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        for name in list(dirnames):
            match = _SCRATCH_DIR.match(name)
            if match and not owner_alive(match.group("owner")):
                shutil.rmtree(here / name, ignore_errors=True)
                dirnames.remove(name)
                removed += 1
        for name in filenames:
            match = _TMP_NAME.match(name)
            if match and not owner_alive(match.group("owner")):
                with contextlib.suppress(OSError):
                    (here / name).unlink()
                    removed += 1
    if removed:
        log.info("removed %d stray temp files/dirs under %s", removed, root)
    return removed
