"""EndpointPredictor against a real loopback server that injects faults (tests/support/fault_server.py).

Whatever goes wrong on the way (500s, hangs past the timeout, dropped connections, wrong counts), the
scores that come back must be bit-for-bit those of calling the scoring function in process, or the
failure must be reported for the exact record.
"""

from __future__ import annotations

import dataclasses
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
from support.fault_server import Faults, FaultServer, json_scores, jsonlines_scores, labelled_scores

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
    # A short answer is retried like a 5xx: the batch 3 times, then, split, the record alone 3 times.
    stats = predictor.stats
    # + 1 retry: the first answer is asked for again, as it does not end with a line break
    assert (stats.retries, stats.fallbacks) == (3 + 3 + 1, 1)
    assert stats.requests == 10 + 7 + 32


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
    # + 1: the first answer (the first record alone) is asked for again, as it does not end with a line break
    assert (predictor.stats.fallbacks, predictor.stats.requests) == (2, 2 * 2 + 100 + 1)


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
    assert stats.retries == server.seen.actions["error"] + 1 > 1  # + the first answer asked for again
    assert stats.bytes_received > 0 and stats.seconds > 0
    assert re.fullmatch(
        r"Model endpoint delivered [\d.]+ requests per second and a total of \d+ requests over \d+ seconds",
        stats.summary(),
    )


# ---------------------------------------------------------------------------------------------------
# answers that name their scores: labels in a different order per record, or only the top k


LABELS = ["__label__a", "__label__b"]  # tabular_model's two outputs, in its order

LABELLED = {
    "jsonlines": PredictorConfig(accept_type="application/jsonlines", label="label", probability="prob"),
    "json": PredictorConfig(
        accept_type="application/json", label="predictions[*].label", probability="predictions[*].prob"
    ),
    "blazingtext": PredictorConfig(accept_type="application/json", label="[*].label", probability="[*].prob"),
    "csv": PredictorConfig(label=0, probability=1),
}


@pytest.mark.parametrize(
    "headers", [pytest.param(None, id="first-answer-order"), pytest.param(("b", "a"), id="label-headers")]
)
@pytest.mark.parametrize("fmt", list(LABELLED))
def test_labels_ordered_by_probability_give_the_models_scores(tabular, fmt, headers):
    config = dataclasses.replace(LABELLED[fmt], label_headers=headers)
    encode = labelled_scores(LABELS, fmt=fmt, order="probability")
    faults = Faults(every=3, error_first=1)
    with FaultServer(tabular_model, feature_names=FEATURES, encode=encode, faults=faults) as server:
        with predictor_for(server, config, max_in_flight=4) as predictor:
            scores = predictor.predict(tabular)
    expected = tabular_model(tabular)
    assert len(set(map(tuple, np.argsort(-expected, axis=1, kind="stable").tolist()))) == 2  # both orders occur
    # The outputs' order: label_headers, else the labels of the first record of the first answer.
    names = headers or tuple(np.array(["a", "b"])[np.argsort(-expected[0], kind="stable")])
    assert predictor.label_headers == names
    assert same_bits(scores, expected[:, ["ab".index(n) for n in names]])


@pytest.mark.parametrize("fmt", ["jsonlines", "blazingtext"])
def test_top_k_labels_stop_at_once_naming_the_record(tabular, fmt):
    encode = labelled_scores(LABELS, fmt=fmt, top_k=1)  # BlazingText's default: k = 1
    expected = tabular_model(tabular)
    top = expected.argmax(axis=1)
    position = int(np.flatnonzero(top != top[0])[0])
    first = ["a", "b"][top[0]]
    got = ["__label__a", "__label__b"][top[position]]
    with FaultServer(tabular_model, feature_names=FEATURES, encode=encode, line_end="\n") as server:
        with predictor_for(server, LABELLED[fmt], on_record_failure="nan") as predictor:
            message = (
                f"POST {server.url}/invocations: the labels of the record at position {position} of 300 are not "
                f"the labels ['{first}'] of the first answer; got ['{got}'] for 1 score. The server must answer a "
                "score for every one of its labels, for every record: one that answers only its top k labels "
                "(BlazingText's default is k = 1) needs k set to the number of labels in the request "
                "(predictor.content_template)."
            )
            with pytest.raises(ModelError) as info:
                predictor.predict(tabular)
    assert str(info.value) == message
    assert (predictor.stats.retries, predictor.stats.fallbacks) == (0, 0)


def test_top_k_error_names_the_first_such_record_whatever_the_timing(tabular):
    # 100 records whose top label is the first record's, then the others: 7 batches after the first go out
    # at once and fail, the error names record 100 (in the 4th batch), however the answers interleave.
    top = tabular_model(tabular).argmax(axis=1)
    same, other = np.flatnonzero(top == top[0]), np.flatnonzero(top != top[0])
    records = tabular.iloc[np.concatenate([same[:100], other, same[100:]])]
    encode = labelled_scores(LABELS, fmt="jsonlines", top_k=1)
    with FaultServer(tabular_model, feature_names=FEATURES, encode=encode, line_end="\n") as server:
        for _ in range(5):
            with predictor_for(server, LABELLED["jsonlines"], max_in_flight=8) as predictor:
                with pytest.raises(ModelError, match=r": the labels of the record at position 100 of 300 are not"):
                    predictor.predict(records)


def test_top_k_of_label_headers_is_refused_on_the_first_record(tabular):
    config = dataclasses.replace(LABELLED["jsonlines"], label_headers=("a", "b"))
    encode = labelled_scores(LABELS, fmt="jsonlines", top_k=1)
    with FaultServer(tabular_model, feature_names=FEATURES, encode=encode) as server:
        with predictor_for(server, config) as predictor:
            with pytest.raises(
                ModelError, match=r"position 0 of 300 are not the labels \['a', 'b'\] of predictor.label_headers"
            ):
                predictor.predict(tabular)
    assert predictor.stats.requests == 1


# ---------------------------------------------------------------------------------------------------
# answers cut short with a matching Content-Length: retried, never taken for scores


TRUNCATED = {
    "csv": (PredictorConfig(), None),
    "jsonlines": (
        PredictorConfig(
            content_type="application/jsonlines", content_template='{"features":$features}', probability="scores"
        ),
        jsonlines_scores("scores"),
    ),
    "json": (
        PredictorConfig(
            content_type="application/json",
            content_template='{"instances": $records}',
            record_template="$features",
            probability="predictions[*].scores",
        ),
        json_scores("predictions", "scores"),
    ),
}


@pytest.mark.parametrize("cut", [pytest.param(2, id="last-digit"), pytest.param(1, id="line-break-only")])
@pytest.mark.parametrize("fmt", list(TRUNCATED))
def test_answer_cut_short_is_retried_not_split(tabular, fmt, cut):
    # The server ends its answers with a line break; a cut answer lacks it (CSV: '1.234567\n' -> '1.23456',
    # which still parses). The first answer is cut too: it is asked again before the line break is known.
    config, encode = TRUNCATED[fmt]
    faults = Faults(every=1, truncate_first=1, truncate_bytes=cut)
    kwargs = {"encode": encode} if encode is not None else {}
    with FaultServer(tabular_model, feature_names=FEATURES, faults=faults, line_end="\n", **kwargs) as server:
        with predictor_for(server, config) as predictor:
            scores = predictor.predict(tabular)
    assert same_bits(scores, tabular_model(tabular))
    stats = predictor.stats
    assert server.seen.actions["truncate"] == 10
    if fmt != "csv" and cut == 1:
        # JSON (Lines) of objects without its line break is whole: it parsed, nothing is lost, it is kept
        assert (stats.retries, stats.fallbacks, stats.requests) == (0, 0, 10)
    else:
        assert (stats.retries, stats.fallbacks, stats.requests) == (10, 0, 20)


def test_answer_cut_short_on_the_wire_is_retried(tabular):
    # Content-Length says more than the server sends before it closes: the transport sees it.
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(every=2, cut_first=1)) as server:
        with predictor_for(server) as predictor:
            scores = predictor.predict(tabular)
    assert same_bits(scores, tabular_model(tabular))
    assert predictor.stats.retries >= server.seen.actions["cut"] > 0
    assert predictor.stats.fallbacks == 0


@pytest.mark.parametrize("retries", [3, 0])
def test_csv_server_without_line_breaks_is_asked_once_more_then_trusted(tabular, retries):
    with FaultServer(tabular_model, feature_names=FEATURES) as server:
        with predictor_for(server, retries=retries) as predictor:
            scores = predictor.predict(tabular)
            predictor.predict(tabular.iloc[:10])
    assert same_bits(scores, tabular_model(tabular))
    assert server.seen.bodies[0] == server.seen.bodies[1]
    assert (predictor.stats.requests, predictor.stats.retries) == (12, 1)


@pytest.mark.parametrize("fmt", ["jsonlines", "json"])
def test_json_answers_without_line_breaks_are_not_asked_again(tabular, fmt):
    # a JSON object cut short does not parse: the first answer, read whole, shows no line break is used
    config, encode = TRUNCATED[fmt]
    with FaultServer(tabular_model, feature_names=FEATURES, encode=encode) as server:
        with predictor_for(server, config) as predictor:
            scores = predictor.predict(tabular)
    assert same_bits(scores, tabular_model(tabular))
    assert (predictor.stats.requests, predictor.stats.retries) == (10, 0)


def test_answer_without_the_line_break_the_endpoint_uses_is_a_fault(tabular):
    # After answers that end with a line break, one without it is cut short, even when it parses.
    faults = Faults(every=1, truncate_first=10**6, truncate_bytes=1)
    with FaultServer(tabular_model, feature_names=FEATURES, line_end="\n") as server:
        with predictor_for(server) as predictor:
            predictor.predict(tabular.iloc[:5])
            server.faults = faults
            with pytest.raises(ModelError, match=r"does not end with a line break as the endpoint's answers do"):
                predictor.predict(tabular.iloc[5:10])


def test_short_answers_are_retried_then_split(tabular):
    faults = Faults(every=1, wrong_count_first=2, min_records=2)
    with FaultServer(tabular_model, feature_names=FEATURES, faults=faults, line_end="\n") as server:
        with predictor_for(server) as predictor:
            scores = predictor.predict(tabular.iloc[:64])
    assert same_bits(scores, tabular_model(tabular.iloc[:64]))
    assert (predictor.stats.retries, predictor.stats.fallbacks) == (4, 0)


# ---------------------------------------------------------------------------------------------------
# the per-record fallback is bounded


def test_a_server_that_always_answers_short_stops_at_the_request_limit(tabular):
    # 100 records in 4 batches: 4 x 4 attempts, then 100 records alone x 4 attempts would be 416 requests.
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(always_short=True), line_end="\n") as server:
        with predictor_for(server, on_record_failure="nan", backoff=0.0) as predictor:
            with pytest.raises(ModelError) as info:
                predictor.predict(tabular.iloc[:100])
    limit = 100 + 4 * 4 + 32
    assert str(info.value).startswith(
        f"POST {server.url}/invocations: stopped after {limit} extra requests (retries, and records sent again "
        "one per request) for a call of 100 records in 4 batches, the most allowed (100 + 4 x 4 + 32); got, as "
        f"the last failure: POST {server.url}/invocations returned 200 for content_type 'text/csv' and 1 record, "
        "an answer that cannot be read as accept_type 'text/csv': expected 1 CSV rows, one per record; got 0"
    )
    assert str(info.value).endswith(
        "The endpoint fails on most requests: check the model server and the predictor settings, or raise "
        "max_extra_requests."
    )
    stats = predictor.stats
    assert (stats.extra_requests, stats.extra_limit_stops) == (limit, 1)
    assert stats.requests == len(server.seen.bodies) == 4 + limit


def test_max_extra_requests(tabular):
    with FaultServer(tabular_model, feature_names=FEATURES, faults=Faults(always_short=True)) as server:
        with predictor_for(server, on_record_failure="nan", backoff=0.0, max_extra_requests=5) as predictor:
            with pytest.raises(
                ModelError, match=r"stopped after 5 extra requests .* the most allowed \(max_extra_requests\)"
            ):
                predictor.predict(tabular.iloc[:100])
    # two batches, one after the other until one is read: 1 + 3 retries, 1 + 2 retries
    assert predictor.stats.requests == len(server.seen.bodies) == 2 + 5
