"""Helpers of the tests that compare a job through `openclarify serve` with the same job in process."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path


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
