"""Helpers of the tests that compare a job through `openclarify serve` with the same job in process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx

# Worker processes import scikit-learn and friends: every wait below polls until a generous deadline.
DEADLINE = 180.0


def wait_until_ready(url: str, seconds: float = 60) -> None:
    """Wait until ``url``'s ``/ping`` answers 200 (the model loaded), or fail the test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url}/ping never answered 200")


def job_files(root: Path) -> dict[str, bytes]:
    """Every file of an output folder but the run's facts (time, the model named by path or URL) and the
    reports that show them."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "run_summary.json" and not p.name.startswith(("report.", "."))
    }


class ServeCommand:
    """``openclarify serve`` in a subprocess on a port the OS picks (read back from uvicorn's log)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log_path = log
        self._log = log.open("w+")
        environment = {**os.environ, "SAGEMAKER_BIND_TO_PORT": "0", **(env or {})}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "openclarify", "serve", *args], stdout=self._log, stderr=self._log, env=environment
        )
        self.url = f"http://127.0.0.1:{self._port()}"

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for(self, what: str, condition, deadline: float = DEADLINE):
        end = time.monotonic() + deadline
        while True:
            found = condition()
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited ({self.process.returncode}) before {what}:\n{self.log()}")
            if time.monotonic() > end:
                raise AssertionError(f"no {what} within {deadline:g}s:\n{self.log()}")
            time.sleep(0.02)

    def _port(self) -> int:
        found = self.wait_for("port in the log", lambda: re.search(r"running on http://127\.0\.0\.1:(\d+)", self.log()))
        return int(found.group(1))

    def loaded(self) -> int:
        return self.log().count("loaded in")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:  # pragma: no cover - should not happen
            self.process.kill()
            self.process.wait()
        self._log.close()
        return self.process.returncode


def wait_ready_on(command: ServeCommand) -> None:
    def ping() -> bool:
        try:
            return httpx.get(command.url + "/ping", timeout=10).status_code == 200
        except httpx.TransportError:
            return False

    command.wait_for("200 from /ping", ping)
