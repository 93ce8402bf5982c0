"""EndpointPredictor against a real loopback server that injects faults (tests/support/fault_server.py).

Whatever goes wrong on the way (500s, hangs past the timeout, dropped connections, wrong counts), the
scores that come back must be bit-for-bit those of calling the scoring function in process, or the
failure must be reported for the exact record.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

from openclarify.config import PredictorConfig
from openclarify.errors import ModelError
from openclarify.models import EndpointPredictor
from support.fault_server import Faults, FaultServer, json_scores, jsonlines_scores

FEATURES = ["a", "b", "c", "d"]
FAST = {"timeout": 0.5, "backoff": 0.01, "max_records": 32}


def tabular_model(records: pd.DataFrame) -> np.ndarray:
    # Only correctly rounded operations, so a record scores the same bits alone or in any batch.
    a, b, c, d = (np.nan_to_num(records[k].to_numpy(dtype=np.float64), nan=0.5) for k in FEATURES)
    return np.stack([a * b + np.sqrt(np.abs(c)) - d / 7.0, (a - b) / (1.0 + c * c)], axis=1)


def text_model(records: pd.DataFrame) -> np.ndarray:
    texts, weights = records["review"].tolist(), records["weight"].to_numpy(dtype=np.float64)
    rows = [
        [len(t) * 0.5 + t.count(",") - t.count('"') / 3.0 + t.count("\n") * w, sum(map(ord, t)) / 997.0]
        for t, w in zip(texts, weights, strict=True)
    ]
    return np.asarray(rows)


@pytest.fixture
def tabular(rng) -> pd.DataFrame:
    values = rng.normal(size=(300, 4)) * 10.0 ** rng.integers(-8, 8, size=(300, 4))
    values[::17, 2] = np.nan
    values[5] = [5.0, -0.0, 1e-300, 5e-324]
    return pd.DataFrame(values, columns=FEATURES)


PIECES = ['said "wow", then', "left\nthe shop", "great, fit", "\r\nok", "  ", "ünï, 日本", "5", "$features", "a"]


@pytest.fixture
def reviews(rng) -> pd.DataFrame:
    texts = ["".join(rng.choice(PIECES, size=rng.integers(1, 6))) for _ in range(200)]
    return pd.DataFrame({"review": texts, "weight": rng.normal(size=200)})


def same_bits(actual: np.ndarray, expected: np.ndarray) -> bool:
    return actual.shape == expected.shape and bool((actual.view(np.int64) == expected.view(np.int64)).all())


def predictor_for(server: FaultServer, config: PredictorConfig | None = None, **kwargs) -> EndpointPredictor:
    options = {**FAST, **kwargs}
    return EndpointPredictor(server.url, config or PredictorConfig(), server.feature_names, **options)


@pytest.mark.parametrize(
    "faults",
    [
        pytest.param(Faults(), id="no-faults"),
        pytest.param(Faults(every=2, error_first=3), id="500-three-times"),
        pytest.param(Faults(every=3, drop_first=1, error_first=1), id="dropped-then-500"),
        pytest.param(Faults(every=4, hang_first=1, hang_seconds=3.0), id="hang-past-timeout"),
        pytest.param(Faults(every=2, error_status=429, error_first=1, retry_after="0"), id="429-retry-after"),
        pytest.param(Faults(every=3, wrong_count_first=1, min_records=2), id="wrong-count-then-per-record"),
        pytest.param(Faults(every=2, error_first=4, min_records=2), id="batch-keeps-failing-then-per-record"),
    ],
)
def test_tabular_scores_are_bit_identical_through_faults(tabular, faults):
    with FaultServer(tabular_model, feature_names=FEATURES, faults=faults) as server:
        with predictor_for(server) as predictor:
            scores = predictor.predict(tabular)
    assert same_bits(scores, tabular_model(tabular))
    assert predictor.failed_rows == ()
    assert server.seen.records >= len(tabular)


@pytest.mark.parametrize(
    ("config", "encode"),
    [
        pytest.param(PredictorConfig(), None, id="csv"),
        pytest.param(
            PredictorConfig(
                content_type="application/jsonlines", content_template='{"features":$features}', probability="scores"
            ),
            jsonlines_scores("scores"),
            id="jsonlines",
        ),
        pytest.param(
            PredictorConfig(
                content_type="application/json",
                content_template='{"instances": $records}',
                record_template="$features_kvp",
                probability="predictions[*].scores",
            ),
            json_scores("predictions", "scores"),
            id="json",
        ),
    ],
)
def test_text_arrives_unchanged(reviews, config, encode):
    kwargs = {"encode": encode} if encode is not None else {}
    faults = Faults(every=3, drop_first=1, error_first=1)
    with FaultServer(
        text_model, feature_names=["review", "weight"], text_columns=["review"], faults=faults, **kwargs
    ) as server:
        with predictor_for(server, config) as predictor:
            scores = predictor.predict(reviews)
    assert same_bits(scores, text_model(reviews))


def test_headers_and_payload_limit(tabular):
    config = PredictorConfig(custom_attributes="trace=7", target_model="model-b.tar.gz")
    with FaultServer(tabular_model, feature_names=FEATURES) as server:
        with predictor_for(server, config, max_records=1000, max_payload_bytes=2_000) as predictor:
            scores = predictor.predict(tabular)
    assert same_bits(scores, tabular_model(tabular))
    assert max(len(b) for b in server.seen.bodies) <= 2_000
    assert len(server.seen.bodies) == predictor.stats.requests > 1
    headers = server.seen.headers[0]
    assert headers["Content-Type"] == "text/csv" and headers["Accept"] == "text/csv"
    assert headers["X-Amzn-SageMaker-Custom-Attributes"] == "trace=7"
    assert headers["X-Amzn-SageMaker-Target-Model"] == "model-b.tar.gz"
    assert predictor.stats.bytes_sent == sum(len(b) for b in server.seen.bodies)


POISON = 137


def poisoned(tabular: pd.DataFrame) -> pd.DataFrame:
    records = tabular.copy()
    records.iloc[POISON, 0] = 31337.03125  # the server fails on any request holding this value
    return records


def test_record_that_always_fails_raises_with_its_position(tabular, caplog):
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(poison="31337.03125")) as server:
        with predictor_for(server, retries=1) as predictor:
            with pytest.raises(ModelError, match=rf"record at position {POISON} of 300: the model fails on it alone"):
                predictor.predict(poisoned(tabular))
    assert "Fallback to per-record prediction because of model error." in caplog.text
    assert predictor.stats.failed_records == 1


def test_record_that_always_fails_gets_nan_in_nan_mode(tabular, caplog):
    records = poisoned(tabular)
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(poison="31337.03125")) as server:
        with predictor_for(server, retries=1, on_record_failure="nan") as predictor:
            with caplog.at_level(logging.WARNING):
                scores = predictor.predict(records)
    assert predictor.failed_rows == (POISON,)
    assert np.isnan(scores).any(axis=1).nonzero()[0].tolist() == [POISON]
    keep = np.arange(len(records)) != POISON
    assert same_bits(scores[keep], tabular_model(records)[keep])
    assert f"(first at position {POISON}); their scores are NaN" in caplog.text
    stats = predictor.stats
    assert (stats.fallbacks, stats.failed_records) == (1, 1)


def test_record_answered_with_the_wrong_count_is_a_failed_record(tabular):
    records = poisoned(tabular)
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(short_poison="31337.03125")) as server:
        with predictor_for(server, on_record_failure="nan") as predictor:
            scores = predictor.predict(records)
    assert predictor.failed_rows == (POISON,)
    assert np.isnan(scores[POISON]).all()
    # A wrong count is not retried: one batch request, then one request per record of that batch.
    assert predictor.stats.retries == 0


def test_415_fails_fast(tabular):
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(status=415)) as server:
        with predictor_for(server, max_in_flight=1) as predictor:
            expected = re.escape(
                f"POST {server.url}/invocations returned 415 for content_type 'text/csv': unsupported content type"
            )
            with pytest.raises(ModelError, match=f"^{expected}$"):
                predictor.predict(tabular)
    assert len(server.seen.bodies) == 1


def test_unreachable_server_fails_without_per_record_fallback(tabular):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    predictor = EndpointPredictor(f"http://127.0.0.1:{port}", PredictorConfig(), FEATURES, **FAST)
    started = time.perf_counter()
    with pytest.raises(ModelError, match=r"cannot connect .*\(4 attempts\)\. Check that the model server is running"):
        predictor.predict(tabular)
    assert time.perf_counter() - started < 5
    predictor.close()


def test_every_record_failing_names_the_first(tabular, caplog):
    # Every request fails 4 times: the batch, then each of its records alone (retries=3: 4 attempts).
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(error_first=4)) as server:
        with predictor_for(server, retries=3, max_records=100, backoff=0.0) as predictor:
            with pytest.raises(ModelError, match="position 0 of 40: the model fails on it alone; got: POST"):
                predictor.predict(tabular.iloc[:40])
        assert caplog.text.count("Fallback to per-record prediction") == 1
        with predictor_for(server, retries=4, max_records=100, backoff=0.0) as predictor:
            scores = predictor.predict(tabular.iloc[40:80])
    # 5 attempts beat 4 failures without splitting the batch.
    assert same_bits(scores, tabular_model(tabular.iloc[40:80]))
    assert predictor.stats.fallbacks == 0


def test_fallback_recovers_exact_scores(tabular, caplog):
    faults = Faults(every=1, error_first=10, min_records=2)
    with FaultServer(tabular_model, feature_names=FEATURES, faults=faults) as server:
        with predictor_for(server, retries=1, max_records=50, backoff=0.0) as predictor:
            scores = predictor.predict(tabular.iloc[:100])
    assert same_bits(scores, tabular_model(tabular.iloc[:100]))
    assert caplog.text.count("Fallback to per-record prediction because of model error.") == 2
    assert (predictor.stats.fallbacks, predictor.stats.requests) == (2, 2 * 2 + 100)


def test_callers_on_several_threads_share_one_predictor(tabular):
    records = poisoned(tabular)
    chunks = [records.iloc[i : i + 75] for i in range(0, 300, 75)]
    failed: dict[int, tuple[int, ...]] = {}

    def call(i: int) -> np.ndarray:
        scores = predictor.predict(chunks[i])
        failed[i] = predictor.failed_rows  # per calling thread
        return scores

    faults = Faults(every=2, error_first=1, poison="31337.03125")
    with FaultServer(tabular_model, feature_names=FEATURES, faults=faults) as server:
        with predictor_for(server, max_records=10, max_in_flight=3, on_record_failure="nan") as predictor:
            with ThreadPoolExecutor(4) as pool:
                scores = np.concatenate(list(pool.map(call, range(4))))
    assert failed == {0: (), 1: (POISON - 75,), 2: (), 3: ()}
    keep = np.arange(300) != POISON
    assert same_bits(scores[keep], tabular_model(records)[keep])


def test_stats_and_summary(tabular):
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(every=2, error_first=1)) as server:
        with predictor_for(server) as predictor:
            predictor.predict(tabular)
            predictor.predict(tabular.iloc[:10])
    stats = predictor.stats
    assert stats.records == 310
    assert stats.requests == len(server.seen.bodies) == 10 + 1 + stats.retries
    assert stats.retries == server.seen.actions["error"] > 0
    assert stats.bytes_received > 0 and stats.seconds > 0
    assert re.fullmatch(
        r"Model endpoint delivered [\d.]+ requests per second and a total of \d+ requests over \d+ seconds",
        stats.summary(),
    )
