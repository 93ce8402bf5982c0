"""Where an answer holds its scores and labels: ``predictor.probability`` / ``predictor.label`` compiled once.

Precedence (clarify-spec §4.3): ``probability`` if set, else ``label``, else the whole CSV row / JSON
Lines line / JSON item. CSV selectors are column indexes; JSON selectors are JMESPath expressions; an
integer selector with a JSON type indexes the record's list.
"""

from __future__ import annotations

from typing import Any

import jmespath

from ..errors import ConfigError
from ._base import PredictorFields, ResponseFormatError, short

__all__ = ["Selector"]


def _field_name(expression: Any) -> str | None:
    """The key when a compiled JMESPath expression is a bare field (``prob``), which ``dict.get`` finds
    exactly as JMESPath does; ``None`` for anything else."""
    tree = getattr(expression, "parsed", None)
    if isinstance(tree, dict) and tree.get("type") == "field" and not tree.get("children"):
        value = tree.get("value")
        return value if isinstance(value, str) else None
    return None


class Selector:
    """The score selector (``index`` for CSV or an integer, ``path`` for JMESPath) and, when ``label`` is
    set next to ``probability``, where each record's labels are (``label_index`` / ``label_path``)."""

    def __init__(self, predictor: PredictorFields, accept_type: str) -> None:
        key = "probability" if predictor.probability is not None else "label"
        selector = predictor.probability if predictor.probability is not None else predictor.label
        self.key = key
        self.expression = selector
        self.index: int | None = None
        self.path: Any = None
        self._field: str | None = None  # the JMESPath is a bare field name: dict.get does the same, faster
        self.label_path: Any = None
        self._label_field: str | None = None
        self.label_index: int | None = None
        label = predictor.label
        if predictor.probability is not None and label is not None:
            if accept_type == "text/csv":
                if isinstance(label, int) or label.strip().isdigit():
                    self.label_index = int(label)
            elif isinstance(label, str):
                try:
                    self.label_path = jmespath.compile(label)
                except jmespath.exceptions.JMESPathError:
                    self.label_path = None
                self._label_field = _field_name(self.label_path)
        if selector is None:
            return
        if isinstance(selector, int):
            self.index = selector
        elif accept_type == "text/csv":
            if not selector.strip().isdigit():
                raise ConfigError(
                    f"must be a column index for accept_type 'text/csv'; got {selector!r}. "
                    "Give the 0-based column of the score(s) in the model's CSV answer.",
                    path=f"predictor.{key}",
                )
            self.index = int(selector)
        else:
            try:
                self.path = jmespath.compile(selector)
            except jmespath.exceptions.JMESPathError as exc:
                raise ConfigError(
                    f"is not a JMESPath expression ({exc}); got {selector!r}.", path=f"predictor.{key}"
                ) from None
            self._field = _field_name(self.path)

    @property
    def has_labels(self) -> bool:
        """Whether records may name their scores with labels."""
        return self.label_path is not None or self.label_index is not None

    def label_of(self, value: Any) -> Any:
        """The labels a JSON value holds (``label_path`` applied)."""
        if self._label_field is not None and type(value) is dict:
            return value.get(self._label_field)
        return self.label_path.search(value)

    def select(self, value: Any, where: str) -> Any:
        """The score(s) in one record's answer ``value``; ``where`` names it in the error."""
        if self.path is not None:
            if self._field is not None and type(value) is dict:
                found = value.get(self._field)
            else:
                found = self.path.search(value)
            if found is None:
                raise ResponseFormatError(f"predictor.{self.key} {self.expression!r} finds nothing in {where}")
            return found
        if self.index is not None:
            if not isinstance(value, list) or not -len(value) <= self.index < len(value):
                raise ResponseFormatError(
                    f"predictor.{self.key} is {self.index} but {where} is {short(value, 60, ensure_ascii=True)} "
                    "(not a list that long)"
                )
            return value[self.index]
        return value
