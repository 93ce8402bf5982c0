"""A text record's out.jsonl line, written piece by piece, is the JSON of the whole record."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from openclarify.analyses.shap._analysis import _NO_JOIN, _text_record
from openclarify.outputs import encode_json


def _whole(names, kinds, phi, players, by_column, units_of, join):
    explanations = []
    for j, name in enumerate(names):
        idx = by_column.get(j, [])
        entry = {"feature_name": name, "data_type": kinds[j]}
        if j in units_of:
            entry["attributions"] = [
                {"attribution": phi[p].tolist(), "description": {"partial_text": u, "start_idx": players[p].start}}
                for p, u in zip(idx, units_of[j], strict=True)
            ]
        else:
            entry["attributions"] = [{"attribution": phi[idx[0]].tolist()}]
        explanations.append(entry)
    record = {"explanations": explanations}
    if join is not _NO_JOIN:
        record["join_source_value"] = join
    return encode_json(record)


@pytest.mark.parametrize("join", [_NO_JOIN, "=1+2", 7, None, 'q"uo\\te'], ids=repr)
@pytest.mark.parametrize("empty_text", [False, True])
def test_pieces_make_the_records_json(join, empty_text):
    rng = np.random.default_rng(0)
    text = "" if empty_text else 'Très "bon"\n\u2028 produit 😀 \x1b[0m fin'
    spans = [] if empty_text else [(0, 4), (5, 10), (11, 12), (13, 20), (21, 22), (23, 27), (28, 31)]
    players = [SimpleNamespace(column=0, start=a, end=b) for a, b in spans] + [
        SimpleNamespace(column=1, start=0, end=0)
    ]
    phi = rng.normal(size=(len(players), 3))
    phi[0, 0] = -0.0
    by_column = {0: list(range(len(spans))), 1: [len(spans)]} if spans else {1: [0]}
    units_of = {0: [text[a:b] for a, b in spans]}
    args = (["review", "stars\u00e9"], ["free_text", "numerical"], phi, players, by_column, units_of, join)
    line = "".join(_text_record(*args))
    assert line == _whole(*args)
    json.loads(line)
