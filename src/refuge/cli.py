"""The `refuge` console command: Django's manage.py with Refuge's settings preset."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "refuge.config.settings")
    # Everything Refuge writes (database, key file, logs under var/) is for its own user only.
    os.umask(0o077)
    from django.core.management import execute_from_command_line  # noqa: PLC0415

    args = list(sys.argv if argv is None else argv)
    args[0] = "refuge"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
