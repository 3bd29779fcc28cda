"""Shared helpers of the benchmarks: timing and the JSON-lines record."""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any


def emit(
    bench: str,
    case: str,
    n: int,
    ours_s: float,
    baseline_s: float | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Print one JSON line and return it."""
    record: dict[str, Any] = {"bench": bench, "case": case, "n": n, "ours_s": round(ours_s, 6)}
    if baseline_s is not None:
        record["baseline_s"] = round(baseline_s, 6)
        record["ratio"] = round(baseline_s / ours_s, 2) if ours_s > 0 else None
    record.update(extra)
    print(json.dumps(record, ensure_ascii=False), flush=True)
    return record


def median_time(fn: Callable[[], object], repeat: int = 5, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after ``warmup`` runs."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def note(text: str) -> None:
    """Progress for the human, on stderr (stdout stays pure JSON lines)."""
    print(text, file=sys.stderr, flush=True)
