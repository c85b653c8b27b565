"""WSGI entry point: Django for HTTP in the production stack's request workers (deploy/Procfile `web`).

The websocket server (deploy/Procfile `ws`) runs ``project.asgi:application``; the request
workers run this one under gunicorn's sync workers: one request at a time per process, no event
loop and no thread hand-offs around each request (docs/performance.md, section 2, measures the
servers against each other).
"""

from __future__ import annotations

import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()

# As in project/asgi.py: what is loaded now lives as long as the process; keep it out of the
# garbage collector's full scans.
gc.freeze()
