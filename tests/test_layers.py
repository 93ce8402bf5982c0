"""The import layers of the package (STYLE.md, "Dependency direction"), read from the source.

Each top-level module or subpackage of ``openclarify`` may import only the ones listed for it. The
numeric core (``shapley``) imports no configuration, I/O, report, server or command-line code; nothing
but ``__main__`` imports the command line; the readers, writers and the report import no estimator.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "openclarify"

BASE = {"_typing", "errors", "_version"}
ALLOWED: dict[str, set[str]] = {
    "_typing": set(),
    "_version": set(),
    "errors": set(),
    "io": BASE,
    "config": BASE | {"io"},
    "data": BASE | {"io"},
    "text": BASE,
    "outputs": BASE | {"io"},
    "training": BASE | {"models", "text"},
    "models": BASE | {"config", "io", "text", "wire"},
    "analyses": BASE | {"backends", "bias", "config", "data", "models", "outputs", "shapley", "text"},
    "backends": BASE,
    "bias": BASE,
    "wire": BASE,
    "shapley": BASE | {"backends", "models", "text"},
    "report": BASE | {"config", "outputs"},
    # online explanations run the SHAP analysis (analyses) with a ClarifyExplainerConfig (config), baseline via io
    "serving": BASE | {"analyses", "config", "data", "io", "models", "text", "wire"},
    "_pipeline": BASE | {"analyses", "backends", "config", "data", "models", "outputs", "report", "text"},
    "monitoring": BASE | {"io", "outputs"},
    "workflow": BASE | {"io", "outputs"},
    "cli": BASE
    | {
        "_pipeline",
        "config",
        "data",
        "models",
        "monitoring",
        "outputs",
        "report",
        "serving",
        "training",
        "wire",
        "workflow",
    },
    "__init__": BASE | {"_pipeline", "config", "data", "models", "outputs", "shapley", "text", "training"},
    "__main__": {"cli"},
}


@functools.cache
def _imports() -> dict[str, set[str]]:
    """Per top-level part of the package, the other top-level parts it imports (at any depth)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        part = relative.parts[0] if len(relative.parts) > 1 else relative.stem
        folder = list(relative.parts[:-1])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[1:] for a in node.names if a.name.startswith("openclarify.")]
            elif isinstance(node, ast.ImportFrom):
                module = (node.module or "").split(".") if node.module else []
                if node.level == 0:
                    names = [module[1:]] if module and module[0] == "openclarify" else []
                else:
                    base = folder[: len(folder) - (node.level - 1)]
                    names = [base + module] if base + module else [[a.name] for a in node.names]
            else:
                continue
            for name in names:
                if name and name[0] != part:
                    found[part].add(name[0])
    return found


@pytest.mark.parametrize("part", sorted(ALLOWED))
def test_each_part_imports_only_the_layers_below_it(part):
    extra = _imports().get(part, set()) - ALLOWED[part]
    assert not extra, f"openclarify.{part} imports {sorted(extra)}, outside its layer {sorted(ALLOWED[part])}"


def test_every_part_of_the_package_has_a_layer():
    parts = {
        p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()
    }
    assert parts == set(ALLOWED)
