"""The headless-Chromium test harness (tests/support/browser.py) on tiny HTML files.

Skips without Chromium, fails instead when OPENCLARIFY_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.browser import HeadlessChromium, require_chromium

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def browser() -> Iterator[HeadlessChromium]:
    with HeadlessChromium(require_chromium()) as b:
        yield b


def write(tmp_path: Path, body: str, title: str = "t") -> Path:
    page = tmp_path / "page.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'>"
                    f"<meta name='viewport' content='width=device-width'><title>{title}</title></head>"
                    f"<body>{body}</body></html>", encoding="utf-8")  # fmt: skip
    return page


def png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == PNG_SIGNATURE
    width, height = struct.unpack(">II", png[16:24])  # IHDR: the first chunk
    return width, height


def test_console_error_is_reported(browser: HeadlessChromium, tmp_path: Path) -> None:
    page = browser.open(write(tmp_path, "<script>console.log('hi', 1); console.error('boom')</script>"))
    assert ("log", "hi 1") in page.console
    assert ("error", "boom") in page.console
    assert any("boom" in e for e in page.errors), page.errors


def test_uncaught_exception_is_reported(browser: HeadlessChromium, tmp_path: Path) -> None:
    page = browser.open(write(tmp_path, "<script>throw new TypeError('kaput')</script>"))
    assert any("TypeError: kaput" in e for e in page.errors), page.errors


def test_clean_page_has_no_errors_and_a_screenshot_of_the_requested_width(
    browser: HeadlessChromium, tmp_path: Path
) -> None:
    path = write(tmp_path, "<h1>Hello</h1><p>No scripts here.</p>")
    page = browser.open(path, width=800, height=600)
    assert page.errors == []
    assert page.console == []
    assert png_size(page.screenshot_png) == (800, 600)
    assert page.network_requests == [path.resolve().as_uri()]  # nothing but the page itself
    tall = browser.open(write(tmp_path, "<div style='height:2000px'>tall</div>"), width=400, height=300)
    assert png_size(tall.screenshot_png)[0] == 400
    assert png_size(tall.screenshot_png)[1] >= 2000  # full page, not just the viewport


def test_evaluate_returns_values_and_raises_on_errors(browser: HeadlessChromium, tmp_path: Path) -> None:
    browser.open(write(tmp_path, "<p>x</p>", title="Report title"), mobile=True, width=390)
    assert browser.evaluate("document.title") == "Report title"
    assert browser.evaluate("({a: [1, 2], w: window.innerWidth})") == {"a": [1, 2], "w": 390}
    assert browser.evaluate("Promise.resolve(42)") == 42
    with pytest.raises(RuntimeError, match="nope"):
        browser.evaluate("(() => { throw new Error('nope') })()")


def test_network_requests_are_recorded(browser: HeadlessChromium, tmp_path: Path) -> None:
    page = browser.open(write(tmp_path, "<img src='http://example.invalid/x.png'>"))
    assert "http://example.invalid/x.png" in page.network_requests
    assert any("example.invalid" in e for e in page.errors), page.errors  # offline: the load fails at once


def test_missing_browser_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    import support.browser as support_browser

    monkeypatch.setattr(support_browser, "chromium_path", lambda: None)
    monkeypatch.delenv("OPENCLARIFY_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_chromium()
    monkeypatch.setenv("OPENCLARIFY_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="OPENCLARIFY_REQUIRE_BROWSER=1"):
        require_chromium()


def test_a_browser_that_never_listens_fails_clearly_and_cleans_up(tmp_path: Path) -> None:
    fake = tmp_path / "fake-chromium"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    fake.chmod(0o755)
    browser = HeadlessChromium(str(fake), startup_timeout=5)
    with pytest.raises(RuntimeError, match=r"(?s)exit status 3.*cannot open display"), browser:
        pass
    assert browser._profile is None and browser._proc is None
