"""`openclarify analyze` end to end against models and inputs that used to give a wrong result or the wrong
error: a model that changes its input or ends the program, missing and infinite numbers, hostile JSON,
out-of-range seeds and budgets, helper modules beside a model file, and classifiers' output names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

from openclarify.cli import EXIT_CONFIG, EXIT_DATA, EXIT_MODEL

ROWS = [
    ("M", 0.455, 0.365, 15),
    ("F", 0.35, 0.265, 7),
    ("I", 0.53, 0.42, 9),
    ("M", 0.44, 0.365, 10),
    ("F", 0.33, 0.255, 7),
    ("I", 0.425, 0.3, 8),
]
CLEAN = (
    "SEX = {'M': 1.0, 'F': 2.0, 'I': 3.0}\n"
    "def predict(df):\n"
    "    return df['Length'] * 2 + df['Diameter'] * df['Sex'].map(SEX).astype(float)\n"
)
VANDAL = (
    "SEX = {'M': 1.0, 'F': 2.0, 'I': 3.0}\n"
    "def predict(df):\n"
    "    out = df['Length'] * 2 + df['Diameter'] * df['Sex'].map(SEX).astype(float)\n"
    "    df['Length'] = 0.0\n"
    "    df.iloc[:, 2] = -1.0\n"
    "    df['Sex'] = 'X'\n"
    "    return out\n"
)
MAPS = (
    "SEX = {'M': 1.0, 'F': 2.0, 'I': 3.0}\n"
    "def predict(df):\n"
    "    df['Sex'] = df['Sex'].map(SEX)\n"
    "    return df['Length'] * 2 + df['Diameter'] * df['Sex']\n"
)
STRICT = (
    "import numpy as np\n"
    "def predict(df):\n"
    "    x = df[['Length', 'Diameter']].to_numpy(dtype=float)\n"
    "    if not np.isfinite(x).all():\n"
    "        raise ValueError('Input contains NaN')\n"
    "    return x.sum(axis=1)\n"
)


def _csv(rows=ROWS) -> str:
    return "Sex,Length,Diameter,Rings\n" + "".join(",".join(str(v) for v in r) + "\n" for r in rows)


def _config(shap: dict | None = None, **top) -> dict:
    shap = {"baseline": [["M", 0.4, 0.3]], "num_samples": 6, "seed": 3, "save_local_shap_values": True, **(shap or {})}
    return {"dataset_type": "text/csv", "label": "Rings", "predictor": {}, "methods": {"shap": shap}, **top}


def _setup(d: Path, model: str = CLEAN, config: dict | str | None = None, data: str | None = None) -> None:
    d.mkdir(parents=True, exist_ok=True)
    (d / "model.py").write_text(model)
    (d / "data.csv").write_text(_csv() if data is None else data)
    text = config if isinstance(config, str) else json.dumps(config or _config())
    (d / "config.json").write_text(text)


def _analyze(
    d: Path,
    *extra: str,
    model: str = "model.py:predict",
    data: str = "data.csv",
    config: str = "config.json",
    out: str = "out",
):
    """``python -m openclarify analyze`` in folder ``d``: (exit code, stderr)."""
    args = ["analyze", "--config", config, "--data", data, "--model", model, "--output", out, "--quiet"]
    done = subprocess.run(
        [sys.executable, "-m", "openclarify", *args, *extra], cwd=d, capture_output=True, text=True, check=False
    )
    return done.returncode, done.stderr


def _files(out: Path) -> dict[str, str]:
    skip = {"run_summary.json"}  # times and the model's name
    return {
        str(p.relative_to(out)): p.read_text()
        for p in sorted(out.rglob("*"))
        if p.is_file() and not p.name.startswith(".") and p.name not in skip
    }


# --- a model that changes its input -------------------------------------------------------------


@pytest.mark.parametrize("shap", [pytest.param({}, id="config-baseline"), pytest.param(None, id="k-means-baseline")])
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_model_that_changes_its_input_gives_the_clean_models_files(tmp_path, shap, workers):
    config = _config(shap)
    if shap is None:
        del config["methods"]["shap"]["baseline"]
        config["methods"]["shap"]["num_clusters"] = 2
    results = {}
    for name, model in (("clean", CLEAN), ("vandal", VANDAL), ("maps", MAPS)):
        _setup(tmp_path / name, model, config)
        code, err = _analyze(tmp_path / name, "--threads", workers, "--chunk-size", "2", "--max-batch-rows", "5")
        assert code == 0, err
        results[name] = _files(tmp_path / name / "out")
    assert results["vandal"] == results["clean"]
    assert results["maps"] == results["clean"]
    assert "explanations_shap/baseline.csv" in results["clean"]


# --- a model that ends the program --------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "ended"),
    [
        pytest.param(
            "import sys\n    sys.exit(0)", "ended the program with sys.exit(); got exit code 0", id="sys.exit(0)"
        ),
        pytest.param(
            "import sys\n    sys.exit(3)", "ended the program with sys.exit(); got exit code 3", id="sys.exit(3)"
        ),
        pytest.param(
            "import os\n    os._exit(0)",
            "tried to end the process with os._exit(); got exit status 0",
            id="os._exit(0)",
        ),
    ],
)
def test_a_model_that_ends_the_program_is_a_model_error(tmp_path, body, ended):
    _setup(tmp_path, f"def predict(df):\n    {body}\n")
    code, err = _analyze(tmp_path)
    assert code == EXIT_MODEL, err
    verb, _, got = ended.partition("; ")
    assert err == (
        f"openclarify: model error: model 'model.py:predict': {verb} on a batch of 1 records; {got}. "
        "Return scores, or raise an exception to report a failure.\n"
    )
    assert not (tmp_path / "out").exists()


def test_a_model_that_exits_on_a_worker_thread_is_a_model_error(tmp_path):
    model = "import os\ndef predict(df):\n    if len(df) > 1:\n        os._exit(0)\n    return df['Length']\n"
    _setup(tmp_path, model)
    code, err = _analyze(tmp_path, "--threads", "3", "--chunk-size", "6", "--max-batch-rows", "2")
    assert code == EXIT_MODEL, err
    assert "model error: model 'model.py:predict': tried to end the process with os._exit()" in err


# --- a model file that imports a module beside it -----------------------------------------------


def test_a_model_file_imports_a_helper_beside_it(tmp_path):
    _setup(tmp_path, "import helper\ndef predict(df):\n    import late\n    return helper.score(df) + late.OFFSET\n")
    (tmp_path / "helper.py").write_text("def score(df):\n    return df['Length'] * 2\n")
    (tmp_path / "late.py").write_text("OFFSET = 1.0\n")
    (tmp_path / "elsewhere").mkdir()  # run from another folder: the model's folder is what counts
    code, err = _analyze(
        tmp_path / "elsewhere", model="../model.py:predict", data="../data.csv", config="../config.json"
    )
    assert code == 0, err
    analysis = json.loads((tmp_path / "elsewhere" / "out" / "analysis.json").read_text())
    assert analysis["explanations"]["kernel_shap"]["label0"]["expected_value"] == pytest.approx(0.4 * 2 + 1.0)


# --- missing and infinite numbers ---------------------------------------------------------------

_FIX = (
    "Fill in or drop the records with missing or infinite numbers, or use a model that accepts missing values "
    "(e.g. a pipeline with SimpleImputer)."
)


@pytest.mark.parametrize(
    ("cell", "shown"),
    [pytest.param("", "nan", id="empty"), pytest.param("nan", "nan", id="nan"), pytest.param("NA", "nan", id="NA")],
)
def test_a_model_failing_on_a_missing_number_is_a_data_error_naming_the_record(tmp_path, cell, shown):
    rows = list(ROWS)
    rows[3] = ("M", cell, 0.365, 10)
    _setup(tmp_path, STRICT, data=_csv(rows))
    code, err = _analyze(tmp_path)
    assert code == EXIT_DATA, err
    assert err == (
        "openclarify: data error: dataset record 3 (numbered from 0), column 'Length': model 'model.py:predict' "
        f"raised ValueError on records built from it: Input contains NaN; got {shown}. {_FIX}\n"
    )


def test_a_model_returning_nan_for_a_missing_number_is_a_data_error(tmp_path):
    rows = list(ROWS)
    rows[4] = ("F", 0.33, "", 7)
    config = _config()
    del config["methods"]["shap"]["baseline"]  # K-means baseline: it fills the missing value with the mean
    _setup(tmp_path, CLEAN, config, _csv(rows))
    code, err = _analyze(tmp_path)
    assert code == EXIT_DATA, err
    assert err.startswith(
        "openclarify: data error: dataset record 4 (numbered from 0), column 'Diameter': model 'model.py:predict' "
        "returned a non-finite score for records built from it; got nan."
    ), err


def test_a_missing_baseline_value_the_model_cannot_take_is_a_data_error(tmp_path):
    _setup(tmp_path, STRICT, config=_config({"baseline": [["M", None, 0.3]]}))
    code, err = _analyze(tmp_path)
    assert code == EXIT_DATA, err
    assert err.startswith(
        "openclarify: data error: baseline record 0 (numbered from 0), column 'Length': model 'model.py:predict' "
        "raised ValueError on records built from it: Input contains NaN; got nan."
    ), err


def test_missing_numbers_a_model_accepts_are_explained(tmp_path):
    rows = list(ROWS)
    rows[1] = ("F", "", 0.265, 7)
    frame = pd.DataFrame(
        {"Length": [0.4, np.nan, 0.5, 0.3], "Diameter": [0.3, 0.2, np.nan, 0.25]},
    )
    model = make_pipeline(SimpleImputer(), LinearRegression()).fit(frame, [1.0, 2.0, 3.0, 4.0])
    joblib.dump(model, tmp_path / "imputer.joblib")
    config = _config({"baseline": [[0.4, 0.3]]}, excluded_columns=["Sex"])
    _setup(tmp_path, CLEAN, config, _csv(rows))
    code, err = _analyze(tmp_path, model="imputer.joblib")
    assert code == 0, err


@pytest.mark.parametrize("baseline", [pytest.param(True, id="config-baseline"), pytest.param(False, id="k-means")])
def test_an_infinite_number_is_a_data_error_naming_the_line(tmp_path, baseline):
    rows = list(ROWS)
    rows[2] = ("I", "inf", 0.42, 9)
    config = _config()
    if not baseline:
        del config["methods"]["shap"]["baseline"]
    _setup(tmp_path, CLEAN, config, _csv(rows))
    code, err = _analyze(tmp_path)
    assert code == EXIT_DATA, err
    assert err == (
        "openclarify: data error: dataset 'data.csv' line 4, column 'Length': infinite numbers are not supported; "
        "got inf. Write a finite number, or leave the value out (empty, null) for a missing one.\n"
    )


def test_a_parquet_column_of_lists_is_a_data_error(tmp_path):
    _setup(tmp_path, CLEAN, _config(dataset_type="application/x-parquet") | {"predictor": {"content_type": "text/csv"}})
    frame = pd.DataFrame(ROWS, columns=["Sex", "Length", "Diameter", "Rings"])
    frame.assign(Diameter=[[v] for v in frame["Diameter"]]).to_parquet(tmp_path / "data.parquet")
    code, err = _analyze(tmp_path, data="data.parquet")
    assert code == EXIT_DATA, err
    assert "column 'Diameter': must hold numbers or text; got Parquet type 'list<element: double>'" in err


# --- the config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            '{"methods": ' * 100_000 + "{}" + "}" * 100_000,
            "config error: analysis config 'config.json': nested too deeply to read",
            id="deep",
        ),
        pytest.param(
            json.dumps(_config()).replace('"seed": 3', '"seed": 3, "seed": 4'),
            "config error: methods.shap.seed: duplicate key; got 'seed' 2 times. JSON keeps only the last one: "
            "remove the others.",
            id="duplicate-key",
        ),
        pytest.param(
            json.dumps(_config({"seed": 2**64})),
            "config error: methods.shap.seed: must be at most 4294967295",
            id="seed-2**64",
        ),
        pytest.param(json.dumps(_config({"seed": True})), "methods.shap.seed: must be an integer >= 0", id="seed-bool"),
        pytest.param(
            json.dumps(_config({"num_samples": 10**9, "text_config": {"granularity": "token", "language": "en"}})),
            "methods.shap.num_samples: must be at most 131072 with text_config",
            id="text-num-samples",
        ),
        pytest.param(
            json.dumps(_config({"num_samples": 10**9})),
            "methods.shap.num_samples: must be at most 1048576",
            id="num-samples",
        ),
        pytest.param(
            json.dumps(_config()).replace('[["M", 0.4, 0.3]]', '[["M", NaN, 0.3]]'),
            "methods.shap.baseline[0][1]: must be a finite number; got nan.",
            id="nan-literal",
        ),
    ],
)
def test_config_problems_are_config_errors(tmp_path, text, message):
    _setup(tmp_path, CLEAN, text)
    code, err = _analyze(tmp_path)
    assert code == EXIT_CONFIG, err
    assert message in err and "Traceback" not in err and err.count("\n") == 1, err


# --- output names of scikit-learn classifiers ----------------------------------------------------


def _classifier(tmp_path: Path) -> None:
    frame = pd.DataFrame(ROWS, columns=["Sex", "Length", "Diameter", "Rings"])
    model = LogisticRegression().fit(
        frame[["Length", "Diameter"]], ["old" if r > 8 else "young" for r in frame["Rings"]]
    )
    joblib.dump(model, tmp_path / "clf.joblib")


def test_a_classifier_names_its_outputs_by_class(tmp_path):
    _classifier(tmp_path)
    _setup(tmp_path, CLEAN, _config({"baseline": [[0.4, 0.3]]}, excluded_columns=["Sex"]))
    code, err = _analyze(tmp_path, model="clf.joblib")
    assert code == 0, err
    section = json.loads((tmp_path / "out" / "analysis.json").read_text())["explanations"]["kernel_shap"]
    assert list(section) == ["old", "young"]
    header = (tmp_path / "out" / "explanations_shap" / "out.csv").read_text().splitlines()[0]
    assert header == "Length_old,Diameter_old,Length_young,Diameter_young"


def test_label_headers_in_the_config_still_win(tmp_path):
    _classifier(tmp_path)
    config = _config({"baseline": [[0.4, 0.3]]}, excluded_columns=["Sex"])
    config["predictor"] = {"label_headers": ["senior", "junior"]}
    _setup(tmp_path, CLEAN, config)
    code, err = _analyze(tmp_path, model="clf.joblib")
    assert code == 0, err
    section = json.loads((tmp_path / "out" / "analysis.json").read_text())["explanations"]["kernel_shap"]
    assert list(section) == ["senior", "junior"]
