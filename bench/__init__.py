"""Benchmarks: ``python -m bench NAME...``, one JSON object per line.

Every line has at least ``bench``, ``case``, ``n``, ``ours_s`` and, where a naive baseline
is measured in the same run, ``baseline_s`` and ``ratio`` (= baseline_s / ours_s).
"""

from __future__ import annotations
