"""gunicorn settings: ``gunicorn -c gunicorn.conf.py server.wsgi:app``.

Sized for 2 CPU cores. Renders run on each worker's own render threads
(FACELOOP_RENDER_WORKERS), so HTTP threads stay free for uploads and polling.
"""

from __future__ import annotations

import os

from server.settings import load_settings
from server.worker_memory import memory_cap_mb

_settings = load_settings()
# Per-worker data ceiling (RLIMIT_DATA) in MiB, 0 for none: see server/worker_memory.py.
_worker_memory_mb = memory_cap_mb(os.environ)

bind = f"{_settings.host}:{_settings.port}"

# One process per core; each holds the dlib models (~100 MB) and its render threads.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gthread"
threads = 4  # concurrent requests per worker: polling and downloads are cheap, I/O-bound

# Never preload: each worker forks first, then create_app loads models and starts
# threads (threads and dlib/OpenCV state do not survive a fork).
preload_app = False

# Identity creation (decode + detect up to 5 selfies) takes a few seconds; start-up may
# rebuild a stale template analysis. Renders do not block a request thread.
timeout = 120
graceful_timeout = 30
keepalive = 5

# Recycling workers would drop their in-process render queues; leave it off.
max_requests = 0

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("FACELOOP_LOG_LEVEL", "info")

# Over these gunicorn answers 414 / 431 itself, before the app runs; post_fork makes
# those answers (and its 400s for malformed requests) JSON like every other error.
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190


def post_fork(server: object, worker: object) -> None:
    """Cap the worker's memory before it loads anything, and make gunicorn's own error
    pages use the API's JSON error shape."""
    from server.gunicorn_errors import install
    from server.worker_memory import apply_memory_cap

    limit = apply_memory_cap(_worker_memory_mb)
    log = getattr(worker, "log", None)
    if limit is not None and log is not None:
        log.info("memory cap: %d MiB of data (RLIMIT_DATA)", limit >> 20)
    install()


def worker_exit(server: object, worker: object) -> None:
    """Stop the worker's render threads; renders still waiting are marked interrupted."""
    app = getattr(worker, "wsgi", None)
    services = getattr(app, "extensions", {}).get("faceloop") if app is not None else None
    if services is not None:
        services.close(timeout=float(graceful_timeout))


def on_starting(server: object) -> None:
    """Rebuild missing or stale template analyses once, in the master, before the
    workers fork: otherwise every worker would redo the same work at start-up."""
    if not _settings.analyse_stale_templates:
        return
    from server.faces.dlib_models import DlibFaceModels
    from server.gif_templates.catalog import TemplateCatalog

    TemplateCatalog(_settings.templates_dir).load(DlibFaceModels(), rebuild_stale=True)
