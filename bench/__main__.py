"""``python -m bench [NAME...]``: run the named benchmarks (all when none is named)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

BENCHES = {
    "startup": "bench.startup_bench",
    "sandbox": "bench.sandbox_bench",
    "cache": "bench.cache_bench",
    "table": "bench.table_bench",
    "deposit": "bench.deposit_bench",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run: {', '.join(BENCHES)}")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHES)}")
    # Every figure is measured offscreen (no window manager, no GPU, the same on CI and on a
    # desktop), and a machine without a display can run the benches.
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    for name in args.names or list(BENCHES):
        module = importlib.import_module(BENCHES[name])
        module.run(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
