"""What an analysis is, and what the job hands it.

Before the job opens anything, ``check(config, base_dir)`` says what the analysis needs from the config
(:class:`Needs`: problems with its own keys, the files it reads, the seed it asks for). Then it is computed
in four steps, each in its own place:

- ``plan(job)``: on the driver, once; everything the work needs (a baseline, a grid), picklable;
- ``run(plan, chunk, model)``: a module-level computation over one partition of records (a
  :class:`~openclarify.data.DataChunk`, with the record number of its first row), on any worker;
  the job sends the method key, and the worker runs it on its own instance of the analysis (the
  driver's instance, with its open files, stays on the driver);
- ``merge(a, b)``: the partial results of two adjacent partitions as one; merging any split of the
  records gives the bits of the whole (tested for every registered analysis);
- ``finish(plan, total, job)``: on the driver; writes the analysis's own files and returns its
  ``analysis.json`` section and the facts it adds to ``run_summary.json``.

``consume(plan, part, job)`` is called on the driver with every partial result in record order, before
it is merged: an analysis that writes one line per record (local SHAP values) streams them there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from ..backends import Executor
from ..backends._local import LocalExecutor
from ..config import AnalysisConfig
from ..data import DataChunk, Dataset, DatasetSchema
from ..models import Predictor
from ..outputs import OutputStaging
from ..text import WhitespaceMode

__all__ = ["Analysis", "Finished", "Job", "JobOptions", "Needs"]

P = TypeVar("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class JobOptions:
    """How the job runs. Chunking, batching and threads never change a result; ``text_whitespace`` picks
    the text units, and ``bias_confidence`` adds bootstrap intervals beside the bias metrics."""

    chunksize: int = 8192
    max_batch_rows: int = 16384
    threads: int = 1
    text_columns: Sequence[str] | None = None
    text_whitespace: WhitespaceMode = "keep"
    progress: Callable[[int], None] | None = None
    on_start: Callable[[int | None, int], None] | None = None
    # bias metrics: bootstrap intervals at this level (None: none), from this many replicates, this seed
    bias_confidence: float | None = None
    bias_bootstrap: int = 1000
    bias_seed: int = 0


@dataclass(frozen=True, slots=True)
class Needs:
    """What an analysis asks of the job before it starts: ``problems`` with its part of the config
    (``(key path, message)``, reported with the job's own in one error), ``inputs`` (files it reads
    besides the dataset: an ``overwrite`` never deletes them), ``seed`` (the job's seed, when the
    config sets one for it), ``needs_model`` (False: it runs without a model, e.g. pre-training bias) and
    ``after`` (the method keys whose results its plan reads: it then runs in a later pass over the data;
    analyses that need nothing of each other share one pass)."""

    problems: tuple[tuple[str, str], ...] = ()
    inputs: tuple[str, ...] = ()
    seed: int | None = None
    needs_model: bool = True
    after: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finished:
    """A finished analysis: its ``analysis.json`` section under ``explanations`` (``key``), top-level
    keys it adds to ``analysis.json``, the facts it adds to ``run_summary.json`` (in their order; a
    ``"seconds"`` key, if present, keeps its place there and the job writes the job's time into it), and
    its result (what a later analysis or the caller may use, e.g. SHAP's global values for PDP's top k)."""

    key: str
    section: Any  # None: nothing under ``explanations`` (bias metrics are top-level keys, in ``extra``)
    extra: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    result: Any = None


@dataclass(slots=True)
class Job:
    """The part of a job an analysis sees: the config, the open dataset, the model, where files go,
    and what the analyses before it finished with (``earlier``, by method key)."""

    config: AnalysisConfig
    dataset: Dataset
    schema: DatasetSchema
    model: Predictor
    stage: OutputStaging
    seed: int
    location: str
    base_dir: Path | str | None
    options: JobOptions
    executor: Executor = field(default_factory=LocalExecutor)
    earlier: dict[str, Finished] = field(default_factory=dict)


class Analysis(Protocol, Generic[P, R]):
    """One Clarify method (see the module docstring)."""

    key: ClassVar[str]

    def check(self, config: AnalysisConfig, base_dir: Path | str | None) -> Needs: ...

    def plan(self, job: Job) -> P: ...

    def run(self, plan: P, chunk: DataChunk, model: Predictor) -> R: ...

    def merge(self, a: R, b: R) -> R: ...

    def consume(self, plan: P, part: R, job: Job) -> None: ...

    def finish(self, plan: P, total: R | None, job: Job) -> Finished: ...

    def close(self, plan: P) -> None: ...
