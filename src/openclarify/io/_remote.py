"""URLs (``s3://bucket/key``, ``memory://...``) through fsspec, imported only when a URL is used."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import MissingDependencyError

_EXTRA_HINT = "pip install 'openclarify[s3]'"
# protocols whose fsspec implementation the 's3' extra installs
_S3_PROTOCOLS = ("s3", "s3a")


def is_url(location: str) -> bool:
    """Whether ``location`` names a URL (``scheme://...``) rather than a local path."""
    return "://" in location


def _missing(url: str, package: str, protocol: str) -> MissingDependencyError:
    hint = _EXTRA_HINT if package in ("fsspec", "s3fs") or protocol in _S3_PROTOCOLS else f"pip install {package}"
    return MissingDependencyError(
        f"reading {url!r} needs the optional dependency {package!r}. Install it with: {hint}."
    )


def _import_fsspec(url: str, protocol: str) -> Any:
    try:
        import fsspec.core
    except ImportError as exc:
        raise _missing(url, "fsspec", protocol) from exc
    return fsspec


def filesystem(url: str) -> tuple[Any, str]:
    """The fsspec filesystem holding ``url`` and the path of ``url`` in it.

    Raises
    ------
    MissingDependencyError
        fsspec, or the package implementing the URL's protocol (s3fs for ``s3://``), is not installed.
    ValueError
        fsspec knows no filesystem for the URL's protocol.
    """
    protocol = url.split("://", 1)[0]
    fsspec = _import_fsspec(url, protocol)
    from fsspec.registry import known_implementations, registry

    if "::" not in protocol:  # a chained URL ("simplecache::s3://...") is left to fsspec
        known = known_implementations.get(protocol)
        if known is None and protocol not in registry:
            raise ValueError(f"unknown URL protocol {protocol!r}")
        if known is not None:
            # Import the implementation's module here, even when fsspec has it registered, so that a
            # missing package is reported by its name (fsspec says "Install s3fs to access S3").
            module = known["class"].rsplit(".", 1)[0]
            try:
                importlib.import_module(module)
            except ImportError as exc:
                raise _missing(url, exc.name or module.split(".")[0], protocol) from exc
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        cause = exc.__cause__
        name = getattr(cause, "name", None) or exc.name or protocol
        raise _missing(url, name, protocol) from exc
    return fs, str(path)
