"""``--model s3://...``: the object (or prefix) downloaded into the model cache, then loaded as a local model.

The loaders of :data:`~openclarify.models._formats.MODEL_FORMATS` need files (fastText maps its file, a
Hugging Face folder is several files, joblib unpickles a path), so a URL is first copied to
``$XDG_CACHE_HOME/openclarify/models/<digest>/`` (default ``~/.cache/openclarify/models``) by
:func:`openclarify.io.cached_copy`: once per machine and version of the objects, atomically, shared by every
process that loads the same URL (the workers of a Dask cluster each resolve the URL themselves, so a worker
on another machine never needs the driver's path). Nothing removes old entries: delete the folder to free
the space.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ModelError
from ..io import cached_copy
from ._options import ModelOptions
from ._protocol import Predictor

__all__ = ["load_remote_model", "model_cache"]

# next to an object: what openclarify writes beside model.bin (labels, text normalization)
_SIBLINGS = ("openclarify-model.json",)


def model_cache() -> Path:
    """Where models given by URL are copied: ``$XDG_CACHE_HOME/openclarify/models``."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "openclarify" / "models"


def _is_python(spec: str) -> bool:
    head, sep, tail = spec.rpartition(":")
    return bool(sep and head.endswith(".py") and tail.isidentifier()) or spec.endswith(".py")


def load_remote_model(url: str, options: ModelOptions | None = None) -> Predictor:
    """Copy ``url`` into :func:`model_cache` (unless there) and load the copy as a local model; a
    :class:`ModelError` then names the URL, not the copy.

    Raises
    ------
    ModelError
        A ``file.py:function`` URL (refused), nothing at the URL, a download that failed, or the model's
        own loading error.
    MissingDependencyError
        The URL's protocol needs a package that is not installed (``s3://``: s3fs).
    """
    if _is_python(url):
        raise ModelError(
            f"--model {url!r}: a Python model is not loaded from a URL: its file imports the modules next to it, "
            "which one object does not bring. Copy its folder here (aws s3 cp --recursive) and give the local "
            "'file.py:function'."
        )
    cache = model_cache()
    try:
        local = cached_copy(url, cache, siblings=_SIBLINGS)
    except FileNotFoundError as exc:
        raise ModelError(f"--model {url!r}: {exc.strerror}; check the URI.") from None
    except ValueError as exc:  # a URL of a protocol fsspec does not know
        raise ModelError(f"--model {url!r}: cannot be read ({exc}); give a local path or an s3:// URI.") from None
    except OSError as exc:
        if exc.filename is not None and str(exc.filename).startswith(str(cache)):
            raise ModelError(
                f"--model {url!r}: cannot copy it into the model cache {str(cache)!r} ({exc.strerror or exc}). "
                "Set XDG_CACHE_HOME to a writable folder with room for the model."
            ) from None
        raise ModelError(f"--model {url!r}: cannot be downloaded ({exc.strerror or exc}).") from None
    from ._formats import load_model

    try:
        return load_model(str(local), options=options)
    except ModelError as exc:
        # the loaders name the path they were given: name the URL the user gave instead
        named = url.rstrip("/") if local.is_dir() else url
        raise ModelError(str(exc).replace(str(local), named)) from exc.__cause__
