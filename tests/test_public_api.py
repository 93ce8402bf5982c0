"""The public API: __all__ complete and sorted; everything listed exists."""

from __future__ import annotations

import inspect

import openclarify


def test_all_is_sorted_and_complete():
    assert openclarify.__all__ == sorted(openclarify.__all__)
    public = {n for n, v in vars(openclarify).items() if not n.startswith("_") and not inspect.ismodule(v)}
    assert public - {"annotations"} == set(openclarify.__all__)


def test_every_name_resolves():
    for name in openclarify.__all__:
        assert getattr(openclarify, name) is not None


def test_errors_inherit_builtins():
    assert issubclass(openclarify.ConfigError, ValueError)
    assert issubclass(openclarify.DataError, ValueError)
    assert issubclass(openclarify.MissingDependencyError, ImportError)
    for cls in (openclarify.ConfigError, openclarify.DataError, openclarify.ModelError):
        assert issubclass(cls, openclarify.OpenClarifyError)
