"""Writing: the atomic write of one local file, and the check that an output location is local.

Writing to a URL (``--output s3://bucket/prefix/``) is to be implemented here: stage locally, then upload
each file and a completion marker last (docs: scale-pipelines-online.md section 3). Until then
:func:`local_path` refuses a URL with one clear error.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from ..errors import OutputError
from ._remote import is_url


def local_path(location: str | os.PathLike[str], what: str = "output folder") -> Path:
    """The local path of an output location (``what`` names it in the message).

    Raises
    ------
    OutputError
        ``location`` is a URL: openclarify writes only local files so far.
    """
    text = os.fspath(location)
    if is_url(text):
        scheme = text.split("://", 1)[0]
        raise OutputError(
            f"{what} '{text}': writing to {scheme}:// URLs is not supported yet. Write to a local folder, then "
            "copy it there (for example with 'aws s3 sync')."
        )
    return Path(location)


def write_atomic(path: str | os.PathLike[str], data: bytes, *, scratch: str | os.PathLike[str] | None = None) -> None:
    """Write ``data`` to ``path`` atomically: a file in ``scratch`` (default: ``path``'s folder), synced
    to disk, renamed over ``path``. It gets the umask's permissions, as every other file written.

    Readers of ``path`` see the old content or the new one, never a part; if writing fails (or is
    interrupted), the temporary file is removed and ``path`` is left as it was. ``scratch`` must be on
    the same file system as ``path``.

    Raises
    ------
    OSError
        The file cannot be written (the exception of ``open``, ``write``, ``fsync`` or ``os.replace``).
    OutputError
        ``path`` is a URL.
    """
    target = local_path(path, "output file")
    tmp = (Path(scratch) if scratch is not None else target.parent) / f".openclarify-{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
