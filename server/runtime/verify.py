"""Checksums of model files against the manifest.

Hashing 500 MB takes seconds, so digests are cached per process, keyed by
(real path, size, mtime_ns): a file rewritten in place gets a new key and is hashed
again. The cache is an object (``HashCache``); ``DEFAULT_HASH_CACHE`` serves callers
that do not pass their own.

Unpinned models (manifest ``sha256: null``) are trusted on first use: the fetch tool
records the digest it downloaded in a sidecar ``<file>.sha256`` (``sha256sum`` format)
and verification compares against that record. Without a record the file is not
verified, so a file dropped in by hand is never loaded unchecked.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Literal

from server.runtime.manifest import ModelEntry

CHUNK_BYTES = 1 << 20
RECORD_SUFFIX = ".sha256"

HashSource = Literal["manifest", "recorded", "none"]


def sha256_stream(path: Path) -> str:
    """sha256 hex digest of a file, read in 1 MiB chunks (no caching)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


class HashCache:
    """A small LRU of digests keyed by (real path, size, mtime_ns); thread-safe."""

    def __init__(self, max_entries: int = 64) -> None:
        self._max = max_entries
        self._items: OrderedDict[tuple[str, int, int], str] = OrderedDict()
        self._lock = threading.Lock()
        self.misses = 0

    def sha256(self, path: Path | str) -> str:
        """Digest of ``path``, hashed only if its identity changed since last time."""
        real = os.path.realpath(path)
        stat = os.stat(real)
        key = (real, stat.st_size, stat.st_mtime_ns)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        digest = sha256_stream(Path(real))
        with self._lock:
            self.misses += 1
            self._items[key] = digest
            while len(self._items) > self._max:
                self._items.popitem(last=False)
        return digest

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


DEFAULT_HASH_CACHE = HashCache()


def sha256_file(path: Path | str, cache: HashCache | None = DEFAULT_HASH_CACHE) -> str:
    """sha256 of a file; ``cache=None`` always reads the file."""
    if cache is None:
        return sha256_stream(Path(path))
    return cache.sha256(path)


def record_path(model_path: Path) -> Path:
    """Where the digest of an unpinned model is recorded: ``<file>.sha256``."""
    return model_path.with_name(model_path.name + RECORD_SUFFIX)


def read_recorded_sha256(model_path: Path) -> str | None:
    """The digest recorded at fetch time for an unpinned model, if any."""
    try:
        text = record_path(model_path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    digest = text.split()[0].lower() if text else ""
    valid = len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)
    return digest if valid else None


def write_recorded_sha256(model_path: Path, digest: str) -> Path:
    """Record the digest of an unpinned model (atomic write); returns the record path."""
    target = record_path(model_path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(f"{digest}  {model_path.name}\n", encoding="ascii")
    os.replace(tmp, target)
    return target


@dataclass(frozen=True)
class FileCheck:
    """What verification found for one model file."""

    present: bool
    verified: bool
    size: int | None = None
    sha256: str | None = None
    expected_sha256: str | None = None
    hash_source: HashSource = "none"
    reason: str | None = None


def check_file(
    entry: ModelEntry, path: Path, cache: HashCache | None = DEFAULT_HASH_CACHE
) -> FileCheck:
    """Compare a file with the manifest: size first (cheap), then sha256.

    Never raises for file problems: an unreadable or odd file is "not verified" with
    the reason, so one bad model cannot stop a worker from starting.
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return FileCheck(present=False, verified=False, reason=f"missing file {path}")
    except OSError as error:
        return FileCheck(False, False, reason=f"cannot stat {path}: {_why(error)}")
    if not S_ISREG(stat.st_mode):
        return FileCheck(True, False, reason=f"{path} is not a regular file")
    size = stat.st_size
    if entry.bytes is not None and size != entry.bytes:
        reason = f"size mismatch: manifest says {entry.bytes} bytes, file has {size}"
        return FileCheck(present=True, verified=False, size=size, reason=reason)
    expected, source = _expected_sha256(entry, path)
    if expected is None:
        reason = (
            "unpinned: the manifest has no sha256 and no hash was recorded at fetch "
            f"({record_path(path).name}); fetch it with tools.fetch_models --allow-unpinned"
        )
        return FileCheck(present=True, verified=False, size=size, reason=reason)
    try:
        actual = sha256_file(path, cache)
    except OSError as error:
        return FileCheck(True, False, size, reason=f"cannot read {path}: {_why(error)}")
    if actual != expected:
        reason = f"sha256 mismatch ({source}): expected {expected}, file has {actual}"
        return FileCheck(True, False, size, actual, expected, source, reason)
    return FileCheck(True, True, size, actual, expected, source)


def _why(error: OSError) -> str:
    return error.strerror or str(error)


def _expected_sha256(entry: ModelEntry, path: Path) -> tuple[str | None, HashSource]:
    if entry.sha256 is not None:
        return entry.sha256, "manifest"
    recorded = read_recorded_sha256(path)
    return (recorded, "recorded") if recorded else (None, "none")
