"""Client for a model behind the SageMaker container contract (``POST /invocations``): batching, retries, timeouts.

Requests carry several records, as Clarify's do, cut by record count and by the 6 MB ``InvokeEndpoint``
payload limit (clarify-spec §4.1); the wire format itself (§4.2, §4.3) lives in :mod:`openclarify.wire`.

An answer is taken for scores only when nothing says it is incomplete or mislabelled: it parses, one
score row per record sent, every score finite, each record's labels those of the fixed order (scores
put in that order by label), and, for answers that a cut would leave parseable (CSV, bare numbers) from
an endpoint that ends its answers with a line break, that line break. Any other 200 is a fault, retried
like a 5xx; the per-record fallback that follows is bounded.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import re
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed, wait
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol, TypeVar, cast

import numpy as np
import pandas as pd

from .._typing import FloatArray
from ..config import PredictorConfig
from ..errors import ConfigError, MissingDependencyError, ModelError
from ..wire import LabelSetError, RequestCodec, ResponseFormatError, ResponseParser

__all__ = ["MAX_PAYLOAD_BYTES", "EndpointPredictor", "EndpointStats", "OnRecordFailure"]

logger = logging.getLogger(__name__)

#: What to do with a record that the model keeps failing on, alone in its request.
OnRecordFailure = Literal["raise", "nan"]
_ON_RECORD_FAILURE: Final = ("raise", "nan")

#: ``InvokeEndpoint`` rejects a ``Body`` larger than this (botocore ``sagemaker-runtime`` model, clarify-spec §4.1).
MAX_PAYLOAD_BYTES: Final = 6_291_456

_REQUEST_TYPES: Final = ("text/csv", "application/jsonlines", "application/json")
_RESPONSE_TYPES: Final = ("text/csv", "application/jsonlines", "application/json")

# Statuses worth another attempt: the server is busy, restarting or timed out (RFC 9110 §15.5.9, §15.5.29).
_RETRY_STATUSES: Final = frozenset({408, 429})
# Statuses every request would get as well: the URL, the content or accept type, or the credentials are
# wrong. Other 4xx (400, 413, 422, ...) may be caused by one record, so a batch that gets one is split.
_CONFIG_STATUSES: Final = frozenset({401, 403, 404, 405, 406, 411, 415})
_MAX_BACKOFF: Final = 20.0
_MAX_RETRY_AFTER: Final = 30.0
# Extra requests (retries, and records sent again one per request) one predict call may make, by default:
# one per record (the whole call resent record by record), every batch retried in full, and this many
# more (retries of a few records that fail alone). A fallback past that is resending most records
# several times: an endpoint that fails every request, not a record that fails.
_EXTRA_REQUEST_SLACK: Final = 32

T = TypeVar("T")
R = TypeVar("R")


# ---------------------------------------------------------------------------------------------------
# transports


@dataclass(frozen=True, slots=True)
class _Reply:
    status: int
    body: bytes
    retry_after: float | None = None
    #: An error every request would get (wrong endpoint name, credentials): stop the job.
    fatal: bool = False


_SNIPPET_BYTES: Final = 200


def plan_batches(
    sizes: Sequence[int], *, max_records: int, max_payload_bytes: int, body_size: Callable[[int, int], int]
) -> list[tuple[int, int]]:
    """Cut records into consecutive ``(start, stop)`` batches of at most ``max_records`` records whose
    body fits ``max_payload_bytes``; a record too large on its own goes alone."""
    spans: list[tuple[int, int]] = []
    start = total = 0
    for i, size in enumerate(sizes):
        count = i - start
        if count and (count >= max_records or body_size(total + size, count + 1) > max_payload_bytes):
            spans.append((start, i))
            start, total = i, 0
        total += size
    if start < len(sizes):
        spans.append((start, len(sizes)))
    return spans


def snippet(body: bytes) -> str:
    """The first bytes of a body, on one line."""
    text = body[:_SNIPPET_BYTES].decode("utf-8", "replace")
    return text.replace("\r", "\\r").replace("\n", "\\n")


class _TransportError(Exception):
    """No HTTP answer: ``kind`` is ``timeout``, ``dropped`` (connection closed or reset) or ``connect``."""

    def __init__(self, kind: Literal["timeout", "dropped", "connect"], message: str) -> None:
        super().__init__(message)
        self.kind = kind


class _Transport(Protocol):
    where: str

    def send(self, body: bytes) -> _Reply: ...

    def close(self) -> None: ...


def _invocations_url(url: str) -> str:
    if not re.match(r"^https?://[^/]", url):
        raise ConfigError(
            f"must be an http:// or https:// URL; got {url!r}. Example: 'http://127.0.0.1:8080'.", path="endpoint_url"
        )
    url = url.rstrip("/")
    return url if url.endswith("/invocations") else url + "/invocations"


class _HttpTransport:
    """``POST /invocations`` over a keep-alive connection pool (urllib3), one connection per request in flight."""

    def __init__(self, url: str, headers: Mapping[str, str], *, timeout: float, max_in_flight: int) -> None:
        import urllib3

        self.url = _invocations_url(url)
        self.where = f"POST {self.url}"
        self._headers = dict(headers)
        self._pool = urllib3.connection_from_url(
            self.url,
            maxsize=max_in_flight,
            block=True,
            retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )
        self._path = urllib3.util.parse_url(self.url).request_uri
        self._timeout = timeout

    def send(self, body: bytes) -> _Reply:
        from urllib3.exceptions import ConnectTimeoutError, HTTPError, NewConnectionError, ReadTimeoutError

        try:
            response = self._pool.urlopen(
                "POST",
                self._path,
                body=body,
                headers=self._headers,
                retries=False,
                redirect=False,
                preload_content=True,
            )
        except ReadTimeoutError:
            raise _TransportError("timeout", f"{self.where} timed out after {self._timeout:g} s") from None
        except (NewConnectionError, ConnectTimeoutError) as exc:
            raise _TransportError("connect", f"{self.where}: cannot connect ({_reason(exc)})") from None
        except (HTTPError, OSError) as exc:
            raise _TransportError(
                "dropped", f"{self.where}: the connection closed without an answer ({_reason(exc)})"
            ) from None
        return _Reply(response.status, response.data, _retry_after(response.headers.get("Retry-After")))

    def close(self) -> None:
        self._pool.close()


def _reason(exc: BaseException) -> str:
    text = str(exc)
    # urllib3 messages repeat the connection object: keep the part after the last ': '.
    return text.rsplit(": ", 1)[-1] if ": " in text else text or type(exc).__name__


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), _MAX_RETRY_AFTER)
    except ValueError:
        return None  # an HTTP date: use our own backoff


# SageMaker runtime error codes (botocore ``sagemaker-runtime`` model) that another attempt may cure.
_BOTO_RETRY_CODES: Final = frozenset(
    {
        "ThrottlingException",
        "ModelNotReadyException",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalDependencyException",
    }
)


class _Boto3Transport:
    """``sagemaker-runtime`` ``InvokeEndpoint`` with botocore's own retries off (we retry, as Clarify does)."""

    def __init__(
        self,
        endpoint_name: str,
        *,
        content_type: str,
        accept_type: str,
        custom_attributes: str | None,
        target_model: str | None,
        client: Any,
        timeout: float,
        max_in_flight: int,
    ) -> None:
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise MissingDependencyError(
                    "predictor.endpoint_name needs the optional dependency 'boto3'. "
                    "Install it with: pip install 'openclarify[aws]'."
                ) from None
            from botocore.exceptions import InvalidRegionError, NoRegionError

            config = Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                connect_timeout=timeout,
                read_timeout=timeout,
                max_pool_connections=max_in_flight,
            )
            try:
                client = boto3.client("sagemaker-runtime", config=config)
            except NoRegionError:
                # botocore reads AWS_DEFAULT_REGION and the config file; AWS_REGION is what the other SDKs
                # and SageMaker's own containers set.
                region = os.environ.get("AWS_REGION", "").strip()
                if not region:
                    raise ConfigError(
                        f"no AWS region to find the SageMaker endpoint in; got {endpoint_name!r} with neither "
                        "AWS_REGION nor AWS_DEFAULT_REGION set and no region in the AWS config file. Set "
                        "AWS_REGION or AWS_DEFAULT_REGION (export AWS_REGION=us-east-1), or call a model server "
                        "with --endpoint-url instead.",
                        path="predictor.endpoint_name",
                    ) from None
                client = boto3.client("sagemaker-runtime", region_name=region, config=config)
            except InvalidRegionError as exc:
                raise ConfigError(
                    f"cannot call the SageMaker endpoint {endpoint_name!r}: the AWS region is not a region name; "
                    f"got {exc.kwargs.get('region_name')!r}. Set AWS_REGION or AWS_DEFAULT_REGION to a region "
                    "such as us-east-1.",
                    path="predictor.endpoint_name",
                ) from None
        self._client = client
        self.where = f"InvokeEndpoint {endpoint_name!r}"
        self._params: dict[str, str] = {
            "EndpointName": endpoint_name,
            "ContentType": content_type,
            "Accept": accept_type,
        }
        if custom_attributes is not None:
            self._params["CustomAttributes"] = custom_attributes
        if target_model is not None:
            self._params["TargetModel"] = target_model
        self._timeout = timeout

    def send(self, body: bytes) -> _Reply:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            HTTPClientError,
            IncompleteReadError,
            NoCredentialsError,
            ReadTimeoutError,
        )

        try:
            response = self._client.invoke_endpoint(Body=body, **self._params)
            return _Reply(200, response["Body"].read())
        except NoCredentialsError:
            raise ModelError(
                f"{self.where}: no AWS credentials found; got none from the environment, the AWS config files or "
                "instance metadata. Configure credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
                "AWS_PROFILE), or call a model server with --endpoint-url instead."
            ) from None
        except IncompleteReadError as exc:  # fewer bytes than the answer's Content-Length
            raise _TransportError("dropped", f"{self.where}: the answer was cut short ({exc})") from None
        except ClientError as exc:
            return _client_error_reply(exc.response)
        except ReadTimeoutError:
            raise _TransportError("timeout", f"{self.where} timed out after {self._timeout:g} s") from None
        except (ConnectTimeoutError, EndpointConnectionError) as exc:
            raise _TransportError("connect", f"{self.where}: cannot connect ({exc})") from None
        except HTTPClientError as exc:
            raise _TransportError("dropped", f"{self.where}: the connection closed without an answer ({exc})") from None

    def close(self) -> None:
        close = getattr(self._client, "close", None)
        if close is not None:
            close()


def _client_error_reply(response: Mapping[str, Any]) -> _Reply:
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(response.get("OriginalMessage") or error.get("Message", ""))
    http_status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)
    body = f"{code}: {message}".encode()
    if code == "ModelError":
        # The container answered with an error status: judge it as if we had called the container.
        return _Reply(int(response.get("OriginalStatusCode") or 500), body)
    if code in _BOTO_RETRY_CODES:
        return _Reply(429 if http_status < 500 else http_status, body)
    return _Reply(http_status, body, fatal=True)


# ---------------------------------------------------------------------------------------------------
# the predictor


@dataclass(frozen=True, slots=True)
class EndpointStats:
    """Traffic of an :class:`EndpointPredictor` so far (for the job summary).

    ``retries`` counts further attempts of a request (after a fault, or to ask again for a first answer
    that lacks a line break), ``fallbacks`` the batches resent one record per request, ``extra_requests``
    the requests beyond the first attempt of each batch (retries and records resent), and
    ``extra_limit_stops`` the ``predict`` calls stopped for making more extra requests than allowed.
    ``seconds`` is the wall time spent in ``predict`` calls (summed over calling threads).
    """

    requests: int = 0
    retries: int = 0
    fallbacks: int = 0
    extra_requests: int = 0
    extra_limit_stops: int = 0
    failed_records: int = 0
    records: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """Clarify's job-log line: ``Model endpoint delivered 107.74733 requests per second ...``."""
        rate = self.requests / self.seconds if self.seconds > 0 else 0.0
        return (
            f"Model endpoint delivered {rate:.5f} requests per second and a total of {self.requests} requests "
            f"over {self.seconds:.0f} seconds"
        )


class _RequestFailed(Exception):
    """A request that failed in a way one record may cause: the batch is resent record by record."""


@dataclass(slots=True)
class _Budget:
    """The extra requests (retries, and records resent one per request) one ``predict`` call may make."""

    limit: int
    rule: str
    n_records: int
    n_batches: int
    used: int = 0
    stopped: bool = False
    last: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)


class EndpointPredictor:
    """A model behind the SageMaker container contract, called over HTTP or through ``InvokeEndpoint``.

    Records are serialised as ``predictor.content_type`` asks (clarify-spec §4.2), sent in batches of at
    most ``max_records`` records and ``max_payload_bytes`` bytes, up to ``max_in_flight`` requests at
    once, and the answers are read as ``predictor.accept_type`` with ``predictor.probability`` /
    ``predictor.label`` (§4.3) and put back in order.

    Faults: a 5xx, 408 or 429 answer, a timeout, a dropped connection or an answer cut short on the wire,
    and a 200 whose body cannot be taken for the scores (it does not parse, has fewer or more score rows
    than records sent, a non-finite score, or lacks the line break that ends the endpoint's answers), is
    retried ``retries`` times with exponential backoff (``backoff * 2**k`` seconds with a deterministic
    jitter, or the server's ``Retry-After``). A batch that keeps failing is resent one record per request,
    as Clarify does. A record that fails alone raises :class:`~openclarify.errors.ModelError` naming its
    position in the DataFrame (``on_record_failure="raise"``), or gets NaN scores and is listed in
    :attr:`failed_rows` (``"nan"``); good scores are always finite, so a NaN row is exactly a failed
    record. Answers every request would get fail at once: 401, 403, 404, 405, 406, 411, 415, a server
    that cannot be reached, a rejected endpoint name, and a record whose labels are not those of the
    first answer (a server answering only its top k labels).

    Line breaks: a JSON object, array or string cut short does not parse, but a CSV answer or a bare
    number cut after a digit does (``1.234567`` -> ``1.2345``). The first answer read decides whether the
    endpoint ends its answers with a line break; from then on such an answer without one is a fault. If
    the first answer lacks one and could be cut and still parse, the same request is sent once more: an
    answer that ends with one shows the first was cut short; the same answer again shows an endpoint that
    never ends with one (whose answers cut at a digit then cannot be told from whole ones). Until an
    answer has been read, requests go one at a time, so that the first answer (its labels, its line
    break) is the same whatever the timing.

    Bound: one ``predict`` call may make at most ``max_extra_requests`` extra requests (retries, and
    records resent one per request), by default one per record, ``retries + 1`` per batch and 32 more;
    past that it raises ModelError (:attr:`EndpointStats.extra_limit_stops`), as an endpoint that fails
    that often fails every request, and resending each record would be thousands of requests.

    Parameters
    ----------
    url
        Base URL of the model server (``http://127.0.0.1:8080``; ``/invocations`` is added), or None to
        call the SageMaker endpoint ``endpoint_name`` (or ``predictor_config.endpoint_name``) with boto3.
    predictor_config
        The config's ``predictor``: ``content_type`` (default ``dataset_type``), ``accept_type`` (default
        the content type), templates, ``probability`` / ``label``, ``custom_attributes`` (header
        ``X-Amzn-SageMaker-Custom-Attributes``) and ``target_model`` (``X-Amzn-SageMaker-Target-Model``).
    feature_names
        The model's input columns, in order; ``predict`` sends these columns of its records.
    endpoint_name
        SageMaker endpoint to call when ``url`` is None; default ``predictor_config.endpoint_name``.
    dataset_type
        The content type to send when ``predictor_config.content_type`` is absent (Clarify's default).
    max_records
        Most records in one request (forced to 1 by a JSON ``content_template`` with ``$record``).
    max_payload_bytes
        Most bytes in one request body; a single record larger than this is sent alone.
    max_in_flight
        Requests sent at once (threads, and connections kept alive).
    timeout
        Seconds to connect, and to wait for the answer, per attempt.
    retries
        Further attempts after a retryable failure.
    backoff
        Seconds before the first retry; doubles with each retry (at most 20 s).
    on_record_failure
        ``"raise"`` or ``"nan"``, see above.
    max_extra_requests
        Most extra requests one ``predict`` call may make; None for the default above.
    client
        A ``sagemaker-runtime`` boto3 client to use instead of creating one (tests pass a client with a
        ``botocore.stub.Stubber``). The boto3 path is tested with ``Stubber`` only: no AWS call runs in
        the test suite.

    Raises
    ------
    ConfigError
        A predictor setting or argument the client cannot use (its path names it).
    MissingDependencyError
        ``endpoint_name`` without boto3 installed.
    """

    def __init__(
        self,
        url: str | None,
        predictor_config: PredictorConfig,
        feature_names: Sequence[str],
        *,
        endpoint_name: str | None = None,
        dataset_type: str | None = None,
        max_records: int = 1000,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
        max_in_flight: int = 4,
        timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.2,
        on_record_failure: OnRecordFailure = "raise",
        max_extra_requests: int | None = None,
        client: Any = None,
    ) -> None:
        _check_int("max_records", max_records, 1)
        if max_extra_requests is not None:
            _check_int("max_extra_requests", max_extra_requests, 0)
        _check_int("max_payload_bytes", max_payload_bytes, 1)
        _check_int("max_in_flight", max_in_flight, 1)
        _check_int("retries", retries, 0)
        _check_number("timeout", timeout, positive=True)
        _check_number("backoff", backoff, positive=False)
        if on_record_failure not in _ON_RECORD_FAILURE:
            raise ConfigError(f"must be 'raise' or 'nan'; got {on_record_failure!r}.", path="on_record_failure")
        content_type = predictor_config.content_type or dataset_type or "text/csv"
        if content_type not in _REQUEST_TYPES:
            raise ConfigError(
                f"the endpoint client sends one of {', '.join(map(repr, _REQUEST_TYPES))}; got {content_type!r}.",
                path="predictor.content_type",
            )
        accept_type = predictor_config.accept_type or content_type
        if accept_type not in _RESPONSE_TYPES:
            raise ConfigError(
                f"must be one of {', '.join(map(repr, _RESPONSE_TYPES))}; got {accept_type!r}.",
                path="predictor.accept_type",
            )
        self.feature_names = tuple(feature_names)
        self.content_type = content_type
        self.accept_type = accept_type
        self.max_records = max_records
        self.max_payload_bytes = max_payload_bytes
        self.max_in_flight = max_in_flight
        self.timeout = float(timeout)
        self.retries = retries
        self.backoff = float(backoff)
        self.on_record_failure: OnRecordFailure = on_record_failure
        self.max_extra_requests = max_extra_requests
        self._codec = RequestCodec(predictor_config, content_type, self.feature_names)
        self._parser = ResponseParser(predictor_config, accept_type)
        if self._codec.one_record_per_request:
            self.max_records = 1
        self._transport: _Transport
        if url is not None:
            headers = {"Content-Type": content_type, "Accept": accept_type}
            if predictor_config.custom_attributes is not None:
                headers["X-Amzn-SageMaker-Custom-Attributes"] = predictor_config.custom_attributes
            if predictor_config.target_model is not None:
                headers["X-Amzn-SageMaker-Target-Model"] = predictor_config.target_model
            self._transport = _HttpTransport(url, headers, timeout=self.timeout, max_in_flight=max_in_flight)
        else:
            name = endpoint_name or predictor_config.endpoint_name
            if not name:
                raise ConfigError(
                    "no model to call: give an endpoint URL (--endpoint-url http://127.0.0.1:8080) or "
                    "predictor.endpoint_name; got neither.",
                    path="predictor.endpoint_name",
                )
            self._transport = _Boto3Transport(
                name,
                content_type=content_type,
                accept_type=accept_type,
                custom_attributes=predictor_config.custom_attributes,
                target_model=predictor_config.target_model,
                client=client,
                timeout=self.timeout,
                max_in_flight=max_in_flight,
            )
        self.where = self._transport.where
        self._n_outputs: int | None = None
        # Whether the endpoint ends its answers with a line break: None until an answer decides it.
        self._ends_with_line_break: bool | None = None
        # Held while requests go one at a time, until an answer has been read.
        self._first_answer = threading.Lock()
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self._counts: dict[str, float] = {f.name: 0 for f in dataclasses.fields(EndpointStats)}
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None

    # -- public -------------------------------------------------------------------------------------

    @property
    def label_headers(self) -> tuple[str, ...] | None:
        """Output names, in the order of the scores, when the answers name them (``label`` lists next to
        ``probability``): ``predictor.label_headers``, else the first answer's labels; else None."""
        return self._parser.label_names

    @property
    def stats(self) -> EndpointStats:
        """Requests, retries, fallbacks, failed records, bytes and seconds so far."""
        with self._lock:
            counts = dict(self._counts)
        return EndpointStats(
            **{name: int(value) for name, value in counts.items() if name != "seconds"}, seconds=counts["seconds"]
        )

    @property
    def failed_rows(self) -> tuple[int, ...]:
        """Positions (0-based, in the DataFrame) of the records whose scores are NaN in this thread's last
        ``predict`` call (``on_record_failure="nan"``)."""
        return cast(tuple[int, ...], getattr(self._local, "failed_rows", ()))

    def predict(self, records: pd.DataFrame) -> FloatArray:
        """Scores of ``records``, shape ``(n_records, n_outputs)``, in the records' order.

        Raises
        ------
        ModelError
            The model cannot be reached, answers with an error every request would get, answers a record
            with other labels than the first answer's, fails on a record alone (``on_record_failure=
            "raise"``), or needs more than the allowed extra requests; with ``"nan"``, when every record
            failed before any answer told the number of outputs.
        ConfigError
            ``predictor.label_headers`` names other labels than those the endpoint answers.
        """
        started = time.perf_counter()
        self._local.failed_rows = ()
        try:
            return self._predict(records)
        finally:
            self._add(seconds=time.perf_counter() - started)

    def close(self) -> None:
        """Close the connections and stop the request threads."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._transport.close()

    def __enter__(self) -> EndpointPredictor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EndpointPredictor({self.where!r}, content_type={self.content_type!r}, accept_type={self.accept_type!r})"
        )

    # -- batching -----------------------------------------------------------------------------------

    def _predict(self, records: pd.DataFrame) -> FloatArray:
        frame = self._features(records)
        n_records = len(frame)
        if n_records == 0:
            return np.empty((0, self._n_outputs or 0), dtype=np.float64)
        pieces = self._codec.encode(frame)
        spans = plan_batches(
            [len(p) for p in pieces],
            max_records=self.max_records,
            max_payload_bytes=self.max_payload_bytes,
            body_size=self._codec.body_size,
        )
        self._add(records=n_records)
        if self.max_extra_requests is not None:
            limit, rule = self.max_extra_requests, "max_extra_requests"
        else:
            per_batch = self.retries + 1
            limit = n_records + per_batch * len(spans) + _EXTRA_REQUEST_SLACK
            rule = f"{n_records} + {per_batch} x {len(spans)} + {_EXTRA_REQUEST_SLACK}"
        budget = _Budget(limit, rule, n_records, len(spans))
        first = self._run_spans(pieces, spans, budget, fallback=False)
        results: dict[tuple[int, int], FloatArray | _RequestFailed] = {
            span: result for span, result in zip(spans, first, strict=True) if result is not None
        }
        singles: list[tuple[int, int]] = []
        for span, result in results.items():
            if isinstance(result, _RequestFailed) and span[1] - span[0] > 1:
                logger.warning(
                    "Fallback to per-record prediction because of model error. (records %d-%d of %d: %s)",
                    span[0],
                    span[1] - 1,
                    n_records,
                    result,
                )
                self._add(fallbacks=1)
                singles.extend((i, i + 1) for i in range(*span))
        if singles:
            stop = None if self.on_record_failure == "nan" else (lambda r: isinstance(r, _RequestFailed))
            outcomes = self._run_spans(pieces, singles, budget, fallback=True, stop=stop)
            for span, outcome in zip(singles, outcomes, strict=True):
                if outcome is not None:
                    results[span] = outcome
        failures = sorted(
            (span[0], result)
            for span, result in results.items()
            if isinstance(result, _RequestFailed) and span[1] - span[0] == 1
        )
        if failures:
            self._add(failed_records=len(failures))
            if self.on_record_failure == "raise":
                position, error = failures[0]
                raise ModelError(
                    f"record at position {position} of {n_records}: the model fails on it alone; got: {error}. "
                    "Fix the model or the record, or mark such records as failed instead (on_record_failure='nan')."
                )
        return self._assemble(results, n_records, failures)

    def _features(self, records: pd.DataFrame) -> pd.DataFrame:
        if tuple(records.columns) == self.feature_names:
            return records
        missing = [name for name in self.feature_names if name not in records.columns]
        if missing:
            raise ModelError(
                f"{self.where}: the records lack the feature columns {missing[:10]!r}; got columns "
                f"{list(records.columns)[:10]!r}. Pass records with the predictor's feature_names."
            )
        return records.loc[:, list(self.feature_names)]

    def _assemble(
        self,
        results: Mapping[tuple[int, int], FloatArray | _RequestFailed],
        n_records: int,
        failures: Sequence[tuple[int, _RequestFailed]],
    ) -> FloatArray:
        n_outputs = self._n_outputs
        if n_outputs is None:  # every record failed, and no request ever succeeded
            first = failures[0][1] if failures else "no answer"
            raise ModelError(
                f"{self.where}: every one of the {n_records} records failed; first: {first}. "
                "Check that the model server answers (openclarify serve) and the predictor settings."
            )
        scores = np.full((n_records, n_outputs), np.nan, dtype=np.float64)
        for (start, stop), result in results.items():
            if not isinstance(result, _RequestFailed):
                scores[start:stop] = result
        failed = tuple(position for position, _ in failures)
        # one line per failing batch, not per record: the masked copies of one failing record are many,
        # and the analysis reports the explained records that failed
        if failures:
            logger.warning(
                "%d of %d records in this batch failed (first at position %d); their scores are NaN: %s",
                len(failures), len(scores), failures[0][0], failures[0][1],
            )  # fmt: skip
        self._local.failed_rows = failed
        return scores

    def _run_spans(
        self,
        pieces: Sequence[bytes],
        spans: Sequence[tuple[int, int]],
        budget: _Budget,
        *,
        fallback: bool,
        stop: Callable[[FloatArray | _RequestFailed], bool] | None = None,
    ) -> list[FloatArray | _RequestFailed | None]:
        """A request per span: one at a time until an answer has been read (it decides how the later ones
        are read: their labels' order, their line break), then up to ``max_in_flight`` at once (``_map``)."""

        def attempt(span: tuple[int, int]) -> FloatArray | _RequestFailed:
            return self._attempt_span(pieces, span, budget, fallback=fallback)

        out: list[FloatArray | _RequestFailed | None] = []
        if not self._settled():
            with self._first_answer:
                while len(out) < len(spans) and not self._settled():
                    out.append(result := attempt(spans[len(out)]))
                    if stop is not None and stop(result):
                        return out + [None] * (len(spans) - len(out))
        rest = spans[len(out) :]
        return out + self._map(attempt, rest, stop) if rest else out

    def _settled(self) -> bool:
        return self._n_outputs is not None and self._ends_with_line_break is not None

    def _map(self, fn: Callable[[T], R], items: Sequence[T], stop: Callable[[R], bool] | None = None) -> list[R | None]:
        """``fn`` over ``items`` on up to ``max_in_flight`` threads; after an item for which ``stop`` is true,
        items not started yet are skipped (their result is None). An exception cancels the items not started,
        waits for the others and propagates: the first item's (in order) that raised."""
        if len(items) == 1 or self.max_in_flight == 1:
            out: list[R | None] = [None] * len(items)
            for i, item in enumerate(items):
                out[i] = result = fn(item)
                if stop is not None and stop(result):
                    break
            return out
        executor = self._get_executor()
        futures: list[Future[R]] = [executor.submit(fn, item) for item in items]
        try:
            for future in as_completed(futures):
                if future.exception() is not None or (stop is not None and stop(future.result())):
                    break
        except BaseException:  # interrupted while waiting
            for future in futures:
                future.cancel()
            raise
        # Stopped: skip the items not started yet, but let the started ones finish. Items start in order,
        # so every item before the one that stopped us has a result, and the first failing item (or job-level
        # error) is found whatever the timing.
        for future in futures:
            future.cancel()
        wait(futures)
        for future in futures:
            if not future.cancelled() and (error := future.exception()) is not None:
                raise error
        return [f.result() if not f.cancelled() else None for f in futures]

    def _get_executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.max_in_flight, thread_name_prefix="openclarify-endpoint")
            return self._executor

    # -- one request, with retries ------------------------------------------------------------------

    def _attempt_span(
        self, pieces: Sequence[bytes], span: tuple[int, int], budget: _Budget, *, fallback: bool
    ) -> FloatArray | _RequestFailed:
        start, stop = span
        try:
            return self._request(self._codec.body(pieces[start:stop]), span, budget, fallback=fallback)
        except _RequestFailed as failure:
            return failure

    def _request(self, body: bytes, span: tuple[int, int], budget: _Budget, *, fallback: bool) -> FloatArray:
        """Send one body; the scores, or :class:`_RequestFailed` (batch-level), or ModelError (job-level)."""
        last = ""
        connect_failed = False
        retry_after: float | None = None
        pause = False
        # A first answer without a line break, kept while the request is sent again to tell whether it was cut
        # (one more attempt, whatever `retries`).
        unconfirmed: tuple[bytes, FloatArray] | None = None
        attempt, n_attempts = -1, self.retries + 1
        while (attempt := attempt + 1) < n_attempts:
            if attempt or fallback:
                self._take(budget)
            if attempt:
                self._add(retries=1)
                if pause:
                    time.sleep(self._delay(body, attempt, retry_after))
            retry_after, pause = None, True
            with self._in_flight:
                try:
                    reply = self._transport.send(body)
                except _TransportError as exc:
                    self._add(requests=1, bytes_sent=len(body))
                    last, connect_failed = str(exc), exc.kind == "connect"
                    budget.last = last
                    continue
            self._add(requests=1, bytes_sent=len(body), bytes_received=len(reply.body))
            message = (
                f"{self.where} returned {reply.status} for content_type {self.content_type!r}: {snippet(reply.body)}"
            )
            if 200 <= reply.status < 300:
                try:
                    scores = self._read(reply, span, budget.n_records)
                except _RequestFailed as exc:  # cut short, or not one score vector per record: retried
                    last = budget.last = str(exc)
                    continue
                if self._ends_with_line_break is not None:
                    return scores
                settled = self._settle_line_break(reply.body, scores, unconfirmed)
                if settled is not None:
                    return settled
                unconfirmed, pause, n_attempts = (reply.body, scores), False, n_attempts + 1
                logger.debug("%s: the first answer does not end with a line break; asking again", self.where)
                continue
            if reply.fatal or reply.status in _CONFIG_STATUSES or reply.status < 400:
                raise ModelError(message)
            if reply.status in _RETRY_STATUSES or reply.status >= 500:
                last, retry_after = message, reply.retry_after
                budget.last = last
                continue
            raise _RequestFailed(message)
        if unconfirmed is not None:  # asking again failed: read as from an endpoint without line breaks
            return unconfirmed[1]
        attempts = f"({self.retries + 1} attempt{'s' if self.retries else ''})"
        if connect_failed:
            raise ModelError(f"{last} {attempts}. Check that the model server is running and the URL is right.")
        raise _RequestFailed(f"{last} {attempts}")

    def _settle_line_break(
        self, body: bytes, scores: FloatArray, unconfirmed: tuple[bytes, FloatArray] | None
    ) -> FloatArray | None:
        """Decide from the first answer read whether the endpoint ends its answers with a line break; None
        when this answer lacks one and must be asked for again. Runs alone (``_first_answer`` held)."""
        if body.endswith(b"\n"):
            self._ends_with_line_break = True  # an unconfirmed earlier answer lacking it was cut short
            return scores
        if unconfirmed is None:
            if self._whole(body):  # it parsed, so it is all there: the endpoint does not end with a line break
                self._ends_with_line_break = False
                return scores
            return None
        self._ends_with_line_break = False  # asked twice, no line break either time
        earlier_body, earlier_scores = unconfirmed
        if earlier_body != body and earlier_body.startswith(body):
            return earlier_scores  # this one was cut short
        return scores

    def _whole(self, body: bytes) -> bool:
        """Whether any cut of this answer would fail to parse: JSON (the body) or JSON Lines (its last line)
        that is an object, an array or a string. A CSV answer, and a bare number, may be cut and still parse."""
        if self.accept_type == "text/csv":
            return False
        text = body.rstrip()
        if self.accept_type == "application/jsonlines":
            text = text.rsplit(b"\n", 1)[-1]
        return text.lstrip()[:1] in (b"{", b"[", b'"')

    def _take(self, budget: _Budget) -> None:
        """Count one extra request against the call's limit; ModelError past it."""
        with budget.lock:
            allowed = budget.used < budget.limit
            first_refusal = not allowed and not budget.stopped
            if allowed:
                budget.used += 1
            else:
                budget.stopped = True
        if allowed:
            self._add(extra_requests=1)
            return
        if first_refusal:
            self._add(extra_limit_stops=1)
        raise ModelError(
            f"{self.where}: stopped after {budget.limit} extra requests (retries, and records sent again one per "
            f"request) for a call of {budget.n_records} records in {budget.n_batches} batch"
            f"{'es' if budget.n_batches != 1 else ''}, the most allowed ({budget.rule}); got, as the last failure: "
            f"{budget.last}. "
            "The endpoint fails on most requests: check the model server and the predictor settings, or raise "
            "max_extra_requests."
        )

    def _read(self, reply: _Reply, span: tuple[int, int], n_total: int) -> FloatArray:
        """The scores of a 2xx answer; :class:`_RequestFailed` when it cannot be taken for them."""
        n_records = span[1] - span[0]
        if self._ends_with_line_break and not reply.body.endswith(b"\n") and not self._whole(reply.body):
            detail = "the answer does not end with a line break as the endpoint's answers do (cut short?)"
            raise _RequestFailed(self._unreadable(reply, n_records, detail))
        try:
            scores = self._parser.parse(reply.body, n_records)
        except LabelSetError as exc:
            raise ModelError(
                f"{self.where}: the labels of the record at position {span[0] + exc.record} of {n_total} "
                f"{exc.detail}. The server must answer a score for every one of its labels, for every record: "
                "one that answers only its top k labels (BlazingText's default is k = 1) needs k set to the "
                "number of labels in the request (predictor.content_template)."
            ) from None
        except ResponseFormatError as exc:
            raise _RequestFailed(self._unreadable(reply, n_records, str(exc))) from None
        with self._lock:
            if self._n_outputs is None:
                self._n_outputs = scores.shape[1]
            expected = self._n_outputs
        if scores.shape[1] != expected:
            detail = f"{scores.shape[1]} scores per record where earlier answers had {expected}"
            raise _RequestFailed(self._unreadable(reply, n_records, detail))
        return scores

    def _unreadable(self, reply: _Reply, n_records: int, detail: str) -> str:
        return (
            f"{self.where} returned {reply.status} for content_type {self.content_type!r} and {n_records} "
            f"record{'s' if n_records != 1 else ''}, an answer that cannot be read as accept_type "
            f"{self.accept_type!r}: {detail}: {snippet(reply.body)}"
        )

    def _delay(self, body: bytes, attempt: int, retry_after: float | None) -> float:
        base = min(self.backoff * 2.0 ** (attempt - 1), _MAX_BACKOFF)
        # Jitter spreads retries of concurrent requests; seeded by the request, so runs are repeatable.
        jitter = float(random.Random(zlib.crc32(body) * 31 + attempt).uniform(0.5, 1.0))
        delay = base * jitter
        return max(delay, retry_after) if retry_after is not None else delay

    def _add(self, **counts: float) -> None:
        with self._lock:
            for name, value in counts.items():
                self._counts[name] += value


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"must be an integer >= {minimum}; got {value!r}.", path=name)


def _check_number(name: str, value: Any, *, positive: bool) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
    if not ok or value < 0 or (positive and value == 0):
        raise ConfigError(f"must be a number {'> 0' if positive else '>= 0'}; got {value!r}.", path=name)
