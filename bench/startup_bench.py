"""``python -m bench startup``: process start to the login window shown, beside a bare Qt app.

Each run starts a child process (``QT_QPA_PLATFORM=offscreen``) that prints ``time.time()``
when its window receives its first paint event, then exits at once. Ours is the real
``python -m console`` (with ``STAFF_CONSOLE_STARTUP_PROBE`` set); the baseline is a bare
PySide6 ``QMainWindow`` shown the same way, in the same run, runs interleaved. The figure is
the median over the runs of (printed time - time just before the child was spawned).

JSON line: ``{"bench": "startup", "case": "login_window", "n", "ours_s", "baseline_s",
"ratio"}`` with ratio = baseline / ours (goal >= 0.4: at most 2.5x the bare start).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import emit, note

STARTUP_PROBE_ENV = "STAFF_CONSOLE_STARTUP_PROBE"
"""Same name as ``console.app.STARTUP_PROBE_ENV`` (not imported: the bench stays light)."""

BASELINE = """
import os, sys, time
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QMainWindow

class FirstPaint(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print(f"{time.time():.6f}", flush=True)
            os._exit(0)
        return False

app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setWindowTitle("Console DMP")
probe = FirstPaint(window)
window.installEventFilter(probe)
window.show()
sys.exit(app.exec())
"""

TIMEOUT_S = 60.0


def _child_env(config_home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env[STARTUP_PROBE_ENV] = "1"
    # A throwaway config dir: the bench never touches the user's preferences.
    env["XDG_CONFIG_HOME"] = str(config_home)
    env.pop("SOFTHSM2_CONF", None)
    return env


def _time_child(argv: list[str], env: dict[str, str]) -> float:
    start = time.time()
    done = subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"{argv[1:]} exited with {done.returncode} without printing its paint time:\n"
            f"{done.stderr[-2000:]}"
        )
    return float(lines[-1]) - start


def run(quick: bool = False) -> None:
    """Time both starts (5 runs each, 3 with `quick`, after one warm-up each)."""
    runs = 3 if quick else 5
    ours_argv = [sys.executable, "-m", "console", "--pkcs11-module", "/nonexistent/pkcs11.so"]
    bare_argv = [sys.executable, "-c", BASELINE]
    ours: list[float] = []
    bare: list[float] = []
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as tmp:
        env = _child_env(Path(tmp))
        note(f"startup: warming up, then {runs} runs of each")
        _time_child(bare_argv, env)
        _time_child(ours_argv, env)
        for _ in range(runs):
            bare.append(_time_child(bare_argv, env))
            ours.append(_time_child(ours_argv, env))
    emit(
        "startup",
        "login_window",
        runs,
        statistics.median(ours),
        statistics.median(bare),
        ours_runs_s=[round(t, 3) for t in ours],
        baseline_runs_s=[round(t, 3) for t in bare],
    )


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
