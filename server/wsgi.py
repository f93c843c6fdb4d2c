"""WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py server.wsgi:app``.

Imported by each worker after the fork (no preload), so every worker loads its own
models and starts its own render threads.
"""

from __future__ import annotations

import logging

from server import create_app
from server.api.redact import redact_log_handlers

if not logging.getLogger().handlers:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"
    )
    redact_log_handlers()

app = create_app()
