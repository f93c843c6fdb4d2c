"""``python -m server``: the development server on FACELOOP_HOST:FACELOOP_PORT.

For production use gunicorn: ``gunicorn -c gunicorn.conf.py server.wsgi:app``.
"""

from __future__ import annotations

import logging

from server import create_app
from server.api.redact import redact_log_handlers
from server.settings import load_settings


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    redact_log_handlers()
    settings = load_settings()
    app = create_app(settings)
    try:
        app.run(host=settings.host, port=settings.port, threaded=True, use_reloader=False)
    finally:
        app.extensions["faceloop"].close()


if __name__ == "__main__":
    main()
