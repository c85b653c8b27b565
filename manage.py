#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    # Only the development server is a web process: it gets the database timeouts
    # (project/settings.py); migrations, audits and exports run without them.
    os.environ.setdefault("PAYLANE_PROCESS", "web" if sys.argv[1:2] == ["runserver"] else "command")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
