"""Progress of a long step, as the command-line tools print it on stderr."""

from __future__ import annotations

import sys
from collections.abc import Callable


def stderr_progress(label: str, steps: int = 10) -> Callable[[float], None]:
    """A progress callback (fraction 0..1) that prints ``  label: N%`` on stderr once
    per ``1/steps`` of the work (0 % first), not on every call."""
    shown = [-1]

    def report(fraction: float) -> None:
        step = int(fraction * steps)
        if step > shown[0]:
            shown[0] = step
            print(f"  {label}: {int(fraction * 100)}%", file=sys.stderr, flush=True)

    return report
