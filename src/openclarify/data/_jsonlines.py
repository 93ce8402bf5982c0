"""``application/jsonlines`` datasets: one JSON object per line, columns picked by JMESPath expressions."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from openclarify.data._columns import Chunk, Layout, is_numeric, resolve, where_lines
from openclarify.data._columns import excluded_refs as _excluded_refs
from openclarify.data._dataset import DatasetSchema, make_schema
from openclarify.data._source import Source, utf8_error
from openclarify.errors import DataError

_PEEK_ROWS = 1000
_FIX_VALUE = "Fix the value, or list the feature in 'excluded_columns'."


def compile_path(key: str, expression: object) -> Any:
    """Compile a JMESPath expression from the config, or raise a DataError naming ``key``."""
    if not isinstance(expression, str):
        raise DataError(
            f"{key}: must be a JMESPath expression (a string) for JSON Lines data; got {expression!r}. "
            "For example 'features' or 'data.label'."
        )
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        message = str(exc).splitlines()[0]
        raise DataError(f"{key}: not a valid JMESPath expression; got {expression!r}. {message}.") from exc


class _DuplicateKey(Exception):
    def __init__(self, key: str, times: int) -> None:
        super().__init__(key, times)
        self.key, self.times = key, times


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a dict, or :class:`_DuplicateKey` when a key repeats (JSON would keep the last)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [key for key, _ in pairs]
        key = next(k for k in keys if keys.count(k) > 1)
        raise _DuplicateKey(key, keys.count(key))
    return result


# A Python hook per object costs about 7% of parsing; it makes a repeated key an error instead of a
# silently dropped value.
_DECODER = json.JSONDecoder(object_pairs_hook=_object_pairs)


def json_lines(source: Source, where: str = "dataset") -> Iterator[tuple[int, Any]]:
    """Yield ``(line, value)`` per non-blank line; ``line`` is 1-based.

    Raises
    ------
    DataError
        A line that is not one JSON value, gives a key twice in an object, or nests arrays and objects
        too deeply for the JSON reader.
    """
    with source.open() as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                text = raw.decode("utf-8").lstrip("\ufeff")
            except UnicodeDecodeError:
                raise utf8_error(source, where) from None
            if not text.strip():
                continue
            at = f"{where} {source.name!r} line {number}"
            try:
                value = _DECODER.decode(text)
            except json.JSONDecodeError as exc:
                raise DataError(
                    f"{at}: not valid JSON ({exc.msg}, column {exc.colno}); "
                    f"got {text.strip()[:80]!r}. Write one JSON object per line."
                ) from None
            except _DuplicateKey as exc:
                raise DataError(
                    f"{at}: duplicate key in a JSON object; got {exc.key!r} {exc.times} times. JSON keeps only "
                    "the last one: remove the others."
                ) from None
            except RecursionError:
                raise DataError(
                    f"{at}: nested too deeply for the JSON reader; got {text.strip()[:80]!r}. Write records "
                    "with fewer arrays and objects inside one another."
                ) from None
            except ValueError as exc:  # an integer of more than 4300 digits
                raise DataError(f"{at}: not valid JSON ({exc}); got {text.strip()[:80]!r}.") from None
            yield number, value


def feature_values(found: object, where: str, expression: str, n_features: int | None) -> list[Any]:
    """Check that a ``features`` JMESPath result is a flat list (of ``n_features`` values when given)."""
    if (
        isinstance(found, list)
        and found
        and (n_features is None or len(found) == n_features)
        and not any(isinstance(v, list | dict) for v in found)
    ):
        return found
    size = "a non-empty" if n_features is None else f"{n_features} values in a"
    raise DataError(
        f"{where}: the 'features' expression {expression!r} must give {size} flat list; got {found!r}. "
        "Fix the record or the expression."
    )


@dataclass(frozen=True, slots=True)
class _JsonLinesReader:
    sources: tuple[Source, ...]
    features: Any  # compiled JMESPath expressions
    extras: tuple[Any, ...]  # label and/or join source, in Layout order
    expression: str
    layout: Layout
    n_features: int

    def record(self, source: Source, line: int, value: Any) -> list[Any]:
        where = f"dataset {source.name!r} line {line}"
        found = self.features.search(value)
        row = feature_values(found, where, self.expression, self.n_features)
        return [*row, *(path.search(value) for path in self.extras)]

    def __call__(self, chunksize: int) -> Iterator[Chunk]:
        for source in self.sources:
            records = ((line, self.record(source, line, value)) for line, value in json_lines(source))
            while batch := list(itertools.islice(records, chunksize)):
                lines = [line for line, _ in batch]
                columns = list(zip(*(row for _, row in batch), strict=True))
                yield self.layout.split(columns, where_lines(f"dataset {source.name!r}", lines), _FIX_VALUE)


def open_jsonlines(
    name: str,
    sources: Sequence[Source],
    *,
    headers: Sequence[str] | None,
    features: str | None,
    refs: dict[str, int | str | None],
    excluded: Sequence[int | str] | None,
) -> tuple[DatasetSchema, Callable[[int], Iterator[Chunk]]]:
    """Peek at the JSON Lines file(s): feature count and types; return the schema and the reader."""
    if features is None:
        raise DataError(
            "features: required for dataset_type 'application/jsonlines'; got None. Set it to the JMESPath "
            "expression that gives each line's feature list, e.g. 'features'."
        )
    paths = {key: compile_path(key, ref) for key, ref in refs.items() if ref is not None}
    extras = [key for key in ("label", "joinsource_name_or_index", "predicted_label") if key in paths]
    feature_path = compile_path("features", features)
    n: int | None = None
    peek: list[list[Any]] = []
    for source in sources:
        for line, value in itertools.islice(json_lines(source), _PEEK_ROWS - len(peek)):
            where = f"dataset {source.name!r} line {line}"
            row = feature_values(feature_path.search(value), where, features, n)
            n = len(row)
            peek.append([*row, *(paths[key].search(value) for key in extras)])
        if len(peek) >= _PEEK_ROWS:
            break
    if n is None:
        raise DataError(f"dataset {name!r}: is empty; got no JSON line. Point the dataset at a file with data.")
    if headers is not None and len(headers) < n:
        raise DataError(
            f"headers: must name the {n} features (then the label); got {list(headers)!r}. List one name per feature."
        )
    names = list(headers[:n]) if headers is not None else [f"column_{j}" for j in range(n)]
    label = refs.get("label")
    label_name = headers[n] if headers is not None and len(headers) > n else label
    extra_names = {
        "label": label_name,
        "joinsource_name_or_index": refs.get("joinsource_name_or_index"),
        "predicted_label": refs.get("predicted_label"),
    }
    all_names = tuple([*names, *(str(extra_names[key]) for key in extras)])
    columns = list(zip(*peek, strict=True))
    text = [not is_numeric(columns[j]) for j in range(n + len(extras))]
    if "joinsource_name_or_index" in extras:
        text[n + extras.index("joinsource_name_or_index")] = True
    dropped = {resolve(key, ref, names) for key, ref in _excluded_refs(excluded)}
    layout = Layout(
        all_names,
        tuple(text),
        tuple(j for j in range(n) if j not in dropped),
        n if "label" in extras else None,
        n + extras.index("joinsource_name_or_index") if "joinsource_name_or_index" in extras else None,
        n + extras.index("predicted_label") if "predicted_label" in extras else None,
    )
    if not layout.features:
        raise DataError(
            f"excluded_columns: excludes every feature; got {list(excluded or [])!r}. Exclude fewer columns."
        )
    reader = _JsonLinesReader(tuple(sources), feature_path, tuple(paths[key] for key in extras), features, layout, n)
    return make_schema(layout, [*names, *([str(label_name)] if label is not None else [])]), reader
