"""The seed's serving stack for the serving benchmark: a Flask app run by gunicorn (sync workers).

It does what the BlazingText BYOC container of the seed notebook (aws/amazon-sagemaker-examples,
``sagemaker-clarify/text_explainability_sagemaker_algorithm``, ``container/blazing_text/predictor.py``,
the "scikit_bring_your_own" Flask template) does per request, as the project's Clarify notes describe it:
the CSV body is read with ``pd.read_csv(io.StringIO(body), header=None)``, the texts are scored with
fastText's ``predict``, and the answer is one JSON line per record, ``{"label": [...], "prob": [...]}``
(``application/jsonlines``).

Two choices keep the comparison about the serving stack, not the model:

* The texts get the same lower-tokenize normalization that ``openclarify serve`` applies for this model
  (``openclarify.training.normalize_texts``, recorded in the model folder's ``openclarify-model.json``),
  so both stacks run the same predictor logic on the same strings.
* ``k=-1``: every label with its probability, as ``openclarify serve`` answers (the notebook's container
  answered the top label only, ``k=1``, which cannot be explained per class).

The nginx front of the seed container and its per-request ``print`` are left out (both would only slow
the seed down).

Run (the benchmark does this)::

    SEED_MODEL=path/to/model.bin gunicorn --workers 2 --worker-class sync --chdir bench \
        --bind 127.0.0.1:8080 seed_flask_app:app
"""

from __future__ import annotations

import io
import json
import os

import fasttext
import flask
import pandas as pd

from openclarify.training import normalize_texts

model = fasttext.load_model(os.environ["SEED_MODEL"])

app = flask.Flask(__name__)


@app.route("/ping", methods=["GET"])
def ping() -> flask.Response:
    health = model is not None
    return flask.Response(response="\n", status=200 if health else 404, mimetype="application/json")


@app.route("/invocations", methods=["POST"])
def invocations() -> flask.Response:
    if flask.request.content_type != "text/csv":
        return flask.Response(response="This predictor only supports CSV data", status=415, mimetype="text/plain")
    data = flask.request.data.decode("utf-8")
    frame = pd.read_csv(io.StringIO(data), header=None)
    texts = normalize_texts(frame[0].astype(str).tolist())
    labels, probs = model.predict(texts, k=-1)
    lines = [
        json.dumps({"label": list(label), "prob": prob.tolist()}) for label, prob in zip(labels, probs, strict=True)
    ]
    return flask.Response(response="\n".join(lines) + "\n", status=200, mimetype="application/jsonlines")
