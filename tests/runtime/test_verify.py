"""Checksums, the per-process hash cache and file checks against the manifest."""

from __future__ import annotations

import hashlib
import os

import numpy as np
import pytest

from server.runtime.manifest import Manifest
from server.runtime.verify import (
    CHUNK_BYTES,
    HashCache,
    check_file,
    read_recorded_sha256,
    sha256_file,
    write_recorded_sha256,
)


@pytest.fixture
def blob(tmp_path):
    data = np.random.default_rng(7).integers(0, 256, CHUNK_BYTES * 2 + 123, np.uint8).tobytes()
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    return path, data


def test_streamed_sha256_equals_hashlib(blob):
    path, data = blob
    assert sha256_file(path, cache=None) == hashlib.sha256(data).hexdigest()


def test_cache_hashes_once_until_the_file_changes(blob):
    path, data = blob
    cache = HashCache()
    first = cache.sha256(path)
    assert cache.sha256(path) == first
    assert cache.misses == 1
    path.write_bytes(data[:-1])  # size changes
    assert cache.sha256(path) == hashlib.sha256(data[:-1]).hexdigest()
    assert cache.misses == 2
    stat = path.stat()
    path.write_bytes(b"Z" + data[1:-1])  # same size: only the mtime part of the key changes
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert cache.sha256(path) == hashlib.sha256(b"Z" + data[1:-1]).hexdigest()
    assert cache.misses == 3


def test_cache_is_bounded(tmp_path):
    cache = HashCache(max_entries=2)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"f{i}")
        paths[-1].write_bytes(bytes([i]))
        cache.sha256(paths[-1])
    cache.sha256(paths[0])  # evicted, hashed again
    assert cache.misses == 4


def test_check_file_states(models_dir, synthetic_manifest: Manifest):
    entry = synthetic_manifest.get("w600k_r50")
    path = models_dir / entry.file
    good = check_file(entry, path, cache=None)
    assert good.present and good.verified and good.hash_source == "manifest"
    assert good.sha256 == entry.sha256 and good.reason is None

    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    bad = check_file(entry, path, cache=None)
    assert bad.present and not bad.verified
    assert bad.reason is not None and bad.reason.startswith("sha256 mismatch (manifest)")

    path.write_bytes(bytes(data[:-1]))
    short = check_file(entry, path, cache=None)
    assert not short.verified and "size mismatch" in (short.reason or "")
    assert short.sha256 is None  # no hashing when the size already disagrees

    path.unlink()
    missing = check_file(entry, path, cache=None)
    assert not missing.present and "missing file" in (missing.reason or "")


def test_unpinned_file_needs_a_recorded_hash(models_dir, synthetic_manifest: Manifest):
    entry = synthetic_manifest.get("gfpgan_1.4").model_copy(update={"sha256": None})
    path = models_dir / entry.file
    unrecorded = check_file(entry, path, cache=None)
    assert unrecorded.present and not unrecorded.verified
    assert "unpinned" in (unrecorded.reason or "")

    write_recorded_sha256(path, hashlib.sha256(path.read_bytes()).hexdigest())
    recorded = check_file(entry, path, cache=None)
    assert recorded.verified and recorded.hash_source == "recorded"

    write_recorded_sha256(path, "0" * 64)
    tampered = check_file(entry, path, cache=None)
    assert not tampered.verified and "sha256 mismatch (recorded)" in (tampered.reason or "")


def test_malformed_record_is_ignored(tmp_path):
    model = tmp_path / "m.onnx"
    (tmp_path / "m.onnx.sha256").write_text("not-a-digest  m.onnx\n")
    assert read_recorded_sha256(model) is None


def test_unreadable_paths_are_reasons_not_exceptions(models_dir, synthetic_manifest: Manifest):
    entry = synthetic_manifest.get("det_10g")
    folder = models_dir / entry.file
    folder.unlink()
    folder.mkdir()
    check = check_file(entry, folder, cache=None)
    assert check.present and not check.verified
    assert check.reason == f"{folder} is not a regular file"
    blocked = models_dir / "not-a-dir"
    blocked.write_bytes(b"")
    inside = check_file(entry, blocked / entry.file, cache=None)  # ENOTDIR, not ENOENT
    assert not inside.present and (inside.reason or "").startswith("cannot stat ")
