"""Run the hostile-input suite and count its cases and outcomes per file.

    python -m tools.reliability.hostile

Runs pytest on the hostile-input and fuzz test files with a JUnit XML report and prints
a Markdown table (cases, passed, failed, skipped per file) plus this process tree's
peak RSS (the pytest child's high-water mark, from getrusage)."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

from tools.reliability.service import REPO

SUITE = [
    "tests/api/test_hostile_inputs.py",
    "tests/api/test_fuzz.py",
    "tests/vision/test_fuzz_decoders.py",
    "tests/gif_templates/test_hostile_media.py",
    "tests/api/test_hostile_gaps.py",
    "tests/api/test_memory_cap.py",
]


def outcome(case: ET.Element) -> str:
    for kind in ("failure", "error", "skipped"):
        if case.find(kind) is not None:
            return "skipped" if kind == "skipped" else "failed"
    return "passed"


def run_suite() -> dict[str, Counter[str]]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "junit.xml"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                   f"--junitxml={report}", *SUITE]  # fmt: skip
        subprocess.run(command, cwd=REPO, capture_output=True, check=False)
        tree = ET.parse(report)
    counts: dict[str, Counter[str]] = {}
    for case in tree.iter("testcase"):
        name = (
            case.get("classname", "").rsplit(".", 1)[0] if "." in case.get("classname", "") else ""
        )
        key = next(
            (s for s in SUITE if s.replace("/", ".")[:-3] in case.get("classname", "")), name
        )
        counts.setdefault(key, Counter())[outcome(case)] += 1
    return counts


def row(name: str, c: Counter[str]) -> str:
    return f"| {name} | {sum(c.values())} | {c['passed']} | {c['failed']} | {c['skipped']} |"


def table(counts: dict[str, Counter[str]]) -> str:
    lines = ["| file | cases | passed | failed | skipped |", "|---|---|---|---|---|"]
    total: Counter[str] = Counter()
    for name, c in counts.items():
        total.update(c)
        lines.append(row(f"`{name}`", c))
    lines.append(row("**total**", total))
    return "\n".join(lines)


def main() -> None:
    counts = run_suite()
    print(table(counts))
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak RSS of the suite's pytest process: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
