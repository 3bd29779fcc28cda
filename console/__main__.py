"""``python -m console``: the ``staff-console`` command."""

from __future__ import annotations

import sys

from console.app import main

sys.exit(main())
