"""Throttled progress reporting: renders call it per frame, the record is rewritten at
most every ``min_interval_s`` (each write is a small atomic file replace)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class ThrottledProgress:
    """Forward progress values 0..1 to ``sink``, at most once per interval.

    Values are clamped to [0, ``ceiling``] (1.0 is reserved for "done", written by
    the runner with the result), never go backwards, and tiny steps are dropped.
    """

    def __init__(
        self,
        sink: Callable[[float], None],
        min_interval_s: float = 0.5,
        min_step: float = 0.01,
        ceiling: float = 0.99,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._interval = min_interval_s
        self._step = min_step
        self._ceiling = ceiling
        self._clock = clock
        self._last_value = 0.0
        self._last_time: float | None = None

    def __call__(self, value: float) -> None:
        if not math.isfinite(value):
            return
        value = min(max(value, 0.0), self._ceiling)
        if value < self._last_value + self._step:
            return
        now = self._clock()
        if self._last_time is not None and now - self._last_time < self._interval:
            return
        self._last_value, self._last_time = value, now
        self._sink(value)

    @property
    def last(self) -> float:
        """The last value forwarded to the sink."""
        return self._last_value
