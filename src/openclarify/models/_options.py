"""How a model runs, apart from what it is: the device, the runtime and the batch size, given on the command line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ModelError

__all__ = ["DEVICES", "RUNTIMES", "Device", "ModelOptions", "Runtime"]

Device = Literal["cpu", "cuda"]
Runtime = Literal["torch", "onnx"]
DEVICES: tuple[Device, ...] = ("cpu", "cuda")
RUNTIMES: tuple[Runtime, ...] = ("torch", "onnx")


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """``--device``, ``--runtime`` and ``--model-batch-size``: only models that run on a device use them.

    ``device`` None picks CUDA when it is there (or ``OPENCLARIFY_DEVICE``); ``batch_size`` None picks the
    device's default. A format that has no use for an option given refuses it (:meth:`refuse`).
    """

    device: Device | None = None
    runtime: Runtime = "torch"
    batch_size: int | None = None

    def __post_init__(self) -> None:
        if self.device is not None and self.device not in DEVICES:
            raise ModelError(f"--device: must be one of {', '.join(DEVICES)}; got {self.device!r}.")
        if self.runtime not in RUNTIMES:
            raise ModelError(f"--runtime: must be one of {', '.join(RUNTIMES)}; got {self.runtime!r}.")
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1
        ):
            raise ModelError(f"--model-batch-size: must be an integer >= 1; got {self.batch_size!r}.")

    @property
    def given(self) -> tuple[str, ...]:
        """The options set away from their defaults, as the command line names them."""
        names = []
        if self.device is not None:
            names.append(f"--device {self.device}")
        if self.runtime != "torch":
            names.append(f"--runtime {self.runtime}")
        if self.batch_size is not None:
            names.append(f"--model-batch-size {self.batch_size}")
        return tuple(names)

    def refuse(self, what: str) -> None:
        """Raise when an option was given to a model (``what``) that does not use it."""
        if self.given:
            raise ModelError(
                f"{', '.join(self.given)}: only Hugging Face models run on a device or runtime; got {what}. "
                "Leave the option out."
            )
