"""WSGI entry point: ``gunicorn wsgi:app`` / ``flask --app wsgi …``."""

import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:  # one line naming the setting, not a traceback
    sys.exit(f"Configuration error: {exc}")
