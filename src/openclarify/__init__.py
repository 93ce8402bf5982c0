"""openclarify: run SageMaker Clarify analysis configs locally, with exact and fast Kernel SHAP."""

from __future__ import annotations

__version__ = "0.1.0"
