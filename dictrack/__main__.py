"""``python -m dictrack`` runs the command line."""

from __future__ import annotations

import sys

from dictrack.cli import main

sys.exit(main())
