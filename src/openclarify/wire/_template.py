"""Clarify's ``record_template`` (and the JSON Lines ``content_template``): one record's JSON from its cells."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

from ..errors import ConfigError
from ._cells import json_text

__all__ = ["RecordTemplate"]

_RECORD_PLACEHOLDER: Final = re.compile(
    r'"\$\{(?P<quoted>[^}]*)\}"|\$\{(?P<bare>[^}]*)\}|\$(?P<kind>features_kvp|feature_names|features)(?![A-Za-z0-9_])'
)


class RecordTemplate:
    """A ``record_template`` (or JSON Lines ``content_template``) cut into text and placeholders once.

    Placeholders: ``$features`` (JSON array of the values), ``$feature_names`` (JSON array of the
    names), ``$features_kvp`` (JSON object name -> value) and ``"${name}"`` (one value; the quotes are
    part of the placeholder). Filling never rescans substituted text, so a value that reads
    ``$features`` stays as it is.
    """

    def __init__(self, template: str, feature_names: Sequence[str], *, compact: bool, path: str) -> None:
        self._item, colon = (",", ":") if compact else (", ", ": ")
        names = list(feature_names)
        # "key": prefixes of $features_kvp, as json.dumps writes them.
        self._keys = [json_text(name) + colon for name in names]
        position = {name: i for i, name in enumerate(names)}
        self._parts: list[str | tuple[str, int]] = []
        last = 0
        for match in _RECORD_PLACEHOLDER.finditer(template):
            self._parts.append(template[last : match.start()])
            last = match.end()
            name = match.group("quoted") if match.group("quoted") is not None else match.group("bare")
            if name is None:
                self._parts.append((match.group("kind"), -1))
                continue
            if name not in position:
                raise ConfigError(
                    f"placeholder ${{{name}}} names no feature; got {template!r}. "
                    f"The features are {names[:20]!r}{' ...' if len(names) > 20 else ''}.",
                    path=path,
                )
            self._parts.append(("value", position[name]))
        self._parts.append(template[last:])
        self._names_json = "[" + self._item.join(json_text(name) for name in names) + "]"

    def render(self, cells: Sequence[str]) -> str:
        """The record whose values, already JSON-encoded, are ``cells``."""
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            kind, index = part
            if kind == "features":
                out.append("[" + self._item.join(cells) + "]")
            elif kind == "feature_names":
                out.append(self._names_json)
            elif kind == "features_kvp":
                out.append("{" + self._item.join(k + c for k, c in zip(self._keys, cells, strict=True)) + "}")
            else:
                out.append(cells[index])
        return "".join(out)
