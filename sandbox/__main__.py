"""``python -m sandbox``: the ``dmp-sandbox`` command."""

from __future__ import annotations

from sandbox.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
