"""Every element and attribute of an HTML document, as a browser's tokenizer sees them (report tests)."""

from __future__ import annotations

from html.parser import HTMLParser


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(html: str) -> list[tuple[str, dict[str, str | None]]]:
    """``(tag, attributes)`` of every start tag of ``html``, in document order."""
    parser = _Elements()
    parser.feed(html)
    return parser.tags
