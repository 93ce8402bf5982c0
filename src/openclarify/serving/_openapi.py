"""The OpenAPI 3.1 document of the SageMaker container contract (``GET /ping``, ``POST /invocations``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..wire import MediaType

__all__ = ["openapi_document"]

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "One-line message."}},
    "required": ["error"],
}

_RECORD_OBJECT = {
    "oneOf": [
        {
            "type": "object",
            "description": "A model with class labels: every label in the model's fixed order and its "
            "probability; with BlazingText's k, the top k labels ('__label__' prefix), most probable first.",
            "properties": {
                "label": {"type": "array", "items": {"type": "string"}},
                "prob": {"type": "array", "items": {"type": "number"}},
            },
            "required": ["label", "prob"],
        },
        {"type": "object", "properties": {"score": {"type": "number"}}, "required": ["score"]},
        {
            "type": "object",
            "properties": {"scores": {"type": "array", "items": {"type": "number"}}},
            "required": ["scores"],
        },
    ]
}

_EXAMPLES: dict[str, tuple[str, Any]] = {
    "text/csv": ("Records, no header, one per line, RFC 4180 quoting.", '1.5,2.0,"red"\n"a text, with a comma",3\n'),
    "application/jsonlines": (
        'One record per line: {"features": [...]}, BlazingText\'s {"source": "...", "k": 2}, a list, '
        'or {"name": value}.',
        '{"features": [1.5, 2.0, "red"]}\n{"source": "a text"}\n',
    ),
    "application/json": (
        'BlazingText\'s {"instances": [...], "configuration": {"k": N}}, a list of records, or one record.',
        {"instances": ["the movie was excellent"], "configuration": {"k": 2}},
    ),
}

_RESPONSES: dict[str, tuple[str, Any]] = {
    "text/csv": ("One line per record: the scores, comma-separated, floats written with repr().", None),
    "application/jsonlines": ("One JSON object per record.", _RECORD_OBJECT),
    "application/json": (
        '{"predictions": [objects]}; for a request with configuration.k, BlazingText\'s top-level list.',
        {
            "oneOf": [
                {"type": "object", "properties": {"predictions": {"type": "array", "items": _RECORD_OBJECT}}},
                {"type": "array", "items": _RECORD_OBJECT},
            ]
        },
    ),
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


_ATTRIBUTION = {
    "type": "object",
    "properties": {
        "attribution": {"type": "array", "items": {"type": "number"}, "description": "One value per label."},
        "stderr": {
            "type": "array",
            "items": {"type": "number", "minimum": 0},
            "description": "openclarify's addition with the gp estimator: each value's standard error.",
        },
        "description": {
            "type": "object",
            "description": "A text unit: its text and where it starts in the record's text.",
            "properties": {"partial_text": {"type": "string"}, "start_idx": {"type": "integer"}},
        },
    },
    "required": ["attribution"],
}
_EXPLAINED = {
    "type": "object",
    "description": "SageMaker Clarify's online-explanation answer.",
    "properties": {
        "version": {"const": "1.0"},
        "predictions": {
            "type": "object",
            "description": "The answer without explanations: its Content-Type and body.",
            "properties": {"content_type": {"type": "string"}, "data": {"type": "string"}},
        },
        "label_headers": {"type": "array", "items": {"type": "string"}},
        "explanations": {
            "type": "object",
            "description": "{} when no record is explained.",
            "properties": {
                "kernel_shap": {
                    "type": "array",
                    "description": "Per record: null (not explained) or one object per feature.",
                    "items": {
                        "oneOf": [
                            {"type": "null"},
                            {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "feature_header": {"type": "string"},
                                        "feature_type": {"enum": ["numerical", "categorical", "text"]},
                                        "attributions": {"type": "array", "items": _ATTRIBUTION},
                                    },
                                    "required": ["attributions"],
                                },
                            },
                        ]
                    },
                }
            },
        },
        "openclarify": {
            "type": "object",
            "description": "With X-OpenClarify-Details: true: expected_value, explained_scores, exact, num_samples "
            "per record, and first_record.",
        },
    },
    "required": ["version", "predictions", "explanations"],
}
_EXPLAIN_HEADERS = [
    {
        "name": "X-Amzn-SageMaker-Enable-Explanations",
        "in": "header",
        "required": False,
        "description": "A JMESPath expression on each record's answer, overriding the config's EnableExplanations.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    },
    {
        "name": "X-OpenClarify-First-Record",
        "in": "header",
        "required": False,
        "description": "The record number of the first record (numbers key the random coalitions); default 0.",
        "schema": {"type": "integer", "minimum": 0},
    },
    {
        "name": "X-OpenClarify-Details",
        "in": "header",
        "required": False,
        "description": "true: add the 'openclarify' object (expected values, explained scores) to the answer.",
        "schema": {"enum": ["true", "false"]},
    },
]


def openapi_document(
    *, title: str, content_types: Sequence[MediaType], max_payload_bytes: int, version: str, explained: bool = False
) -> dict[str, Any]:
    """The OpenAPI document served at ``/openapi.json``; ``explained``: the server answers explanations."""
    request_content = {
        media: {"schema": {"type": "string" if media != "application/json" else "object", "description": text},
                "example": example}
        for media, (text, example) in _EXAMPLES.items()
        if media in content_types
    }  # fmt: skip
    response_content = {
        media: {"schema": schema or {"type": "string"}, "description": text}
        for media, (text, schema) in _RESPONSES.items()
    }
    if explained:
        response_content = {"application/json": {"schema": _EXPLAINED}}
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "SageMaker's model container contract. Content-Type parameters such as "
            "'; charset=utf-8' are accepted. Accept picks the response format (default: the request's).",
        },
        "paths": {
            "/ping": {
                "get": {
                    "summary": "Health check",
                    "responses": {
                        "200": {"description": "The model is loaded and answers."},
                        "503": _error(
                            "The model is still loading or failed to load, or every model thread is held by a "
                            "call past the timeout."
                        ),
                    },
                }
            },
            "/invocations": {
                "post": {
                    "summary": "Score records",
                    "parameters": [
                        {
                            "name": "Accept",
                            "in": "header",
                            "required": False,
                            "schema": {
                                "type": "string",
                                "enum": ["text/csv", "application/jsonlines", "application/json"],
                            },
                        }
                    ],
                    "requestBody": {"required": True, "content": request_content},
                    "responses": {
                        "200": {"description": "One answer per record, in request order.", "content": response_content},
                        "400": _error("The body cannot be decoded, or a record has the wrong number of values."),
                        "406": _error("Accept names no format this server writes."),
                        "408": _error("The body did not arrive within the body timeouts; the connection is closed."),
                        "413": _error(f"The body is larger than {max_payload_bytes} bytes."),
                        "415": _error("Content-Type is not one this server reads."),
                        "500": _error("The model failed on the records."),
                        "503": _error(
                            "The model is still loading or failed to load, or every model thread is held by a "
                            "call past the timeout."
                        ),
                        "504": _error("The model took longer than the timeout."),
                    },
                }
            },
        },
    }
    if explained:
        invocations = document["paths"]["/invocations"]["post"]
        invocations["summary"] = "Score and explain records"
        invocations["parameters"].extend(_EXPLAIN_HEADERS)
        document["paths"]["/explainer"] = {
            "get": {
                "summary": "The explainer: features, labels, budget, seed",
                "responses": {"200": {"description": "A JSON object."}, "503": _error("The explainer is starting.")},
            }
        }
        document["paths"]["/"] = {"get": {"summary": "The live page", "responses": {"200": {"description": "HTML."}}}}
    return document
