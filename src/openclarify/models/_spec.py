"""A model as a worker process gets it: the ``--model`` spec and its options, loaded once per worker."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._formats import load_model
from ._options import ModelOptions
from ._protocol import Predictor

__all__ = ["EndpointModelSpec", "FileModelSpec"]


@dataclass(frozen=True, slots=True)
class FileModelSpec:
    """``load_model(spec, options=options)``, on whichever process calls :meth:`load`.

    The path is made absolute here, so a worker started in another folder finds the same file; a
    cluster on other machines needs the file at the same path there (a shared file system), or the model
    in the job's Python environment. A URL (``s3://bucket/model.bin``) is kept as it is: each worker
    process downloads it into its own machine's model cache (see :mod:`openclarify.models._remote`), so
    the driver's copy need not exist there.
    """

    spec: str
    options: ModelOptions = ModelOptions()

    @classmethod
    def of(cls, spec: str | Path, options: ModelOptions | None = None) -> FileModelSpec:
        text = str(spec)
        head, sep, tail = text.rpartition(":")
        if sep and head.endswith(".py") and tail.isidentifier():
            text = f"{os.path.abspath(head)}:{tail}"
        elif "://" not in text:
            text = os.path.abspath(text)
        return cls(text, options or ModelOptions())

    @property
    def key(self) -> str:
        return f"file:{self.spec}:{self.options!r}"

    def load(self) -> Predictor:
        return load_model(self.spec, options=self.options)


@dataclass(frozen=True, slots=True)
class EndpointModelSpec:
    """An :class:`~openclarify.models.EndpointPredictor` made on whichever process calls :meth:`load`: each
    worker opens its own connections to the model server (or to SageMaker, with ``endpoint_name``).

    The endpoint's request counters (``stats``) stay on the workers; the job counts model calls and rows
    from the parts it gets back.
    """

    url: str | None
    predictor_config: Any  # config.PredictorConfig: a frozen dataclass, so it pickles
    feature_names: tuple[str, ...]
    endpoint_name: str | None = None
    dataset_type: str | None = None
    max_in_flight: int = 4
    on_record_failure: str = "raise"

    @classmethod
    def of(
        cls,
        url: str | None,
        predictor_config: Any,
        feature_names: Sequence[str],
        *,
        endpoint_name: str | None = None,
        dataset_type: str | None = None,
        max_in_flight: int = 4,
        on_record_failure: str = "raise",
    ) -> EndpointModelSpec:
        return cls(url, predictor_config, tuple(feature_names), endpoint_name, dataset_type, max_in_flight,
                   on_record_failure)  # fmt: skip

    @property
    def key(self) -> str:
        return f"endpoint:{self.url or self.endpoint_name}:{hash(self)}"

    def load(self) -> Predictor:
        from ._endpoint import EndpointPredictor

        return EndpointPredictor(
            self.url,
            self.predictor_config,
            self.feature_names,
            endpoint_name=self.endpoint_name,
            dataset_type=self.dataset_type,
            max_in_flight=self.max_in_flight,
            on_record_failure="nan" if self.on_record_failure == "nan" else "raise",
        )
