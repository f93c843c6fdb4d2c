"""A ceiling on one service process's memory, set by the operating system.

``gunicorn.conf.py`` calls :func:`apply_memory_cap` in ``post_fork``, before the worker
loads its models, with ``FACELOOP_WORKER_MEMORY_MB`` (:func:`memory_cap_mb`). The cap
is ``RLIMIT_DATA``: on Linux (4.7 and later) it counts the heap and every private
writable mapping, i.e. what numpy, Pillow, OpenCV and dlib allocate, but not
address space that is only reserved (glibc's per-thread arenas, CUDA's unified
address range) or the mapped model files, which would make ``RLIMIT_AS`` fail a
healthy worker. An allocation over the cap fails inside the request that makes it
(``MemoryError``, answered 503 ``out_of_memory``) instead of the kernel's OOM killer
ending the whole worker and every request and render it holds.
"""

from __future__ import annotations

import resource
from collections.abc import Mapping

ENV_VAR = "FACELOOP_WORKER_MEMORY_MB"
# A worker holds ~600 MiB of data at rest (dlib and classic models, thread stacks) and
# peaked near 700 MiB resident under the 20-client load test; the neural engine adds its
# models. 4 GiB leaves room for all of that and still stops one runaway request before
# it takes the host's memory.
DEFAULT_MB = 4096
MIN_MB = 256  # below this no worker can even load its models


def memory_cap_mb(environ: Mapping[str, str]) -> int:
    """The cap in MiB from ``FACELOOP_WORKER_MEMORY_MB`` (0: no cap); ValueError when it
    is not a whole number, negative or too small to run a worker."""
    raw = environ.get(ENV_VAR, "").strip()
    if not raw:
        return DEFAULT_MB
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_VAR}={raw!r} is not a whole number of MiB") from None
    if value != 0 and value < MIN_MB:
        raise ValueError(f"{ENV_VAR}={value}: use 0 (no cap) or at least {MIN_MB} MiB")
    return value


def apply_memory_cap(megabytes: int) -> int | None:
    """Lower this process's ``RLIMIT_DATA`` soft limit to ``megabytes`` MiB (never above
    the hard limit; 0 leaves it as it is). Returns the limit set, in bytes."""
    if megabytes <= 0:
        return None
    _soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))
    return limit
