"""``python -m server``: the development server on FACELOOP_HOST:FACELOOP_PORT.

For production use gunicorn: ``gunicorn -c gunicorn.conf.py server.wsgi:app``.
"""

from __future__ import annotations

import logging
import os

from server import create_app
from server.api.redact import redact_log_handlers
from server.settings import load_settings
from server.worker_memory import apply_memory_cap, memory_cap_mb


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redact_log_handlers()
    limit = apply_memory_cap(memory_cap_mb(os.environ))  # as gunicorn workers, before models
    if limit is not None:
        logging.getLogger(__name__).info("memory cap: %d MiB of data (RLIMIT_DATA)", limit >> 20)
    settings = load_settings()
    app = create_app(settings)
    try:
        app.run(host=settings.host, port=settings.port, threaded=True, use_reloader=False)
    finally:
        app.extensions["faceloop"].close()


if __name__ == "__main__":
    main()
