"""Download model weights declared in the manifest, verified and placed atomically.

    python -m tools.fetch_models [NAME|GROUP ...] [--dir DIR] [--mirror BASE_URL]
        [--accept-license noncommercial] [--allow-unpinned] [--manifest PATH] [--list]

- No NAME fetches every model in the manifest; a GROUP (the manifest's ``group``, e.g.
  ``live_portrait``) fetches all of its models. Each model's licence is printed; models
  whose licence forbids commercial use are fetched only with
  ``--accept-license noncommercial``. A file already present and verified is skipped
  without network traffic.
- Downloads go to ``FILE.part`` and resume with an HTTP Range request; a server that
  ignores Range (answers 200) or answers another range restarts the file cleanly.
  After the size and sha256 check the file is fsynced and moved into place with
  ``os.replace``: the final name never holds a partial or unverified file. A wrong
  size or hash deletes the ``.part``; an interrupted download keeps it for the next
  run. A local disk problem (ENOSPC: "disk full") stops that model at once.
- Mirrors in ``urls`` are tried in order. ``--mirror BASE_URL`` replaces them all with
  ``BASE_URL/<file>``.
- Unpinned models (manifest ``sha256: null``, e.g. gfpgan_1.4) are refused unless
  ``--allow-unpinned``; then the digest seen is recorded in ``FILE.sha256`` (trust on
  first use), printed so it can be pinned in the manifest, and later checks (here and
  in ``server.runtime``) compare against that record.
- Exit status: 0 all present, 1 some model failed (one ``error:`` line each on
  stderr), 2 bad usage (unknown model name, invalid manifest).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import http.client
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from server.runtime.manifest import Manifest, ManifestError, ModelEntry, load_manifest
from server.runtime.verify import check_file, sha256_file, write_recorded_sha256

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = REPO_ROOT / "onnx_models"
DEFAULT_MANIFEST = DEFAULT_DIR / "manifest.json"
CHUNK_BYTES = 1 << 20
USER_AGENT = "faceloop-fetch-models/1"
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError)


class FetchError(Exception):
    """One model could not be fetched; the message is one line."""


class LocalFileError(FetchError):
    """A local disk problem (disk full, permissions); other mirrors would not help."""


@dataclass(frozen=True)
class FetchOptions:
    dest: Path
    mirror: str | None = None
    accept_noncommercial: bool = False
    allow_unpinned: bool = False
    timeout: float = 30.0
    progress: bool = True


def licence_line(entry: ModelEntry) -> str:
    """The licence as printed before every fetch."""
    use = "allowed" if entry.commercial_use else "NOT allowed"
    where = entry.license_url or entry.license_note
    return f"{entry.name}: licence {entry.license} (commercial use {use}) - {where}"


def candidate_urls(entry: ModelEntry, mirror: str | None) -> list[str]:
    """Where to download from: the manifest's mirrors, or BASE_URL/<file>."""
    if mirror:
        return [f"{mirror.rstrip('/')}/{urllib.parse.quote(entry.file)}"]
    return list(entry.urls)


@contextlib.contextmanager
def _local_io(path: Path) -> Iterator[None]:
    """Report OSError from local file work as one line (ENOSPC as "disk full")."""
    try:
        yield
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            raise LocalFileError(
                f"disk full writing {path}; free space and rerun (a .part download resumes)"
            ) from error
        raise LocalFileError(f"{path}: {error.strerror or error}") from error


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    return urllib.request.urlopen(request, timeout=timeout)


def _content_range(header: str | None) -> tuple[int | None, int | None]:
    """(first byte, total size) of a Content-Range header; None where absent or '*'."""
    match = re.fullmatch(r"bytes (?:(\d+)-\d+|\*)/(\d+|\*)", (header or "").strip())
    if match is None:
        return None, None
    first, total = match.groups()
    return (int(first) if first else None), (int(total) if total.isdigit() else None)


def _request(
    url: str, part: Path, expected: int | None, timeout: float
) -> tuple[http.client.HTTPResponse | None, int]:
    """Open the download, resuming from ``part``; None when part is already complete."""
    offset = part.stat().st_size if part.exists() else 0
    if expected is not None and offset > expected:
        part.unlink()
        offset = 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as error:
        error.close()
        if error.code != 416 or not offset:  # 416: nothing left after `offset`
            raise FetchError(f"{url}: HTTP {error.code} {error.reason}") from None
        total = (
            expected if expected is not None else _content_range(error.headers["Content-Range"])[1]
        )
        if offset == total:
            return None, offset
        part.unlink()
        return _open(url, 0, timeout), 0
    if response.status == 206 and _content_range(response.headers["Content-Range"])[0] != offset:
        response.close()  # the server sent some other range: start over, cleanly
        part.unlink()
        return _open(url, 0, timeout), 0
    return response, offset


def download(url: str, part: Path, expected: int | None, timeout: float, progress: bool) -> None:
    """Fetch ``url`` into ``part``, appending when the server honours Range."""
    response, offset = _request(url, part, expected, timeout)
    if response is None:
        return
    with response:
        resumed = offset > 0 and response.status == 206
        if response.status not in (200, 206) or (response.status == 206 and not resumed):
            raise FetchError(f"{url}: unexpected HTTP {response.status}")
        offset = offset if resumed else 0  # a 200 answer to a Range request: start over
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header is not None else None
        total = offset + length if length is not None else expected
        received = _stream(response, part, resumed, (offset, total), progress)
    if length is not None and received < length:
        raise FetchError(
            f"{url}: download interrupted after {offset + received} of {offset + length} "
            f"bytes; {part.name} kept, rerun to resume"
        )


def _stream(
    response: http.client.HTTPResponse,
    part: Path,
    append: bool,
    position: tuple[int, int | None],
    progress: bool,
) -> int:
    """Copy the body into ``part`` with a progress bar on stderr; bytes received."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    with _local_io(part):
        fd = os.open(part, flags, 0o644)
    received = 0
    try:
        with tqdm(
            total=position[1],
            initial=position[0],
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc=part.stem,
            file=sys.stderr,
            disable=not progress,
        ) as bar:
            while chunk := response.read(CHUNK_BYTES):
                with _local_io(part):
                    _write_all(fd, chunk)
                received += len(chunk)
                bar.update(len(chunk))
    finally:
        os.close(fd)
    return received


def _check_part(entry: ModelEntry, part: Path, url: str) -> str:
    """Size and hash of a finished download; deletes it and raises when wrong."""
    size = part.stat().st_size
    if entry.bytes is not None and size != entry.bytes:
        part.unlink()
        raise FetchError(f"{url}: got {size} bytes, manifest says {entry.bytes} (deleted)")
    digest = sha256_file(part, cache=None)
    if entry.sha256 is not None and digest != entry.sha256:
        part.unlink()
        raise FetchError(
            f"{url}: sha256 mismatch, expected {entry.sha256}, got {digest} (download deleted)"
        )
    return digest


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _place(part: Path, final: Path) -> None:
    """fsync the verified download, rename it over the final name, fsync the folder."""
    with _local_io(final):
        _fsync(part)
        os.replace(part, final)
        _fsync(final.parent)


def _gate(entry: ModelEntry, options: FetchOptions) -> None:
    """Refuse before any network traffic: licence not accepted, or hash not pinned."""
    if not entry.commercial_use and not options.accept_noncommercial:
        raise FetchError(
            f"refusing: licence {entry.license} forbids commercial use; "
            "rerun with --accept-license noncommercial to accept its terms"
        )
    if not entry.pinned and not options.allow_unpinned:
        raise FetchError(
            "refusing: the manifest pins no sha256 for this file; rerun with "
            "--allow-unpinned to trust and record what the mirror serves"
        )


def fetch_model(entry: ModelEntry, options: FetchOptions) -> str:
    """Make ``entry``'s file present and verified in ``options.dest``; returns a summary.

    A file already present and verified is kept without any network traffic, whatever
    the flags (nothing is fetched, so there is no licence to accept).
    """
    final = options.dest / entry.file
    check = check_file(entry, final, cache=None)
    if check.verified:
        return f"{entry.name}: already present and verified ({check.hash_source} sha256)"
    _gate(entry, options)
    urls = candidate_urls(entry, options.mirror)
    if not urls:
        raise FetchError("no download URL in the manifest; use --mirror BASE_URL")
    if check.present:
        print(f"{entry.name}: present but {check.reason}; downloading again", file=sys.stderr)
    return _fetch_from(entry, urls, final, options)


def _fetch_from(entry: ModelEntry, urls: list[str], final: Path, options: FetchOptions) -> str:
    part = final.with_name(final.name + ".part")
    failures = []
    for url in urls:
        try:
            download(url, part, entry.bytes, options.timeout, options.progress)
            digest = _check_part(entry, part, url)
        except LocalFileError:
            raise
        except FetchError as error:
            failures.append(str(error))
        except NETWORK_ERRORS as error:
            kept = f" ({part.name} kept, rerun to resume)" if part.exists() else ""
            failures.append(f"{url}: {getattr(error, 'reason', None) or error}{kept}")
        else:
            if not entry.pinned:
                with _local_io(final):
                    write_recorded_sha256(final, digest)
            _place(part, final)
            pin = "pinned" if entry.pinned else f"UNPINNED, recorded in {final.name}.sha256"
            return f"{entry.name}: fetched {final} (sha256 {digest}, {pin})"
        if len(urls) > 1:
            print(f"{entry.name}: {failures[-1]}", file=sys.stderr)
    raise FetchError(f"all {len(urls)} URL(s) failed; last: {failures[-1]}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.fetch_models",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("names", nargs="*", metavar="NAME", help="models or groups (default: all)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="where weights go")
    parser.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST)
    parser.add_argument("--mirror", metavar="BASE_URL", help="fetch BASE_URL/<file> instead")
    parser.add_argument(
        "--accept-license",
        choices=["noncommercial"],
        action="append",
        default=[],
        help="accept non-commercial licence terms",
    )
    parser.add_argument(
        "--allow-unpinned",
        action="store_true",
        help="fetch models without a published sha256 and record it",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="socket timeout, seconds")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--list", action="store_true", help="list models and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit status (0 ok, 1 a model failed, 2 usage)."""
    args = _parser().parse_args(argv)
    try:
        manifest = load_manifest(args.manifest)
        entries = select(manifest, args.names)
    except (ManifestError, KeyError) as error:
        print(f"error: {error.args[0] if error.args else error}", file=sys.stderr)
        return 2
    if args.list:
        _print_list(entries)
        return 0
    try:
        args.dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"error: cannot create {args.dir}: {error.strerror or error}", file=sys.stderr)
        return 1
    options = FetchOptions(
        args.dir,
        args.mirror,
        "noncommercial" in args.accept_license,
        args.allow_unpinned,
        args.timeout,
        not args.no_progress,
    )
    return 1 if _fetch_all(entries, options) else 0


def select(manifest: Manifest, names: list[str]) -> list[ModelEntry]:
    """The models named (a manifest ``group`` name stands for all its models, e.g.
    ``live_portrait``), in manifest order per group; all models when none is named."""
    chosen: dict[str, ModelEntry] = {}
    for name in names:
        group = [m for m in manifest.models if m.group == name and name not in manifest.names()]
        for entry in group or [manifest.get(name)]:
            chosen.setdefault(entry.name, entry)
    return list(chosen.values()) or list(manifest.models)


def _print_list(entries: list[ModelEntry]) -> None:
    for e in entries:
        size = f"{e.bytes} bytes" if e.bytes else "size unknown"
        print(f"{e.name} [{e.role}] {e.file}, {size}, {'pinned' if e.pinned else 'UNPINNED'}")
        print(f"  {licence_line(e)}")


def _fetch_all(entries: list[ModelEntry], options: FetchOptions) -> int:
    """Fetch each model, printing its licence first; returns how many failed."""
    failed = 0
    for entry in entries:
        print(licence_line(entry))
        try:
            print(fetch_model(entry, options))
        except (FetchError, OSError) as error:  # OSError: a last resort, still one line
            failed += 1
            print(f"error: {entry.name}: {error}", file=sys.stderr)
    return failed


if __name__ == "__main__":
    sys.exit(main())
