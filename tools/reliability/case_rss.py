"""Peak resident memory of every hostile-input case, each run alone in a fresh process.

    python -m tools.reliability.case_rss [--json out.json] [test files...]
    python -m tools.reliability.case_rss --table-from out.json

Collects the cases of the hostile-input suite (``tools.reliability.hostile.SUITE`` plus
the gunicorn and worker-kill tests), runs each in its own
``python -m pytest`` subprocess and reads that subprocess's high-water RSS from
``os.wait4`` (the maximum over the process and every descendant it waited for, e.g. a
gunicorn master and its workers). The baseline is a run that only collects the same
file: imports, fixtures' modules, no test body. Prints a Markdown table, worst first.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass

from tools.reliability.hostile import SUITE
from tools.reliability.service import REPO

EXTRA = [
    "tests/api/test_gunicorn_errors.py",
    "tests/api/test_worker_kill.py",
]
_PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]


@dataclass(frozen=True)
class CaseRun:
    case: str
    outcome: str
    peak_mib: float
    baseline_mib: float
    seconds: float


def run_measured(command: list[str]) -> tuple[int, float, float]:
    """Run ``command`` in the repo; (exit status, peak RSS in MiB, seconds)."""
    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss / 1024, time.monotonic() - started


def collect(path: str) -> list[str]:
    """The node ids of the cases in one test file."""
    out = subprocess.run([*_PYTEST, "--collect-only", path], cwd=REPO, capture_output=True,
                         text=True, check=False).stdout  # fmt: skip
    return [line.strip() for line in out.splitlines() if line.startswith(path + "::")]


def outcome_of(status: int) -> str:
    return {0: "passed", 5: "none collected"}.get(status, f"failed ({status})")


def measure_file(path: str) -> list[CaseRun]:
    _status, baseline, _ = run_measured([*_PYTEST, "--collect-only", path])
    runs = []
    for case in collect(path):
        status, peak, seconds = run_measured([*_PYTEST, case])
        run = CaseRun(case, outcome_of(status), round(peak), round(baseline), round(seconds, 1))
        runs.append(run)
        print(f"{run.peak_mib:6.0f} MiB  {run.outcome:8}  {case}", file=sys.stderr)
    return runs


def short_names(runs: list[CaseRun]) -> dict[str, str]:
    """``file::test[param]`` -> ``test[param]``, with a parameter id that is raw bytes
    or long replaced by its position (``test[#2]``)."""
    names, seen = {}, Counter[str]()
    for r in runs:
        test = r.case.split("::", 1)[1]
        func, _, param = test.partition("[")
        seen[func] += 1
        if param and ("\\x" in param or len(param) > 45):
            test = f"{func}[#{seen[func]}]"
        names[r.case] = test
    return names


def table(runs: list[CaseRun]) -> str:
    lines = ["| case | file | outcome | peak RSS | over the file's imports | time |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    names = short_names(runs)
    for r in sorted(runs, key=lambda r: r.peak_mib, reverse=True):
        file = r.case.split("::", 1)[0].rsplit("/", 1)[-1]
        lines.append(f"| `{names[r.case]}` | `{file}` | {r.outcome} | {r.peak_mib:.0f} MiB | "
                     f"{r.peak_mib - r.baseline_mib:+.0f} MiB | {r.seconds:.1f} s |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=[*SUITE, *EXTRA])
    parser.add_argument("--json", help="also write the runs to this file")
    parser.add_argument("--table-from", help="only print the table of a saved --json file")
    args = parser.parse_args()
    if args.table_from:
        with open(args.table_from) as saved:
            runs = [CaseRun(**r) for r in json.load(saved)]
    else:
        runs = [run for path in args.files for run in measure_file(path)]
    print(table(runs))
    worst = max(runs, key=lambda r: r.peak_mib)
    print(f"\n{len(runs)} cases; worst: `{worst.case}` at {worst.peak_mib:.0f} MiB")
    if args.json:
        with open(args.json, "w") as out:
            json.dump([asdict(r) for r in runs], out, indent=1)
    raise SystemExit(0 if all(r.outcome == "passed" for r in runs) else 1)


if __name__ == "__main__":
    main()
