"""Run a sandbox in a child process on a free loopback port: for tests, benches, demos.

Example::

    with SandboxProcess(directory) as sandbox:
        httpx.get(f"{sandbox.url}/metadata")
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class SandboxStartError(RuntimeError):
    pass


class SandboxProcess:
    """``dmp-sandbox serve DIR`` in a child process, waited for until it answers."""

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        *,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._extra_args = extra_args
        self._env = env
        self._timeout = startup_timeout_s
        self._proc: subprocess.Popen[bytes] | None = None
        self._log = self.directory / f"sandbox-{self.port}.log"

    def start(self) -> None:
        cmd = [sys.executable, "-m", "sandbox", "serve", str(self.directory),
               "--port", str(self.port), "--exit-with-parent", *self._extra_args]  # fmt: skip
        env = {**os.environ, **(self._env or {})}
        with self._log.open("wb") as log:
            self._proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise SandboxStartError(
                    f"sandbox exited with {self._proc.returncode}:\n{self.log_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/metadata", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        self.stop()
        raise SandboxStartError(f"sandbox did not answer within {self._timeout} s")

    def log_text(self) -> str:
        try:
            return self._log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def personas(self) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = json.loads(
            (self.directory / "personas.json").read_text(encoding="utf-8")
        )
        return data

    def patients(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            (self.directory / "patients.json").read_text(encoding="utf-8")
        )
        return data
