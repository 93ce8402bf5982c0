"""The live explanation page of ``openclarify serve``: ``GET /``, its script and its style sheet."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = ["CONTENT_SECURITY_POLICY", "page_routes"]

# Only the server's own script, style sheet and API: no inline script or style, no other origin, no
# framing. The page builds its DOM from data with textContent, so escaping never depends on a template.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_COMMON_HEADERS: Final = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
_HTML_HEADERS: Final = {
    **_COMMON_HEADERS,
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
}
# route path -> (file under serving/page/, media type)
_ASSETS: Final = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/page/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/page/app.css": ("app.css", "text/css; charset=utf-8"),
}


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    media_type: str
    etag: str


@functools.cache
def _asset(path: str) -> _Asset:
    """The file behind ``path``, read from the package once per process."""
    name, media_type = _ASSETS[path]
    body = resources.files("openclarify.serving").joinpath("page", name).read_bytes()
    return _Asset(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


async def _serve_asset(request: Request) -> Response:
    asset = _asset(request.url.path)
    headers = {**(_HTML_HEADERS if asset.media_type.startswith("text/html") else _COMMON_HEADERS), "ETag": asset.etag}
    # no-cache: the browser asks again each time, and gets 304 while the package is the same version
    if asset.etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


async def _favicon(request: Request) -> Response:
    # answered so that browsers, which ask for it unprompted, log no 404
    return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})


def page_routes() -> list[Route]:
    """The routes of the live explanation page: ``GET /``, ``/page/app.js``, ``/page/app.css``, ``/favicon.ico``.

    The page is a client of ``POST /invocations`` like any other: it reads ``GET /explainer`` to build a
    form for one record, posts the record as CSV with explanations enabled and draws the answer. Every
    asset comes from the package (no network), with a strict Content-Security-Policy on the HTML.
    """
    routes = [Route(path, _serve_asset, methods=["GET"]) for path in _ASSETS]
    return [*routes, Route("/favicon.ico", _favicon, methods=["GET"])]
