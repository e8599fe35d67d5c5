#!/usr/bin/env python
"""Same as the `refuge` command, for people used to manage.py."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))

from refuge.cli import main

if __name__ == "__main__":
    main(sys.argv)
