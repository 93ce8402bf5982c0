"""Shared by the benchmark scripts: single-threaded numeric libraries, a timed model, provenance, formatting.

Import this module before numpy (``import _common`` at the top of a script run as ``python bench/x.py``):
it sets the thread counts of BLAS / OpenMP so that timings are per core.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

for _var in (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "BLIS_NUM_THREADS",
):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402 - after the thread counts

ROOT = Path(__file__).resolve().parents[1]


class TimedModel:
    """One score per record from ``f``; counts the time spent in the model, the rows scored and the calls."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.reset()

    def reset(self) -> None:
        self.seconds = 0.0
        self.rows = 0
        self.calls = 0

    def __call__(self, x: Any) -> np.ndarray:
        t0 = time.perf_counter()
        out = np.asarray(self.f(np.asarray(x, dtype=np.float64)), dtype=np.float64).reshape(-1)
        self.seconds += time.perf_counter() - t0
        self.rows += len(out)
        self.calls += 1
        return out


def source_info(watched: Sequence[str], hashed: Iterable[Path]) -> dict[str, Any]:
    """Which code was measured: git HEAD, whether the ``watched`` paths differ from it, file hashes."""
    info: dict[str, Any] = {}
    try:
        info["git_head"] = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", *watched], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        info["src_dirty"] = bool(status.strip())
    except (OSError, subprocess.CalledProcessError):
        info["git_head"] = "unknown"
    src = ROOT / "src" / "openclarify"
    info["sha256"] = {
        str(p.relative_to(src)): hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in hashed if p.is_file()
    }
    return info


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def environment(packages: Sequence[str], **extra: Any) -> dict[str, Any]:
    """Python, package versions, the machine and the thread settings."""
    return {
        "python": sys.version.split()[0],
        **{p: version(p) for p in packages},
        **extra,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
    }


def fmt(v: Any, digits: int = 4, missing: str = "nan") -> str:
    """A number for a markdown table: ``digits`` significant digits, scientific when tiny or huge."""
    if isinstance(v, str):
        return v
    if v is None or v != v:
        return missing
    if v == 0:
        return "0"
    if abs(v) < 1e-3 or abs(v) >= 1e5:
        return f"{v:.1e}"
    return f"{v:.{digits}g}"
