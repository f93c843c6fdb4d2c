"""The reface command line (see :mod:`tools.reface`): its options, and every check that
can be made before models load or images decode.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from server.types import OUTPUT_FORMATS, OutputFormat


class CliError(Exception):
    """Reported as one ``error:`` line, exit status 2."""


@dataclass(frozen=True)
class Request:
    """The parsed, checked command line (before anything heavy is loaded)."""

    people: list[list[Path]]  # one list of selfie files per person
    template: str
    out: Path
    fmt: OutputFormat
    engine: str
    templates_dir: Path | None
    faces: dict[int, int]  # explicit track -> selfie index from --faces


def parser(description: str) -> argparse.ArgumentParser:
    """The options; :func:`parse_request` checks what they say."""
    cli = argparse.ArgumentParser(prog="python -m tools.reface", description=description)
    cli.add_argument(
        "--selfie",
        action="append",
        nargs="+",
        required=True,
        type=Path,
        metavar="PATH",
        help="photos of one person (repeat --selfie for more people)",
    )
    cli.add_argument("--template", required=True, help="template id or animation file")
    cli.add_argument("--out", required=True, type=Path, help="OUT.gif, OUT.mp4 or OUT.webp")
    cli.add_argument("--engine", default="classic")
    cli.add_argument("--dir", type=Path, help="template library for ids (default: settings)")
    cli.add_argument(
        "--faces",
        nargs="+",
        default=[],
        metavar="TRACK=SELFIE_INDEX",
        help="put selfie SELFIE_INDEX (0-based, in --selfie order) on face track TRACK",
    )
    return cli


def parse_request(args: argparse.Namespace) -> Request:
    """Everything that can be checked before loading models or decoding images."""
    fmt = args.out.suffix.lower().lstrip(".")
    if fmt not in OUTPUT_FORMATS:
        raise CliError(
            f"--out {args.out}: the extension must be one of "
            f"{', '.join('.' + f for f in OUTPUT_FORMATS)}"
        )
    parent = args.out.parent
    if not parent.is_dir():
        raise CliError(f"--out {args.out}: folder {parent} does not exist")
    people = [list(group) for group in args.selfie]
    for path in (p for group in people for p in group):
        if not path.is_file():
            raise CliError(f"selfie {path}: no such file")
    faces = parse_faces(args.faces, len(people))
    chosen = next(f for f in OUTPUT_FORMATS if f == fmt)  # the Literal, for type checkers
    return Request(people, args.template, args.out, chosen, args.engine, args.dir, faces)


def parse_faces(items: Sequence[str], n_people: int) -> dict[int, int]:
    faces: dict[int, int] = {}
    for item in items:
        track, sep, index = item.partition("=")
        if not sep or not track.strip().isdigit() or not index.strip().isdigit():
            raise CliError(f"--faces {item!r}: expected TRACK=SELFIE_INDEX, e.g. 1=0")
        selfie = int(index)
        if selfie >= n_people:
            raise CliError(
                f"--faces {item}: selfie index {selfie} out of range (0..{n_people - 1})"
            )
        faces[int(track)] = selfie
    return faces


def face_map(tracks: Sequence[int], explicit: Mapping[int, int], n_people: int) -> dict[int, int]:
    """Track id -> selfie index: track k gets selfie k by default (tracks are ordered
    main face first), ``explicit`` entries win; every selfie must end up used."""
    if not tracks:
        raise CliError("the template has no face to swap")
    mapping = {track: k for k, track in enumerate(sorted(tracks)[:n_people])}
    for track, selfie in explicit.items():
        if track not in tracks:
            known = ", ".join(str(t) for t in sorted(tracks))
            raise CliError(
                f"--faces {track}={selfie}: the template has no face track {track} "
                f"(tracks: {known})"
            )
        mapping[track] = selfie
    unused = sorted(set(range(n_people)) - set(mapping.values()))
    if unused:
        raise CliError(
            f"selfie {unused[0]} is not used: the template has {len(tracks)} face track(s); "
            "map it with --faces TRACK=SELFIE_INDEX"
        )
    return mapping
