"""Turn labelled CSV files (DBpedia's dbpedia_csv, or any text + label columns) into ``__label__`` lines."""

from __future__ import annotations

import csv
import os
import re
import secrets
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError, OutputError
from ..text import TEXT_NORMALIZATIONS, TextNormalization, normalize_texts
from ._fasttext import LABEL_PREFIX

__all__ = ["PrepareResult", "prepare_dbpedia", "prepare_labeled_text"]

_BATCH = 8192
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class PrepareResult:
    """The file written and how many lines of each label it holds (labels in order of first appearance)."""

    output: Path
    n_lines: int
    label_counts: tuple[tuple[str, int], ...]


def _label_token(name: str) -> str:
    """A class name as one fastText token: whitespace inside becomes ``_`` (fastText splits on it)."""
    return LABEL_PREFIX + _WHITESPACE.sub("_", name.strip())


def _one_line(texts: list[str], text_normalization: TextNormalization) -> list[str]:
    if text_normalization == "lower-tokenize":
        return normalize_texts(texts)
    return [" ".join(t.split()) for t in texts]  # one line per example: no line breaks, single spaces


def _write_lines(out_path: Path, lines: Iterable[tuple[str, str]]) -> PrepareResult:
    """Write ``(label, text)`` pairs as ``__label__<label> <text>`` lines, atomically."""
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    counts: Counter[str] = Counter()
    n_lines = 0
    try:
        if not out_path.parent.is_dir():
            out_path.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("w", encoding="utf-8", newline="\n") as f:
            for label, text in lines:
                f.write(f"{label} {text}\n")
                counts[label[len(LABEL_PREFIX) :]] += 1
                n_lines += 1
        os.replace(tmp, out_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"output '{out_path}': cannot write it ({exc.strerror or exc}).") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return PrepareResult(output=out_path, n_lines=n_lines, label_counts=tuple(counts.items()))


def _read_classes(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"classes '{path}': file not found. Give dbpedia_csv's classes.txt (one class name a line).")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"classes '{path}': cannot read it as UTF-8 text ({exc}).") from None
    while lines and not lines[-1].strip():
        lines.pop()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            raise DataError(
                f"classes '{path}' line {i}: empty class name; got ''. "
                "Line i names class index i, so remove the empty line."
            )
    if not lines:
        raise DataError(f"classes '{path}': no class names; got an empty file.")
    return [line.strip() for line in lines]


def prepare_dbpedia(csv_path: str | Path, classes_path: str | Path, out_path: str | Path) -> PrepareResult:
    """Turn a dbpedia_csv file (``train.csv`` or ``test.csv``) into fastText ``__label__`` lines.

    Each CSV row is ``class,"title","content"`` (no header row; quoted fields may hold commas,
    doubled quotes and line breaks), where ``class`` is a 1-based index into the lines of
    ``classes.txt``. Each output line is ``__label__<ClassName> <title> <content>`` with title and
    content lower-cased and tokenized by :func:`openclarify.training.normalize_text`, as the
    SageMaker BlazingText DBpedia example prepares them (it uses nltk's tokenizer instead).
    Blank lines are skipped. The output is written under a temporary name and renamed when complete.

    Raises
    ------
    DataError
        A file is missing or unreadable, a row has other than 3 fields, or a class index is not an
        integer from 1 to the number of classes; the message names the line.
    OutputError
        The output cannot be written.
    """
    csv_path, out_path = Path(csv_path), Path(out_path)
    classes = [_label_token(name) for name in _read_classes(Path(classes_path))]
    if not csv_path.is_file():
        raise DataError(f"input '{csv_path}': file not found. Give a dbpedia_csv train.csv or test.csv.")

    def rows() -> Iterator[tuple[str, str]]:
        labels: list[str] = []
        texts: list[str] = []
        try:
            with csv_path.open(encoding="utf-8", newline="") as f:
                reader = csv.reader(f)
                while True:
                    line = reader.line_num + 1
                    try:
                        row = next(reader)
                    except StopIteration:
                        break
                    except csv.Error as exc:
                        raise DataError(f"input '{csv_path}' line {reader.line_num}: not valid CSV ({exc}).") from None
                    if not row:
                        continue
                    if len(row) != 3:
                        raise DataError(
                            f"input '{csv_path}' line {line}: expected 3 fields (class index, title, content); "
                            f"got {len(row)}: {row[:4]!r}."
                        )
                    index = row[0].strip()
                    if not index.isdigit() or not 1 <= int(index) <= len(classes):
                        raise DataError(
                            f"input '{csv_path}' line {line}: the class index must be an integer from 1 to "
                            f"{len(classes)} (the lines of the classes file); got {row[0]!r}."
                        )
                    labels.append(classes[int(index) - 1])
                    texts.append(f"{row[1]} {row[2]}")
                    if len(texts) >= _BATCH:
                        yield from zip(labels, normalize_texts(texts), strict=True)
                        labels.clear()
                        texts.clear()
        except UnicodeDecodeError as exc:
            raise DataError(f"input '{csv_path}': not UTF-8 text ({exc}).") from None
        except OSError as exc:
            raise DataError(f"input '{csv_path}': cannot read it ({exc.strerror or exc}).") from None
        yield from zip(labels, normalize_texts(texts), strict=True)

    result = _write_lines(out_path, rows())
    if result.n_lines == 0:
        out_path.unlink(missing_ok=True)
        raise DataError(f"input '{csv_path}': no rows; got an empty file.")
    return result


def prepare_labeled_text(
    csv_path: str | Path,
    out_path: str | Path,
    *,
    text_column: str,
    label_column: str,
    text_normalization: TextNormalization = "lower-tokenize",
) -> PrepareResult:
    """Turn a CSV file with a header row into ``__label__<label> <text>`` lines.

    Whitespace inside a label becomes ``_`` (a fastText label is one token). Missing text counts as
    empty text. With ``text_normalization="lower-tokenize"`` (the default) the text goes through
    :func:`openclarify.training.normalize_text`; with ``"none"`` only its line breaks and runs of
    whitespace become single spaces.

    Raises
    ------
    DataError
        The file is missing or unreadable, a column is missing, or a label is empty (the message
        names the row).
    OutputError
        The output cannot be written.
    """
    import pandas as pd

    csv_path = Path(csv_path)
    if text_normalization not in TEXT_NORMALIZATIONS:
        raise DataError(
            f"text_normalization: must be one of {', '.join(map(repr, TEXT_NORMALIZATIONS))}; "
            f"got {text_normalization!r}."
        )
    if not csv_path.is_file():
        raise DataError(f"input '{csv_path}': file not found.")
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataError(f"input '{csv_path}': cannot read it as CSV ({exc}).") from None
    for what, column in (("text_column", text_column), ("label_column", label_column)):
        if column not in frame.columns:
            raise DataError(
                f"{what}: no column {column!r} in '{csv_path}'; got columns {list(map(str, frame.columns))!r}."
            )
    labels = frame[label_column].str.strip()
    empty = labels.eq("")
    if empty.any():
        row = int(empty.to_numpy().nonzero()[0][0])
        raise DataError(
            f"input '{csv_path}' row {row + 1} (after the header): the label in column {label_column!r} is empty; "
            f"got ''. Fill in or drop the rows without a label ({int(empty.sum())} in all)."
        )
    tokens = [_label_token(x) for x in labels.tolist()]
    texts = frame[text_column].tolist()

    def rows() -> Iterator[tuple[str, str]]:
        for start in range(0, len(texts), _BATCH):
            yield from zip(
                tokens[start : start + _BATCH],
                _one_line(texts[start : start + _BATCH], text_normalization),
                strict=True,
            )

    return _write_lines(Path(out_path), rows())
