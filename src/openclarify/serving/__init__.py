"""Model serving with SageMaker's container contract: ``openclarify serve`` and the ``openclarify proxy`` converter.

``GET /ping`` and ``POST /invocations`` on Starlette and uvicorn, reading and writing the formats
Clarify uses (``text/csv``, ``application/jsonlines``, ``application/json``) and BlazingText's own.
"""

from __future__ import annotations

from ..wire import (
    MEDIA_TYPES,
    MediaType,
    Payload,
    RequestError,
    choose_accept,
    decode_request,
    encode_scores,
    parse_content_type,
    read_predictions,
    record_objects,
)
from ._app import create_app, explainer_location
from ._config import ProxyConfig, ServeConfig
from ._frame import records_frame
from ._model import ServedModel, load_served_model, resolve_model
from ._proxy import create_proxy_app
from ._run import background_server, run_proxy, serve

__all__ = [
    "MEDIA_TYPES",
    "MediaType",
    "Payload",
    "ProxyConfig",
    "RequestError",
    "ServeConfig",
    "ServedModel",
    "background_server",
    "choose_accept",
    "create_app",
    "create_proxy_app",
    "decode_request",
    "encode_scores",
    "explainer_location",
    "load_served_model",
    "parse_content_type",
    "read_predictions",
    "record_objects",
    "records_frame",
    "resolve_model",
    "run_proxy",
    "serve",
]
