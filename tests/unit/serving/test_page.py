"""The live page's routes: media types, caching and security headers, and what its assets may not contain."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from openclarify.serving import background_server
from openclarify.serving._page import CONTENT_SECURITY_POLICY, page_routes

ROOT = Path(__file__).resolve().parents[3]
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
ASSETS = [
    pytest.param("/", "text/html; charset=utf-8", "index.html", id="html"),
    pytest.param("/page/app.js", "text/javascript; charset=utf-8", "app.js", id="js"),
    pytest.param("/page/app.css", "text/css; charset=utf-8", "app.css", id="css"),
]


def _asset(name: str) -> str:
    return resources.files("openclarify.serving").joinpath("page", name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def client():
    with background_server(Starlette(routes=page_routes())) as url, httpx.Client(base_url=url, timeout=10) as c:
        yield c


def test_routes_are_the_page_and_its_assets():
    assert [(r.path, sorted(r.methods or ())) for r in page_routes()] == [
        ("/", ["GET", "HEAD"]),
        ("/page/app.js", ["GET", "HEAD"]),
        ("/page/app.css", ["GET", "HEAD"]),
        ("/favicon.ico", ["GET", "HEAD"]),
    ]


@pytest.mark.parametrize(("path", "media_type", "name"), ASSETS)
def test_each_asset_is_served_from_the_package_with_its_media_type(client, path, media_type, name):
    r = client.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == media_type
    assert r.text == _asset(name)
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(r'"[0-9a-f]{32}"', r.headers["etag"])
    head = client.head(path)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == r.headers["etag"]


@pytest.mark.parametrize(("path", "media_type", "name"), ASSETS)
def test_an_unchanged_asset_is_answered_304(client, path, media_type, name):
    etag = client.get(path).headers["etag"]
    r = client.get(path, headers={"if-none-match": f'"other", {etag}'})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag and r.headers["cache-control"] == "no-cache"
    assert client.get(path, headers={"if-none-match": '"other"'}).status_code == 200


def test_the_html_has_a_strict_content_security_policy(client):
    r = client.get("/")
    assert CONTENT_SECURITY_POLICY == CSP
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["referrer-policy"] == "no-referrer"
    for path in ("/page/app.js", "/page/app.css"):  # sub-resources need no policy of their own
        assert "content-security-policy" not in client.get(path).headers


def test_favicon_is_no_content_so_browsers_log_no_404(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 204 and r.content == b""


def test_other_paths_are_not_found_and_only_get_is_allowed(client):
    assert client.get("/page/missing.js").status_code == 404
    assert client.get("/page/").status_code == 404
    assert client.post("/", content=b"x").status_code == 405


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.data: dict[str, list[str]] = {}
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if self._open and self._open[-1] == tag:
            self._open.pop()

    def handle_data(self, data):
        if self._open:
            self.data.setdefault(self._open[-1], []).append(data)


def test_the_html_loads_one_same_origin_script_and_style_sheet_and_nothing_inline():
    page = _Elements()
    page.feed(_asset("index.html"))
    tags = [tag for tag, _ in page.elements]
    scripts = [attrs for tag, attrs in page.elements if tag == "script"]
    assert scripts == [{"src": "page/app.js", "defer": None}]
    assert "".join(page.data.get("script", [])).strip() == ""  # no inline script
    assert [a for t, a in page.elements if t == "link"] == [{"rel": "stylesheet", "href": "page/app.css"}]
    assert "style" not in tags
    for tag, attrs in page.elements:
        assert "style" not in attrs, tag  # CSP style-src 'self' forbids style attributes
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    viewport = [a for t, a in page.elements if t == "meta" and a.get("name") == "viewport"]
    assert viewport == [{"name": "viewport", "content": "width=device-width, initial-scale=1"}]
    ids = [attrs["id"] for _, attrs in page.elements if "id" in attrs]
    assert len(ids) == len(set(ids))
    alert = [a for t, a in page.elements if a.get("id") == "alert"]
    assert alert and alert[0]["role"] == "alert"
    assert "Explain" in "".join(page.data.get("button", []))


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(r"innerHTML|outerHTML|insertAdjacentHTML|createContextualFragment|DOMParser", id="html-parsing"),
        pytest.param(r"\beval\s*\(|new\s+Function|setTimeout\s*\(\s*[\"'`]|setInterval", id="eval"),
        pytest.param(r"document\.write", id="document-write"),
        pytest.param(r"setAttribute\(\s*[\"']style|\.cssText|setAttribute\(\s*[\"']on|\.on[a-z]+\s*=", id="inline"),
        pytest.param(r"localStorage|sessionStorage|document\.cookie|XMLHttpRequest|WebSocket|import\(", id="state"),
    ],
)
def test_the_script_builds_the_dom_without_parsing_data(pattern):
    found = re.findall(pattern, _asset("app.js"))
    assert found == []


def test_the_script_uses_only_the_servers_own_api():
    js = _asset("app.js")
    assert sorted(set(re.findall(r"fetch\(\s*\"([^\"]*)\"", js))) == ["explainer", "invocations"]
    assert len(re.findall(r"\bfetch\(", js)) == 2


@pytest.mark.parametrize("name", ["index.html", "app.js", "app.css"])
def test_no_asset_reaches_another_origin(name):
    text = _asset(name)
    assert re.findall(r"(?i)\b(?:https?|wss?|ftp):|//[a-z0-9.-]+\.[a-z]{2,}/", text) == []
    assert "@import" not in text and "url(" not in text


def test_the_assets_ship_with_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    section = pyproject.split("[tool.setuptools.package-data]", 1)[1].split("\n[", 1)[0]
    (line,) = (line for line in section.splitlines() if line.startswith("openclarify = "))
    assert '"serving/page/*"' in line
    shipped = {p.name for p in (ROOT / "src" / "openclarify" / "serving" / "page").iterdir()}
    assert shipped == {"index.html", "app.js", "app.css"}
