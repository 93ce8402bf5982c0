"""Kernel SHAP for records with text: every text unit and every other feature is one player.

A record's players are, in column order, one player per tabular feature and one per unit (token,
sentence or paragraph) of each text column. Records have different numbers of players, so each record
gets its own coalition plan, but the masked records of many explained records are sent to the model
together, in calls of at most ``max_batch_rows`` records and about ``max_batch_chars`` characters, so a
fast model (fastText) is never called one record at a time and a long document never holds more than
one batch of masked texts in memory.

Memory: besides one batch of masked texts, a record holds its units as arrays, one table of text
pieces per baseline row, and its coalitions (``num_samples x players`` booleans) with the regression
over them, which grows with ``num_samples x players`` (or ``players**2`` when the budget pins every
player down). Before anything of a record is allocated, :func:`_record_bytes` estimates what it needs;
a record that needs more than the memory available (``memory_limit``, by default what the machine,
its cgroup and the address-space limit leave) stops the job with a :class:`~openclarify.errors.DataError`
that names it and says how many coalitions would fit, rather than running the machine out of memory.

The value of a coalition is the mean score over the baseline rows of the record with absent tabular
features set to the baseline row's value and absent text units replaced by the baseline row's string
for that column (clarify-spec §2.3). The value of the empty coalition depends on the record (the number
of replaced units does), so every record has its own base value; efficiency holds per record:
``phi.sum(0) == f_x - base_value``.
"""

from __future__ import annotations

import copy
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd

from .._typing import ESTIMATOR_NAMES, BoolArray, Estimator, FloatArray, IntArray, SizeAllocation
from ..errors import ApproximationWarning, ConfigError, DataError, ModelError
from ..models import Predictor, as_predictor
from ..models._protocol import batches_as_given
from ..text import Segmenter, TextMasker
from ._coalitions import CoalitionPlan, default_num_samples, plan_coalitions
from ._estimator import GP_MAX_NUM_SAMPLES, check_seed_and_budget, check_target_error
from ._game import blame_data
from ._play import THREADED_SOLVE_PLAYERS, ModelCalls, Unit, logit, play
from ._rounds import Rounds, play_rounds

__all__ = ["MAX_TEXT_NUM_SAMPLES", "TextPlayer", "TextShapResult", "kernel_shap_text", "text_value"]

# Largest budget for a text record: each coalition is a masked copy of the whole text for every baseline
# row (2**17 coalitions of a 200-token text take ~3 s per record before the model runs); the config's
# methods.shap.num_samples has the same bound with text_config.
MAX_TEXT_NUM_SAMPLES = 1 << 17
#: With ``target_error``: records whose rounds go to the model together (their masked records share calls).
ROUND_GROUP = 32

# languages written without spaces between words: a replacement is not padded with spaces there
_UNSPACED = frozenset({"zh", "ja", "th"})


class TextPlayer(NamedTuple):
    """One player of a record: a tabular feature (``start == end == -1``) or a text unit.

    ``column`` indexes the explained columns; a unit is ``text[start:end]`` of that column's text.
    """

    column: int
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class TextShapResult:
    """Local Shapley values of records with text, one entry per record.

    ``phi[i]`` has shape ``(len(players[i]), n_outputs)``; ``base_value`` and ``f_x`` have shape
    ``(n_instances, n_outputs)``; ``phi[i].sum(0) == f_x[i] - base_value[i]`` (efficiency), except for
    a record with no players at all (empty text and no other feature), whose ``phi[i]`` is empty.
    ``num_samples[i]`` coalitions were evaluated for record ``i``; ``exact[i]`` tells whether they were all
    of them. With ``use_logit`` the values are in log-odds.
    """

    phi: tuple[FloatArray, ...]
    players: tuple[tuple[TextPlayer, ...], ...]
    texts: tuple[tuple[str, ...], ...]
    base_value: FloatArray
    f_x: FloatArray
    columns: tuple[str, ...]
    text_columns: tuple[str, ...]
    num_samples: IntArray
    exact: BoolArray
    model_rows: int
    model_calls: int
    model_seconds: float
    seconds: float
    #: like ``phi``: each value's standard error (``estimator="gp"``; zeros for an exact record), else None
    stderr: tuple[FloatArray, ...] | None = None
    #: with ``target_error``: whether each record's largest standard error is at most the target (False: the
    #: budget ran out first; ``num_samples`` then says the coalitions each record used); else None
    target_met: BoolArray | None = None

    def partial_texts(self, i: int) -> list[str | None]:
        """``partial_text`` of each player of record ``i`` (None for a tabular feature)."""
        out: list[str | None] = []
        for p in self.players[i]:
            out.append(None if p.start < 0 else self.texts[i][p.column][p.start : p.end])
        return out


def text_value(value: object) -> str:
    """The string a text column holds: missing -> ``""``; a number read from the file -> its shortest form."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if np.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, np.floating):
        return text_value(float(value))
    return str(value)


@dataclass(slots=True)
class _Record:
    index: int
    players: tuple[TextPlayer, ...]
    plan: CoalitionPlan
    z: np.ndarray  # (n_coalitions + 1, n_players): the plan's coalitions, then the empty one
    maskers: dict[int, list[TextMasker]]  # text column -> one masker per baseline row
    unit_cols: dict[int, np.ndarray]  # text column -> its players' indices
    tab_cols: dict[int, int]  # tabular column -> its player index
    values: np.ndarray  # (n_coalitions + 1, n_outputs) once filled
    chars: int  # characters of one masked record
    done: int = 0
    partial: np.ndarray | None = None  # (n_base, n_outputs): one coalition scored in slices of baseline rows
    unit: Unit | None = None  # the loop's unit of this record, told when every coalition is scored
    n_outputs: int = 0
    final: bool = True  # the record's last coalitions (not a round that another may follow)


class _Batcher:
    """Collects slices of masked records of several explained records into model calls."""

    def __init__(
        self,
        predictor: Predictor,
        columns: list[str],
        text_cols: set[int],
        x_cols: list[np.ndarray],
        base_cols: list[np.ndarray],
        dtypes: Mapping[str, Any],
        max_rows: int,
        max_chars: int,
    ) -> None:
        self.predictor = predictor
        self.columns = columns
        self.text_cols = text_cols
        self.x_cols = x_cols
        self.base_cols = base_cols
        self.dtypes = dtypes
        self.max_rows = max_rows
        self.max_chars = max_chars
        self.n_base = len(base_cols[0]) if base_cols else 1
        self.pending: list[tuple[_Record, int, int, int, int]] = []
        self.rows = 0
        self.chars = 0
        self.model_seconds = 0.0
        self.model_rows = 0
        self.model_calls = 0
        self.n_outputs: int | None = None

    def predict(self, frame: pd.DataFrame) -> FloatArray:
        start = time.perf_counter()
        with batches_as_given():  # bounded by characters: no copies of a long text to fill a batch up
            scores = self.predictor.predict(frame)
        self.model_seconds += time.perf_counter() - start
        self.model_rows += len(frame)
        self.model_calls += 1
        if self.n_outputs is None:
            self.n_outputs = scores.shape[1]
        elif scores.shape[1] != self.n_outputs:
            raise ModelError(
                f"model: returned {scores.shape[1]} scores per record for one batch and {self.n_outputs} "
                "for another. Return the same number of scores for every record."
            )
        return scores

    def add(self, rec: _Record, c0: int, c1: int, b0: int, b1: int) -> None:
        """Coalitions ``c0:c1`` of ``rec`` with baseline rows ``b0:b1`` (all of them, or one coalition)."""
        rows = (c1 - c0) * (b1 - b0)
        chars = rows * rec.chars
        if self.pending and (self.rows + rows > self.max_rows or self.chars + chars > self.max_chars):
            self.flush()
        self.pending.append((rec, c0, c1, b0, b1))
        self.rows += rows
        self.chars += chars

    def _block(self, rec: _Record, c0: int, c1: int, b0: int, b1: int) -> list[Any]:
        """Per column, the masked values of coalitions c0:c1 x baseline rows b0:b1 (coalition-major)."""
        z = rec.z[c0:c1]
        nb = b1 - b0
        out: list[Any] = []
        for j in range(len(self.columns)):
            if j in self.text_cols:
                maskers = rec.maskers[j]
                zj = z[:, rec.unit_cols[j]]
                if nb == 1:
                    out.append(maskers[b0].mask(zj))
                else:
                    grid = np.empty((c1 - c0, nb), dtype=object)
                    for k in range(nb):
                        grid[:, k] = maskers[b0 + k].mask(zj)
                    out.append(grid.ravel().tolist())
            else:
                keep = z[:, rec.tab_cols[j]][:, None]
                xv = self.x_cols[j][rec.index]
                out.append(np.where(keep, xv, self.base_cols[j][None, b0:b1]).reshape(-1))
        return out

    def flush(self) -> None:
        if not self.pending:
            return
        blocks = [self._block(*item) for item in self.pending]
        data: dict[str, Any] = {}
        for j, name in enumerate(self.columns):
            if j in self.text_cols:
                col: list[str] = []
                for b in blocks:
                    col.extend(b[j])
                # object dtype: no conversion of the strings to another string type by pandas
                data[name] = pd.Series(col, dtype=object, copy=False)
                del col
            else:
                data[name] = np.concatenate([b[j] for b in blocks])
        del blocks
        frame = pd.DataFrame(data, columns=pd.Index(self.columns, dtype=object), copy=False)
        del data
        tab = {n: t for n, t in self.dtypes.items() if frame.columns.get_loc(n) not in self.text_cols}
        if tab:
            frame = frame.astype(tab)
        scores = self.predict(frame)
        del frame
        offset = 0
        nb_all = self.n_base
        for rec, c0, c1, b0, b1 in self.pending:
            nb = b1 - b0
            n = (c1 - c0) * nb
            block = scores[offset : offset + n].reshape(c1 - c0, nb, -1)
            offset += n
            if nb < nb_all:  # one coalition, a slice of the baseline rows: its mean once all are scored
                if rec.partial is None:
                    rec.partial = np.empty((nb_all, block.shape[2]))
                rec.partial[b0:b1] = block[0]
                if b1 < nb_all:
                    continue
                block = rec.partial.reshape(1, nb_all, -1)
            rec.values[c0:c1] = block[:, 0] if nb_all == 1 else block.mean(axis=1)
            rec.done += c1 - c0
            if rec.done == len(rec.z) and rec.unit is not None:
                # every coalition is scored: the texts are not needed for the regression (unless a later
                # round masks them again)
                if rec.final:
                    rec.maskers = {}
                rec.partial = None
                rec.unit.values = rec.values[None, :, : rec.n_outputs]
                rec.unit = None
                rec.z, rec.values = rec.z[:0].copy(), np.zeros((0, 0))  # the unit holds them until solved
        self.pending.clear()
        self.rows = self.chars = 0


# --- memory ---------------------------------------------------------------------------------------
# What one record holds, in bytes, measured on CPython 3.11 / numpy 2 (tests/integration/test_memory_text.py
# checks the estimate against the peak of real runs).
_PLAYER_BYTES = 200  # its TextPlayer in the result (a tuple and two ints), its span, its phi row
_PLAN_BYTES = 250  # plan_coalitions while it splits the budget: per player (one stratum per size)
_PLAN_KEPT_BYTES = 60  # the plan, kept for the records with as many players
_MASKER_UNIT_BYTES = 160  # per baseline row: two table entries, the lists they are built from, a distinct piece
_KEY_BLOCK = 1 << 21  # random keys drawn at a time by the sampler (float64, bits and ranks: 24 bytes each)
_GRAM_BLOCK = 1 << 22  # coalition rows x players turned into floats at a time for the normal equations
_GATHER = 1 << 20  # units gathered at a time by TextMasker.mask (three pointers each)
_SOLVE_BYTES = 64 << 20  # BLAS threads' buffers and the allocator's slack while a long record is solved
# Below this estimate a record is not checked against the memory available (reading it costs a few
# file reads, and every machine that runs this has that much).
_CHECK_BYTES = 1 << 28


def _n_coalitions(n_players: int, num_samples: int) -> int:
    """``plan_coalitions(n_players, num_samples).n_coalitions``, without making the plan: every pair of
    coalitions while they fit in the budget, otherwise ``num_samples`` rounded down to pairs."""
    if n_players < 2:
        return 0
    pairs = num_samples // 2
    return 2 * (pairs if n_players > 63 else min(pairs, (1 << (n_players - 1)) - 1))


def _record_bytes(
    n_players: int,
    n_coalitions: int,
    n_units: int,
    chars: int,
    n_base: int,
    n_outputs: int,
    call_chars: int,
    *,
    char_bytes: int = 4,
    planned: bool = False,
) -> int:
    """Estimated peak bytes of explaining one record (its segmentation aside).

    ``n_units`` text units among ``n_players`` players, ``chars`` characters of text (one masked record),
    ``n_coalitions`` coalitions, ``n_base`` baseline rows, ``call_chars`` characters of masked text in
    one model call, ``char_bytes`` bytes a character of them (1, 2 or 4: how CPython stores the text);
    ``planned``: a record with as many players made the coalition plan already. Four phases, each on
    top of what the record keeps throughout (its players): making the plan (one stratum per coalition
    size), drawing the coalitions, scoring them (the coalitions, the maskers, one call's masked texts
    and their gather), solving the regression (the coalitions, the design matrix or the Gram matrix).
    """
    m, c = n_players, n_coalitions
    half = c // 2
    planning = 0 if planned else _PLAN_BYTES * m
    kept = _PLAYER_BYTES * m + 8 * n_outputs * m + _PLAN_KEPT_BYTES * m
    z = (c + 1) * m
    drawing = z + z // 2 + z + 24 * min(max(_KEY_BLOCK, m), half * m)
    maskers = n_base * (_MASKER_UNIT_BYTES * n_units + 2 * chars)
    # one call's masked texts, and as much again for the frame the model gets
    gather = 24 * min(max(_GATHER, n_units), (c + 1) * n_units)
    scoring = z + maskers + gather + 2 * char_bytes * call_chars
    threads = _SOLVE_BYTES if m >= THREADED_SOLVE_PLAYERS else 0
    if m >= 2 and half >= m - 1:  # normal equations: the P x P matrix, its copies in solve, blocks of rows
        solver = 20 * m * m + 16 * min(half * m, _GRAM_BLOCK) + threads
    else:  # minimum norm: the design matrix as floats (twice) and its H x H Gram matrix
        solver = 16 * half * m + 8 * half * half + threads
    solving = z + solver + 16 * (c + 1) * max(1, n_outputs)
    return max(planning, kept + max(drawing, scoring, solving))


def _char_bytes(text: str) -> int:
    """Bytes a character of ``text`` takes in memory: 1 (Latin-1), 2 or 4 (CPython's compact strings)."""
    if not text:
        return 1
    return max(1, min(4, (sys.getsizeof(text) - sys.getsizeof("")) // len(text)))


def _read_int(path: str) -> int | None:
    try:
        with open(path, encoding="ascii") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _read_field(path: str, key: str) -> int | None:
    """The number after ``key`` in a ``key value`` file (/proc/meminfo, memory.stat), in bytes."""
    try:
        with open(path, encoding="ascii") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0].rstrip(":") == key:
                    return int(parts[1]) * (1024 if parts[-1] == "kB" else 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def _available_memory() -> int | None:
    """Bytes this process can still allocate: the least of the machine's available memory, its cgroup's
    headroom (page cache it can reclaim counted as free) and its address-space and data limits; None
    where none can be read (not Linux)."""
    found: list[int] = []
    avail = _read_field("/proc/meminfo", "MemAvailable")
    if avail is not None:
        found.append(avail)
    for limit_file, usage_file, stat_key in (
        ("memory.max", "memory.current", "inactive_file"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes", "total_inactive_file"),
    ):
        limit = _read_int(f"/sys/fs/cgroup/{limit_file}")
        usage = _read_int(f"/sys/fs/cgroup/{usage_file}")
        if limit is not None and usage is not None and limit < 1 << 60:
            stat = os.path.join(os.path.dirname(f"/sys/fs/cgroup/{limit_file}"), "memory.stat")
            found.append(limit - usage + (_read_field(stat, stat_key) or 0))
    if sys.platform.startswith("linux"):
        import resource

        for rlimit, key in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
            soft = resource.getrlimit(rlimit)[0]
            used = _read_field("/proc/self/status", key)
            if soft != resource.RLIM_INFINITY and used is not None:
                found.append(soft - used)
    return max(0, min(found)) if found else None


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"


class TextGame:
    """The value function of records with text (a :class:`~._play.Game`): one unit per record.

    :meth:`units` segments each record, checks its memory, and builds its players and maskers (the
    plan); :meth:`score` adds its masked records to the batch of model calls, which send the masked
    records of several records together. A unit's ``data`` is its :class:`_Record`.
    """

    fused: ClassVar[bool] = True  # one record at a time: every sparse stratum in one pass of keys
    one_blas_thread: ClassVar[bool] = True

    def __init__(
        self,
        predictor: Predictor,
        frame: pd.DataFrame,
        base: pd.DataFrame,
        text_idx: Sequence[int],
        seg_of: Mapping[int, Segmenter],
        *,
        num_samples: int | None,
        allocation: SizeAllocation,
        max_batch_rows: int,
        max_batch_chars: int,
        memory_limit: int | None,
        first_row: int,
        estimator: str = "kernel",
    ) -> None:
        columns = [str(c) for c in frame.columns]
        self.estimator = estimator
        self.predictor = predictor
        self.columns = columns
        self.text_idx = list(text_idx)
        self.text_set = set(text_idx)
        self.seg_of = dict(seg_of)
        self.num_samples = num_samples
        self.allocation: SizeAllocation = allocation
        self.max_batch_rows = max_batch_rows
        self.max_batch_chars = max(1, max_batch_chars)
        self.memory_limit = memory_limit
        self.first_row = first_row
        # text columns as str (missing -> ""), tabular columns as given
        self.texts = {j: [text_value(v) for v in frame.iloc[:, j].tolist()] for j in self.text_idx}
        for j in self.text_idx:
            frame[columns[j]] = pd.Series(self.texts[j], dtype=object)
            base[columns[j]] = pd.Series([text_value(v) for v in base.iloc[:, j].tolist()], dtype=object)
        self.frame = frame
        self.dtypes = {c: frame.dtypes[c] for c in columns}
        self.x_cols = [frame.iloc[:, j].to_numpy() for j in range(len(columns))]
        self.base_cols = [base.iloc[:, j].to_numpy() for j in range(len(columns))]
        self.n_base = len(base)
        self.n_outputs = 0
        self.plans: dict[int, CoalitionPlan] = {}  # shared by the records with as many players
        self.plan_weights: dict[int, FloatArray] = {}
        self.batcher = self._batcher()

    def _batcher(self) -> _Batcher:
        return _Batcher(
            self.predictor,
            self.columns,
            self.text_set,
            self.x_cols,
            self.base_cols,
            self.dtypes,
            self.max_batch_rows,
            self.max_batch_chars,
        )

    # --- the Game protocol -------------------------------------------------------------------------
    def calls(self) -> ModelCalls:
        b = self.batcher
        return ModelCalls(b.model_rows, b.model_calls, b.model_seconds)

    def count(self, calls: ModelCalls) -> None:
        self.batcher.model_rows += calls.rows
        self.batcher.model_calls += calls.calls
        self.batcher.model_seconds += calls.seconds

    def fresh(self) -> TextGame:
        game = copy.copy(self)
        game.batcher = self._batcher()
        return game

    def score(self, unit: Unit) -> None:
        """Add the masked records of ``unit``'s record to the batch, a slice of coalitions at a time."""
        rec: _Record = unit.data
        assert unit.z is not None  # noqa: S101 - the loop drew them
        rec.z = unit.z[0]
        rec.done, rec.partial, rec.final = 0, None, unit.final
        rec.values = np.zeros((len(rec.z), max(self.n_outputs, 1)))
        rec.n_outputs = self.n_outputs
        rec.unit = unit
        total, n_base = len(rec.z), self.n_base
        rows = max(1, min(self.max_batch_rows, self.max_batch_chars // rec.chars))  # masked records in one call
        if rows >= n_base:
            per_call = rows // n_base
            for c0 in range(0, total, per_call):
                self.batcher.add(rec, c0, min(total, c0 + per_call), 0, n_base)
        else:  # a long text and many baseline rows: one coalition's rows over several calls
            for c0 in range(total):
                for b0 in range(0, n_base, rows):
                    self.batcher.add(rec, c0, c0 + 1, b0, min(n_base, b0 + rows))

    def flush(self) -> None:
        self.batcher.flush()

    # --- the records ------------------------------------------------------------------------------
    def predict_records(self) -> FloatArray:
        """Scores of the explained records themselves, in calls bounded like the masked ones."""
        texts, frame, n_rows = self.texts, self.frame, len(self.frame)
        max_rows, max_chars = self.max_batch_rows, self.max_batch_chars
        f_parts: list[FloatArray] = []
        lengths = np.array([sum(len(texts[j][i]) for j in self.text_idx) for i in range(n_rows)], dtype=np.int64)
        start = 0
        while start < n_rows:
            stop, chars = start, 0
            while stop < n_rows and stop - start < max_rows and (stop == start or chars + lengths[stop] <= max_chars):
                chars += int(lengths[stop])
                stop += 1
            try:
                f_parts.append(self.batcher.predict(frame.iloc[start:stop]))
            except DataError as exc:  # a missing number the model cannot take: name the dataset record
                part = ("dataset", frame.iloc[start:stop], self.first_row + start)
                raise (blame_data(exc, self.predictor, [part]) or exc) from exc.__cause__
            start = stop
        f_x = np.concatenate(f_parts) if f_parts else np.zeros((0, 0))
        self.n_outputs = f_x.shape[1] if f_parts else 0
        return f_x

    def units(self, f_x: FloatArray) -> Iterator[Unit]:
        """One unit per record, prepared when the loop asks for it (``f_x``: the records' own values)."""
        for i in range(len(self.frame)):
            rec = self._prepare(i)
            m = len(rec.players)
            yield Unit(
                first=i,
                rows=np.array([self.first_row + i], dtype=np.int64),
                plan=rec.plan,
                weights=self.plan_weights[m],
                f_x=f_x[i : i + 1],
                base_value=None,
                data=rec,
                z=None if m >= 2 else np.zeros((1, 0, m), dtype=bool),
                estimator=self.estimator,
            )

    def _refuse(self, i: int, j: int, what: str, need: int, avail: int, got: str, fix: str) -> DataError:
        return DataError(
            f"record {self.first_row + i} (numbered from 0), column {self.columns[j]!r}: {what} needs about "
            f"{_gib(need)} of memory, more than the {_gib(avail)} available; got {got}. {fix}"
        )

    def _coarser(self, j: int) -> str:
        granularity = self.seg_of[j].granularity
        if granularity == "token":
            return "use sentence or paragraph granularity, "
        return "use paragraph granularity, " if granularity == "sentence" else ""

    def _budget(self, need: int) -> int | None:
        """The memory available when ``need`` may not fit in it; None when it surely does."""
        if self.memory_limit is not None:
            return int(self.memory_limit)
        return _available_memory() if need > _CHECK_BYTES else None

    def _prepare(self, i: int) -> _Record:
        texts, seg_of, base_cols, n_base = self.texts, self.seg_of, self.base_cols, self.n_base
        text_idx, columns, num_samples = self.text_idx, self.columns, self.num_samples
        # 1. the units of every text (bounded: spaCy sees a piece at a time), as arrays
        spans: dict[int, IntArray] = {}
        for j in text_idx:
            text = texts[j][i]
            need = seg_of[j].work_bytes(text)
            avail = self._budget(need)
            if avail is not None and need > avail:
                raise self._refuse(
                    i,
                    j,
                    f"segmenting its text of {len(text):,} characters (spaCy holds a text without line breaks, "
                    "tabs or runs of spaces whole)",
                    need,
                    avail,
                    f"granularity {seg_of[j].granularity!r}",
                    "Break the text into lines or shorter records, or use paragraph granularity.",
                )
            try:
                spans[j] = seg_of[j].spans(text)
            except DataError as exc:
                msg = str(exc).removeprefix("text: ")
                raise DataError(
                    f"record {self.first_row + i} (numbered from 0), column {columns[j]!r}: {msg}"
                ) from None
        # 2. what the record needs, checked before its plan, players, maskers and coalitions exist
        units_of = {j: len(spans[j]) for j in text_idx}
        n_units = sum(units_of.values())
        m = n_units + len(columns) - len(text_idx)
        chars = 0
        for j in text_idx:
            longest = max(len(str(base_cols[j][k])) for k in range(n_base))
            chars += len(texts[j][i]) + longest * len(spans[j])
        chars = max(1, chars)
        budget_m = default_num_samples(m) if num_samples is None else int(num_samples)
        if num_samples is None and self.estimator == "gp":  # its solve grows with the cube of the budget
            budget_m = min(budget_m, GP_MAX_NUM_SAMPLES)
        n_coal = _n_coalitions(m, budget_m)
        width = max(_char_bytes(texts[j][i]) for j in text_idx)
        width = max([width] + [_char_bytes(str(base_cols[j][k])) for j in text_idx for k in range(n_base)])
        planned = m in self.plans
        need = self._need(m, n_coal, n_units, chars, width, planned)
        avail = self._budget(need)
        if avail is not None and need > avail:
            lo, hi = 0, n_coal // 2  # the most pairs of coalitions that fit, if any
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if self._need(m, 2 * mid, n_units, chars, width, planned) <= avail else (lo, mid - 1)
            fit = 2 * lo
            j = max(text_idx, key=units_of.__getitem__)  # the text with the most units
            fix = f"Set num_samples to {fit:,} or less, " if fit >= 2 else ""
            fix += self._coarser(j) + "or split the text into shorter records."
            fix = fix[0].upper() + fix[1:]
            others = m - n_units
            what = (
                f"explaining its {m:,} players ({units_of[j]:,} {seg_of[j].granularity} units of a text of "
                f"{len(texts[j][i]):,} characters"
                + (f", {n_units - units_of[j]:,} units of its other texts" if len(text_idx) > 1 else "")
                + (f", {others:,} other feature{'s' if others > 1 else ''}" if others else "")
                + f") with {n_coal:,} coalitions"
            )
            got = f"num_samples={num_samples!r}" + (" (the default for its players)" if num_samples is None else "")
            raise self._refuse(i, j, what, need, avail, got, fix)
        # 3. the plan (shared by the records with as many players), the players, the maskers
        if not planned:
            self.plans[m] = plan_coalitions(m, budget_m, self.allocation) if m >= 1 else CoalitionPlan(0, ())
            self.plan_weights[m] = self.plans[m].weights()
        players: list[TextPlayer] = []
        unit_cols: dict[int, np.ndarray] = {}
        tab_cols: dict[int, int] = {}
        for j in range(len(columns)):
            if j in self.text_set:
                sp = spans[j]
                first = len(players)
                players.extend(map(TextPlayer, [j] * len(sp), sp[:, 0].tolist(), sp[:, 1].tolist()))
                unit_cols[j] = np.arange(first, len(players))
            else:
                tab_cols[j] = len(players)
                players.append(TextPlayer(j, -1, -1))
        maskers: dict[int, list[TextMasker]] = {}
        for j in text_idx:
            pad = seg_of[j].language not in _UNSPACED
            maskers[j] = [TextMasker(texts[j][i], spans[j], str(base_cols[j][k]), pad=pad) for k in range(n_base)]
        del spans
        empty = np.zeros((0, m), dtype=bool)
        return _Record(i, tuple(players), self.plans[m], empty, maskers, unit_cols, tab_cols, np.zeros((0, 0)), chars)

    def _need(self, m: int, c: int, n_units: int, chars: int, width: int, planned: bool) -> int:
        """Estimated bytes of a record of ``m`` players (``n_units`` of them text units) with ``c`` coalitions."""
        call = max(chars, min(self.max_batch_chars, chars * (c + 1) * self.n_base))
        return _record_bytes(m, c, n_units, chars, self.n_base, self.n_outputs, call, char_bytes=width, planned=planned)


def kernel_shap_text(
    model: Predictor | Callable[[Any], Any],
    X: pd.DataFrame,
    baseline: pd.DataFrame,
    *,
    text_columns: Sequence[str],
    segmenter: Segmenter | Mapping[str, Segmenter] | None = None,
    num_samples: int | None = None,
    seed: int | None = None,
    use_logit: bool = False,
    max_batch_rows: int = 16384,
    max_batch_chars: int = 1 << 25,
    allocation: SizeAllocation = "leverage",
    first_row: int = 0,
    progress: Callable[[int], None] | None = None,
    memory_limit: int | None = None,
    f_x: FloatArray | None = None,
    estimator: Estimator = "kernel",
    target_error: float | None = None,
) -> TextShapResult:
    """Kernel SHAP values of records with one or more text columns.

    Parameters
    ----------
    model
        A :class:`~openclarify.models.Predictor`, or a callable taking a DataFrame (text columns hold
        ``str``) and returning one score or score vector per record.
    X
        Records to explain; ``text_columns`` hold strings, the other columns are tabular features.
    baseline
        Reference rows with X's columns. In a text column the value is the string that replaces an
        absent unit (``"<UNK>"``, ``"[MASK]"``; ``""`` removes it); in the other columns it is the value
        an absent feature takes. With several rows, the value of a coalition is the mean over them.
    text_columns
        Names of the columns of X split into units.
    segmenter
        How text is split: one :class:`~openclarify.text.Segmenter` for every text column or one per
        column; default English tokens.
    num_samples
        Coalitions evaluated per record; default per record ``min(2M + 2048, 2**M - 2)`` for its M players
        (with ``estimator="gp"``, at most :data:`~._estimator.GP_MAX_NUM_SAMPLES`).
        A record with ``2**M - 2 <= num_samples`` is explained exactly. A record with more players than
        about ``num_samples / 2`` gets a minimum-norm estimate (and an :class:`ApproximationWarning`).
    seed
        Makes the result reproducible: a record's coalitions depend only on the seed, its record number
        (``first_row`` + position) and its number of players.
    use_logit
        Explain ``logit(score)``.
    max_batch_rows, max_batch_chars
        Bounds of one model call: records, and characters of text summed over them (a long document's
        masked copies are sent in several calls rather than built all at once).
    allocation
        How the sampled budget is spread over coalition sizes (``"leverage"`` or ``"kernel"``).
    first_row
        Global record number of X's first row.
    progress
        Called with the number of records finished, as they finish.
    memory_limit
        Bytes that explaining one record may take; default: the memory available when the record starts
        (the least of the machine's available memory, the cgroup's headroom and the address-space
        limit). A record estimated to need more stops the call with a :class:`DataError` before its
        coalitions are drawn (or, for a text without line breaks that spaCy would hold whole, before
        it is segmented). The estimate does not count the model's own memory.
    f_x
        The model's scores of ``X`` if already known, shape ``(n_instances, n_outputs)`` (before
        ``use_logit``); skips the model call on the records themselves.
    estimator
        ``"kernel"`` or ``"gp"`` (with standard errors), as for :func:`~._estimator.kernel_shap`.
    target_error
        With ``estimator="gp"``: sample each record in rounds until every standard error of its values is at
        most this, or its budget is spent (``_rounds.py``); ``TextShapResult.num_samples`` then holds the
        coalitions each record used and ``target_met`` whether it reached the target. The rounds of
        :data:`ROUND_GROUP` records at a time go to the model together.

    Raises
    ------
    ConfigError
        Invalid parameters.
    DataError
        A record needs more memory than ``memory_limit`` allows (the message names it, its longest text
        column and that text's size, and the ``num_samples`` that would fit), or holds a run of more than
        :data:`~openclarify.text.MAX_RUN_CHARS` characters without whitespace.
    ModelError
        The model failed or returned scores of the wrong shape.
    """
    started = time.perf_counter()
    if not isinstance(X, pd.DataFrame):
        raise ConfigError(f"must be a pandas DataFrame with named text columns; got {type(X).__name__}.", path="X")
    frame = X.reset_index(drop=True)
    columns = [str(c) for c in frame.columns]
    frame.columns = pd.Index(columns, dtype=object)
    base = baseline.reset_index(drop=True) if isinstance(baseline, pd.DataFrame) else pd.DataFrame(baseline)
    if [str(c) for c in base.columns] != columns:
        if base.shape[1] == len(columns) and not isinstance(baseline, pd.DataFrame):
            base.columns = pd.Index(columns, dtype=object)
        else:
            raise ConfigError(f"must have the columns of X {columns!r}; got {list(base.columns)!r}.", path="baseline")
    base.columns = pd.Index(columns, dtype=object)
    if len(base) == 0:
        raise ConfigError("needs at least one row; got 0.", path="baseline")
    text_idx: list[int] = []
    for name in text_columns:
        if name not in columns:
            raise ConfigError(f"unknown column {name!r}; columns are {columns!r}.", path="text_columns")
        text_idx.append(columns.index(name))
    if not text_idx:
        raise ConfigError("needs at least one text column; got none.", path="text_columns")
    text_set = set(text_idx)
    if max_batch_rows < 1:
        raise ConfigError(f"must be >= 1; got {max_batch_rows!r}.", path="max_batch_rows")
    if max_batch_chars < 1:
        raise ConfigError(f"must be >= 1; got {max_batch_chars!r}.", path="max_batch_chars")
    check_seed_and_budget(
        seed,
        num_samples,
        MAX_TEXT_NUM_SAMPLES,
        "2**17: each coalition is a masked copy of the whole text per baseline row",
    )
    if memory_limit is not None and int(memory_limit) < 0:
        raise ConfigError(f"must be a number of bytes >= 0; got {memory_limit!r}.", path="memory_limit")
    seg_of: dict[int, Segmenter] = {}
    for j in text_idx:
        if segmenter is None:
            seg_of[j] = Segmenter("token", "en")
        elif isinstance(segmenter, Segmenter):
            seg_of[j] = segmenter
        else:
            if columns[j] not in segmenter:
                raise ConfigError(f"no segmenter for text column {columns[j]!r}.", path="segmenter")
            seg_of[j] = segmenter[columns[j]]
    if estimator not in ESTIMATOR_NAMES:
        raise ConfigError(f"must be one of {', '.join(ESTIMATOR_NAMES)}; got {estimator!r}.", path="estimator")
    if estimator == "gp" and num_samples is not None and num_samples > GP_MAX_NUM_SAMPLES:
        raise ConfigError(
            f"must be at most {GP_MAX_NUM_SAMPLES} with estimator 'gp'; got {num_samples}. Use a smaller budget "
            "or estimator 'kernel'.",
            path="num_samples",
        )
    check_target_error(target_error, estimator)
    predictor = as_predictor(model)
    if seed is None:
        seed = int(np.random.SeedSequence().entropy) & (2**64 - 1)  # type: ignore[arg-type]

    game = TextGame(
        predictor,
        frame,
        base,
        text_idx,
        seg_of,
        num_samples=num_samples,
        allocation=allocation,
        max_batch_rows=max_batch_rows,
        max_batch_chars=max_batch_chars,
        memory_limit=memory_limit,
        first_row=first_row,
        estimator=estimator,
    )
    n_rows = len(frame)
    if f_x is not None:
        f_x = np.asarray(f_x, dtype=np.float64)
        if f_x.ndim != 2 or f_x.shape[0] != n_rows:
            raise ConfigError(f"must have shape ({n_rows}, n_outputs); got {f_x.shape}.", path="f_x")
        game.n_outputs = game.batcher.n_outputs = f_x.shape[1]  # the masked rows' scores must match
    else:
        f_x = game.predict_records()
    n_out = game.n_outputs
    if use_logit and n_rows:
        f_x = logit(f_x, "explained records")

    phis: list[FloatArray] = [np.zeros((0, n_out))] * n_rows
    errors: list[FloatArray] = [np.zeros((0, n_out))] * n_rows
    players_all: list[tuple[TextPlayer, ...]] = [()] * n_rows
    base_values = np.zeros((n_rows, n_out))
    n_samples = np.zeros(n_rows, dtype=np.int64)
    exact = np.zeros(n_rows, dtype=bool)
    met = np.zeros(n_rows, dtype=bool) if target_error is not None else None
    underdetermined = 0
    played: Iterator[tuple[Unit, Rounds | None]]
    if target_error is not None:
        played = play_rounds(game, game.units(f_x), seed, use_logit, float(target_error), allocation, ROUND_GROUP)
    else:
        played = ((unit, None) for unit in play(game, game.units(f_x), seed, use_logit))
    for unit, went in played:
        i, rec = unit.first, unit.data
        assert unit.phi is not None and unit.base is not None  # noqa: S101 - the loop solved it
        m, n_coal = len(rec.players), unit.plan.n_coalitions
        phis[i], base_values[i], players_all[i] = unit.phi[0], unit.base, rec.players
        errors[i] = unit.stderr[0] if unit.stderr is not None else np.zeros_like(unit.phi[0])
        n_samples[i], exact[i] = n_coal, unit.plan.exact
        if went is not None and met is not None:
            n_samples[i], met[i] = went.used[0], went.met[0]
            exact[i] = unit.plan.exact and went.used[0] == n_coal
        if m > 1 and n_coal // 2 < m - 1:
            underdetermined += 1
        if progress is not None:
            progress(1)

    if underdetermined:
        budget_txt = "the default budget" if num_samples is None else f"num_samples={num_samples}"
        warnings.warn(
            f"{underdetermined} of {n_rows} records have more text units than {budget_txt} can pin down "
            "(more than num_samples / 2 players); their values are minimum-norm estimates. Raise num_samples "
            "or use a coarser granularity (sentence, paragraph) for long texts.",
            ApproximationWarning,
            stacklevel=2,
        )
    texts = game.texts
    calls = game.calls()
    return TextShapResult(
        phi=tuple(phis),
        players=tuple(players_all),
        texts=tuple(tuple(texts[j][i] if j in text_set else "" for j in range(len(columns))) for i in range(n_rows)),
        base_value=base_values,
        f_x=f_x,
        columns=tuple(columns),
        text_columns=tuple(columns[j] for j in text_idx),
        num_samples=n_samples,
        exact=exact,
        model_rows=calls.rows,
        model_calls=calls.calls,
        model_seconds=calls.seconds,
        seconds=time.perf_counter() - started,
        stderr=tuple(errors) if estimator == "gp" else None,
        target_met=met,
    )
