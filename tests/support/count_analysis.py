"""A minimal analysis, registered by a test to show that a new analysis needs one registry line only."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from openclarify.analyses import Finished, Job, Needs
from openclarify.config import AnalysisConfig
from openclarify.data import DataChunk
from openclarify.models import Predictor

BAD_FILE = "refuse-me.txt"


@dataclass(frozen=True, slots=True)
class CountPart:
    n: int
    score_sum: float


class CountAnalysis:
    """``methods.pre_training_bias`` stand-in: counts records and sums the model's first score."""

    key: ClassVar[str] = "pre_training_bias"

    def check(self, config: AnalysisConfig, base_dir: Path | None) -> Needs:
        where = Path(base_dir or ".")
        if (where / BAD_FILE).exists():
            return Needs(problems=(("methods.pre_training_bias", f"refused because {BAD_FILE} exists."),))
        return Needs(inputs=(str(where / "facets.csv"),), seed=123)

    def plan(self, job: Job) -> None:
        return None

    def run(self, plan: None, chunk: DataChunk, model: Predictor) -> CountPart:
        scores = model.predict(chunk.features)
        return CountPart(len(chunk.features), float(scores[:, 0].sum()))

    def merge(self, a: CountPart, b: CountPart) -> CountPart:
        return CountPart(a.n + b.n, a.score_sum + b.score_sum)

    def consume(self, plan: None, part: CountPart, job: Job) -> None:
        return None

    def finish(self, plan: None, total: CountPart | None, job: Job) -> Finished:
        n = total.n if total is not None else 0
        section: dict[str, Any] = {"records": n}
        return Finished("count", section, {}, {"count_rows": n})

    def close(self, plan: None) -> None:
        return None
