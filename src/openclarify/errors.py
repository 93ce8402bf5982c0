"""Exceptions and warnings raised by openclarify.

* OpenClarifyError                                   base; catch this to catch everything from openclarify
  x ConfigError(OpenClarifyError, ValueError)        analysis_config.json invalid (.path = JSON path)
  x DataError(OpenClarifyError, ValueError)          dataset unreadable or inconsistent with the config
  x ModelError(OpenClarifyError)                     a predictor failed or answered in the wrong shape
  x EstimationError(OpenClarifyError)                numerical failure (e.g. singular system)
  x OutputError(OpenClarifyError, OSError)           the output folder cannot be created or written
  x ReportError(OpenClarifyError, ValueError)        an output folder cannot be read back for a report
  x MissingDependencyError(OpenClarifyError, ImportError)   optional extra not installed
* OpenClarifyWarning(UserWarning)
  x ApproximationWarning                     e.g. num_samples too small for stable estimates

Messages read ``<where>: <what is wrong>; got <value!r>. <how to fix>``.
"""

from __future__ import annotations

__all__ = [
    "ApproximationWarning",
    "ConfigError",
    "DataError",
    "EstimationError",
    "MissingDependencyError",
    "ModelError",
    "OpenClarifyError",
    "OpenClarifyWarning",
    "OutputError",
    "ReportError",
]


class OpenClarifyError(Exception):
    """Base class of every error raised by openclarify."""


class ConfigError(OpenClarifyError, ValueError):
    """The analysis configuration is invalid.

    ``errors`` holds one ``(path, message)`` pair per problem found; ``path`` is the JSON path of the
    first one (``methods.shap.num_samples``), or ``""`` for the document itself. ``document`` names what
    was checked when there are several problems (the training hyperparameters are one too).
    """

    def __init__(
        self, errors: list[tuple[str, str]] | str, path: str = "", *, document: str = "the analysis config"
    ) -> None:
        if isinstance(errors, str):
            errors = [(path, errors)]
        self.errors: list[tuple[str, str]] = list(errors)
        self.path = self.errors[0][0] if self.errors else path
        lines = [f"{p}: {m}" if p else m for p, m in self.errors]
        if len(lines) == 1:
            text = lines[0]
        else:
            text = f"{len(lines)} problems in {document}:\n" + "\n".join(f"  - {x}" for x in lines)
        super().__init__(text)


class DataError(OpenClarifyError, ValueError):
    """The dataset (or the baseline) cannot be read or does not match the configuration."""


class ModelError(OpenClarifyError):
    """The model failed, or returned something that is not one score or score vector per record."""


class EstimationError(OpenClarifyError):
    """A numerical failure in an estimator."""


class OutputError(OpenClarifyError, OSError):
    """The output folder cannot be created or written."""


class ReportError(OpenClarifyError, ValueError):
    """An output folder cannot be read back, or a report option is invalid."""


class MissingDependencyError(OpenClarifyError, ImportError):
    """An optional dependency needed for the requested feature is not installed."""


class OpenClarifyWarning(UserWarning):
    """Base class of openclarify's warnings."""


class ApproximationWarning(OpenClarifyWarning):
    """The estimate is an approximation that may be unstable (e.g. a very small ``num_samples``)."""
