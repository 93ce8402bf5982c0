"""Shared fixtures and options: a seeded rng (OPENCLARIFY_TEST_SEED), hypothesis profiles, --update-golden."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import settings

# fixtures any test may ask for: s3_server, s3_bucket (moto's S3 server on 127.0.0.1; see tests/support/s3.py)
pytest_plugins = ["support.s3"]

settings.register_profile("ci", max_examples=60, deadline=None, derandomize=True)
settings.register_profile("dev", max_examples=25, deadline=None)
# Before any test imports torch (captum's tests do at collection): MKL kernels that give the same bits whatever
# the data's alignment, as openclarify.models sets for its own torch import (models/_huggingface.py).
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")

settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(int(os.environ.get("OPENCLARIFY_TEST_SEED", "0")))


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite tests/compat/cases/*/expected from the current code (the tests then fail: review the diff)",
    )
