"""``--device``, ``--runtime``, ``--model-batch-size``: how a model that runs on a device runs (analyze, serve)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import click

from ..models import DEVICES, RUNTIMES, Device, ModelOptions, Runtime

__all__ = ["model_run_options", "to_model_options"]


def model_run_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add the three options to a command (they reach it as ``device``, ``runtime``, ``model_batch_size``)."""
    options = [
        click.option(
            "--device",
            type=click.Choice(DEVICES),
            default=None,
            help="Hugging Face models: where the model runs.  [default: cuda when torch sees a GPU, else cpu; "
            "or the OPENCLARIFY_DEVICE variable]",
        ),
        click.option(
            "--runtime",
            type=click.Choice(RUNTIMES),
            default="torch",
            show_default=True,
            help="Hugging Face models: 'onnx' runs the same weights with ONNX Runtime (fp32), exported once into "
            "the model folder's onnx/; probabilities agree with torch's to about 1e-6.",
        ),
        click.option(
            "--model-batch-size",
            type=click.IntRange(1),
            default=None,
            help="Hugging Face models: texts per forward pass.  [default: 8 on cpu, 256 on cuda]",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def to_model_options(device: str | None, runtime: str, model_batch_size: int | None) -> ModelOptions:
    """The options given, as :class:`~openclarify.models.ModelOptions`."""
    return ModelOptions(device=cast(Device | None, device), runtime=cast(Runtime, runtime), batch_size=model_batch_size)
