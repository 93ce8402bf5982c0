"""A real S3-compatible HTTP server on 127.0.0.1 for tests (moto's server mode), and a bucket per test.

Registered in tests/conftest.py (``pytest_plugins``), so any test may ask for the fixtures:

* ``s3_server``: the endpoint URL of one ``ThreadedMotoServer`` for the session (port chosen by the OS);
* ``s3_bucket``: a fresh, empty bucket for the test, as an :class:`S3Bucket`, with the process's AWS
  variables pointing at the server for the test's duration (``AWS_ENDPOINT_URL``, dummy credentials,
  ``AWS_DEFAULT_REGION``, ``AWS_EC2_METADATA_DISABLED``; no profile or credentials file of the user's), so no
  request can reach AWS. ``bucket.env`` holds the same variables for a subprocess.

Both skip the test when ``moto[s3]``, ``flask``, ``flask-cors`` or ``s3fs`` is not installed (the dev extra
has them). s3fs keeps one filesystem per set of options, with a listing cache: the instance cache is
cleared before and after each test, so no test sees another's listings.
"""

from __future__ import annotations

import itertools
import logging
import os
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

_COUNTER = itertools.count()


@dataclass
class S3Bucket:
    """A bucket on the test server, and helpers to put files in and read objects back."""

    name: str
    endpoint: str
    fs: Any  # s3fs.S3FileSystem
    env: dict[str, str] = field(default_factory=dict)
    """``os.environ`` with the test's AWS variables: give it to a subprocess as ``env=``."""

    def url(self, key: str = "") -> str:
        """``s3://<bucket>/<key>``."""
        return f"s3://{self.name}/{key.lstrip('/')}"

    def upload(self, local: str | os.PathLike[str], key: str) -> str:
        """Put a file at ``key``, or a folder's files (recursively, hidden ones too) under the prefix ``key``;
        returns the URL (a prefix's ends with '/')."""
        path = Path(local)
        if path.is_dir():
            prefix = f"{key.strip('/')}/".lstrip("/")
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                self.fs.put_file(str(file), f"{self.name}/{prefix}{file.relative_to(path).as_posix()}")
            self.fs.invalidate_cache()
            return self.url(prefix)
        self.fs.put_file(str(path), f"{self.name}/{key.lstrip('/')}")
        self.fs.invalidate_cache()
        return self.url(key)

    def put(self, key: str, content: bytes) -> str:
        """Write ``content`` at ``key``; returns its URL."""
        self.fs.pipe_file(f"{self.name}/{key.lstrip('/')}", content)
        self.fs.invalidate_cache()
        return self.url(key)

    def read(self, key: str) -> bytes:
        """The bytes of the object at ``key``."""
        return bytes(self.fs.cat_file(f"{self.name}/{key.lstrip('/')}"))

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        """Every object under ``prefix``, by its key relative to it."""
        self.fs.invalidate_cache()
        root = f"{self.name}/{prefix.strip('/')}".rstrip("/")
        return {str(k)[len(root) :].lstrip("/"): bytes(self.fs.cat_file(k)) for k in sorted(self.fs.find(root))}


def _require() -> Any:
    pytest.importorskip("flask", reason="the S3 test server needs flask (pip install -e '.[dev]')")
    pytest.importorskip("flask_cors", reason="the S3 test server needs flask-cors (pip install -e '.[dev]')")
    return pytest.importorskip("moto.server", reason="the S3 test server needs moto[s3] (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """The endpoint URL (``http://127.0.0.1:<port>``) of moto's S3 server, started once for the session."""
    moto_server = _require()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def s3_environment(endpoint: str, cache: str | os.PathLike[str] | None = None) -> Mapping[str, str]:
    """The AWS variables that point boto3, s3fs and pandas at ``endpoint`` with dummy credentials (and the
    model cache at ``cache``)."""
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        # never the user's profiles: a profile may name another endpoint or real credentials
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    if cache is not None:
        env["XDG_CACHE_HOME"] = os.fspath(cache)
    return env


_UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN",
          "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL_S3")  # fmt: skip


@pytest.fixture
def s3_bucket(
    s3_server: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[S3Bucket]:
    """A new, empty bucket on :func:`s3_server`, the AWS variables pointing there, and ``XDG_CACHE_HOME`` (the
    model cache) in a folder of the test's own."""
    s3fs = pytest.importorskip("s3fs", reason="s3:// needs s3fs (pip install -e '.[dev]')")
    cache = tmp_path_factory.mktemp("xdg-cache")
    for name in _UNSET:
        monkeypatch.delenv(name, raising=False)
    env = s3_environment(s3_server, cache)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()
    name = f"openclarify-test-{next(_COUNTER)}-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir(name)
    child = {k: v for k, v in os.environ.items() if k not in _UNSET}
    try:
        yield S3Bucket(name, s3_server, fs, child)
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
