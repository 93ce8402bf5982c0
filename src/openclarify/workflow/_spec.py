"""The workflow file (``workflow.yaml``): train -> explain -> gate -> deploy, as typed, validated steps.

A workflow is a list of steps run in order, with Step Functions' state types where they apply:

.. code-block:: yaml

    name: abalone
    steps:
      - name: train                       # a user script (or `trainer: blazingtext` + `args`)
        type: train
        script: examples/abalone/train.py
        args: ["--data", "data/abalone/abalone.csv", "--output", "{step}"]
        inputs: [data/abalone/abalone.csv]
        outputs: {model: model.joblib, metrics: metrics.json, test: test.csv}
      - name: explain                     # openclarify analyze
        type: analyze
        config: examples/abalone/analysis_config.json
        data: "{steps.train.test}"
        model: "{steps.train.model}"
      - name: gate                        # a Choice: every check must hold, else `on_fail`
        type: gate
        checks:
          - {value: "{steps.train.metrics}#r2", ">=": 0.5}
          - {top_feature: "{steps.explain}", not_in: [id]}
          - {bias: "{steps.explain}", metric: DPL, facet: Sex, abs_at_most: 0.2}
        on_fail: rejected
      - name: deploy                      # openclarify serve, /ping checked
        type: deploy
        model: "{steps.train.model}"
        keep_running: false
      - name: rejected
        type: fail
        error: ModelBelowThreshold
        cause: the model misses the business objective

A ``choice`` is Step Functions' Choice state: its ``choices`` are tried in order, each a list of checks
that must ``all`` (or ``any`` one of them) hold and the step it goes ``next`` to; when none holds, the run
goes to ``default``, or fails with ``States.NoChoiceMatched`` when there is none:

.. code-block:: yaml

      - name: route
        type: choice
        choices:
          - all: [{value: "{steps.train.metrics}#r2", ">=": 0.8}]
            next: deploy
          - any: [{value: "{steps.train.metrics}#r2", ">=": 0.5}, {value: "{steps.train.metrics}#rows", "<": 1000}]
            next: more-data
        default: rejected

``{step}`` is the step's own folder in the run; ``{steps.NAME}`` another step's folder and
``{steps.NAME.OUTPUT}`` one of its named outputs; ``FILE#a.b`` a value inside a JSON file (a JMESPath
expression). Relative paths are read from the workflow file's folder. A step without ``next`` goes on to
the following step; ``succeed`` and ``fail`` end the run.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from ..errors import ConfigError, MissingDependencyError

__all__ = [
    "COMPARISONS",
    "STEP_TYPES",
    "Branch",
    "Check",
    "Step",
    "StepType",
    "Workflow",
    "load_workflow",
    "parse_workflow",
]

StepType = Literal["train", "analyze", "gate", "choice", "deploy", "command", "succeed", "fail"]
STEP_TYPES: Final[tuple[StepType, ...]] = (
    "train", "analyze", "gate", "choice", "deploy", "command", "succeed", "fail",
)  # fmt: skip
COMPARISONS: Final = (">=", ">", "<=", "<", "==", "!=")
TRAINERS: Final = ("blazingtext", "huggingface")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
_REFERENCE = re.compile(r"\{steps\.([A-Za-z][A-Za-z0-9_-]*)(?:\.([A-Za-z0-9_-]+))?\}")
_DOCUMENT = "the workflow"


@dataclass(frozen=True, slots=True)
class Check:
    """One condition of a gate: ``kind`` is ``value`` (a number from a JSON file compared), ``top_feature``
    (the largest global attribution of an analysis is not one of ``values``), or ``bias`` (a bias metric's
    magnitude at most ``bound``)."""

    kind: Literal["value", "top_feature", "bias"]
    source: str
    comparison: str | None = None
    bound: float | None = None
    values: tuple[str, ...] = ()
    metric: str | None = None
    facet: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Branch:
    """One of a choice's ``choices``: the step ``next`` when ``all`` its checks hold (``any`` one, if ``any``);
    ``first`` is the position of its first check in the step's ``checks``."""

    checks: tuple[Check, ...]
    next: str
    any: bool = False
    first: int = 0


@dataclass(frozen=True, slots=True)
class Step:
    """A validated step; the fields a type does not use keep their defaults (``settings`` holds the rest).

    A gate's or a choice's ``checks`` are all its checks in order (a choice's: each branch's in turn);
    a choice's ``on_fail`` is its ``default``."""

    name: str
    type: StepType
    next: str | None = None
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    checks: tuple[Check, ...] = ()
    on_fail: str | None = None
    branches: tuple[Branch, ...] = ()


@dataclass(frozen=True, slots=True)
class Workflow:
    """A validated workflow: its steps in order, the folder relative paths are read from."""

    name: str
    steps: tuple[Step, ...]
    base_dir: Path
    source: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name)

    def after(self, step: Step) -> str | None:
        """The step that runs after ``step`` succeeds (None: the run ends); a choice names its own."""
        if step.type in ("succeed", "fail", "choice"):
            return None
        if step.next is not None:
            return step.next
        index = self.steps.index(step)
        following = self.steps[index + 1 :]
        # fail and succeed steps are only reached by name (on_fail, next), never by falling through
        return next((s.name for s in following if s.type not in ("fail",)), None)


_SETTINGS: Final[dict[str, dict[str, str]]] = {
    # key -> what it must be (for messages); required keys marked with a leading '!'
    "train": {"script": "a path", "trainer": "blazingtext or huggingface", "args": "a list of strings",
              "inputs": "a list of paths", "outputs": "a mapping of names to file names", "env": "a mapping"},
    "analyze": {"!config": "a path", "!data": "a path", "model": "a path or file.py:function",
                "endpoint_url": "a URL", "args": "a list of strings", "inputs": "a list of paths"},
    "gate": {},
    "choice": {},
    "deploy": {"!model": "a path", "explainer_config": "a path", "port": "an integer", "host": "a host",
               "keep_running": "true or false", "ping_timeout": "seconds", "args": "a list of strings"},
    "command": {"!args": "a list of strings", "inputs": "a list of paths", "outputs": "a mapping"},
    "succeed": {},
    "fail": {"error": "a string", "cause": "a string"},
}  # fmt: skip


def _show(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value)


def _check_setting(kind: str, key: str, value: Any, path: str, errors: list[tuple[str, str]]) -> None:
    ok = True
    if key in ("args", "inputs"):
        ok = _strings(value)
    elif key in ("outputs", "env"):
        ok = isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    elif key == "trainer":
        ok = value in TRAINERS
    elif key == "port":
        ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 65535
    elif key == "keep_running":
        ok = isinstance(value, bool)
    elif key == "ping_timeout":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value <= 3600
    else:
        ok = isinstance(value, str) and bool(value)
    if not ok:
        what = _SETTINGS[kind].get(key) or _SETTINGS[kind]["!" + key]
        errors.append((path, f"must be {what}; got {_show(value)}."))


def _check(raw: Any, path: str, errors: list[tuple[str, str]]) -> Check | None:
    if not isinstance(raw, Mapping):
        errors.append((path, f"must be a mapping such as {{value: 'file.json#r2', '>=': 0.5}}; got {_show(raw)}."))
        return None
    if "value" in raw:
        compared = [c for c in COMPARISONS if c in raw]
        unknown = sorted(set(raw) - {"value", *COMPARISONS})
        if len(compared) != 1 or unknown:
            errors.append((path, f"a value check has 'value' and one of {', '.join(COMPARISONS)}; got {_show(raw)}."))
            return None
        bound = raw[compared[0]]
        if not isinstance(bound, (int, float)) or isinstance(bound, bool) or not math.isfinite(bound):
            errors.append((f"{path}.{compared[0]}", f"must be a finite number; got {_show(bound)}."))
            return None
        if not isinstance(raw["value"], str) or "#" not in raw["value"]:
            errors.append(
                (f"{path}.value", f"must be 'FILE#jmespath' (a number in a JSON file); got {_show(raw['value'])}.")
            )
            return None
        return Check("value", raw["value"], comparison=compared[0], bound=float(bound))
    if "top_feature" in raw:
        unknown = sorted(set(raw) - {"top_feature", "not_in", "label"})
        values = raw.get("not_in")
        if unknown or not _strings(values) or not values:
            errors.append((path, "a top_feature check has 'top_feature' (an analysis folder), 'not_in' (feature "
                                 f"names) and optionally 'label'; got {_show(raw)}."))  # fmt: skip
            return None
        label = raw.get("label")
        return Check("top_feature", str(raw["top_feature"]), values=tuple(str(v) for v in values),
                     label=str(label) if label is not None else None)  # fmt: skip
    if "bias" in raw:
        unknown = sorted(set(raw) - {"bias", "metric", "facet", "abs_at_most"})
        bound = raw.get("abs_at_most")
        if (
            unknown
            or not isinstance(raw.get("metric"), str)
            or not isinstance(bound, (int, float))
            or isinstance(bound, bool)
        ):
            errors.append((path, "a bias check has 'bias' (an analysis folder), 'metric' (a code such as DPL), "
                                 f"'abs_at_most' (a number) and optionally 'facet'; got {_show(raw)}."))  # fmt: skip
            return None
        facet = raw.get("facet")
        return Check("bias", str(raw["bias"]), bound=float(bound), metric=raw["metric"],
                     facet=str(facet) if facet is not None else None)  # fmt: skip
    errors.append((path, f"must be a value, top_feature or bias check; got {_show(raw)}."))
    return None


def _branches(raw: Any, path: str, errors: list[tuple[str, str]]) -> list[Branch]:
    if not isinstance(raw, list) or not raw:
        errors.append((path, "must be a non-empty list of choices, each {all: [checks], next: step} "
                             f"(or any: [checks]); got {_show(raw)}."))  # fmt: skip
        return []
    branches: list[Branch] = []
    first = 0
    for j, choice in enumerate(raw):
        where = f"{path}[{j}]"
        if not isinstance(choice, Mapping):
            errors.append((where, f"must be a mapping {{all: [checks], next: step}}; got {_show(choice)}."))
            continue
        modes = [m for m in ("all", "any") if m in choice]
        for key in sorted(set(choice) - {"all", "any", "next"}):
            errors.append((f"{where}.{key}", "unknown key for a choice; it takes 'all' or 'any', and 'next'."))
        if len(modes) != 1:
            errors.append((where, "a choice has either 'all' (every check holds) or 'any' (one check holds); "
                                  f"got {_show(choice)}."))  # fmt: skip
            continue
        target = choice.get("next")
        if not isinstance(target, str):
            errors.append((f"{where}.next", f"must name the step this choice goes to; got {_show(target)}."))
            continue
        listed = choice[modes[0]]
        if not isinstance(listed, list) or not listed:
            errors.append((f"{where}.{modes[0]}", f"must be a non-empty list of checks; got {_show(listed)}."))
            continue
        checks = [_check(c, f"{where}.{modes[0]}[{k}]", errors) for k, c in enumerate(listed)]
        found = tuple(c for c in checks if c is not None)
        branches.append(Branch(found, target, any=modes[0] == "any", first=first))
        first += len(found)
    return branches


def parse_workflow(document: Mapping[str, Any], base_dir: str | os.PathLike[str] = ".") -> Workflow:
    """Validate a loaded workflow document (see the module docstring) and return it as a :class:`Workflow`.

    Raises
    ------
    ConfigError
        Every problem found, each with its path (``steps[2].checks[0].value: ...``).
    """
    errors: list[tuple[str, str]] = []
    if not isinstance(document, Mapping):
        raise ConfigError([("", f"a workflow must be a mapping with 'name' and 'steps'; got {_show(document)}.")],
                          document=_DOCUMENT)  # fmt: skip
    unknown = sorted(set(document) - {"name", "steps", "description"})
    for key in unknown:
        errors.append((key, "unknown key; the top level has 'name', 'steps' and 'description'."))
    name = document.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        errors.append(
            ("name", f"must be a name of letters, digits, '-' and '_' (starting with a letter); got {_show(name)}.")
        )
    raw_steps = document.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        errors.append(("steps", f"must be a non-empty list of steps; got {_show(raw_steps)}."))
        raise ConfigError(errors, document=_DOCUMENT)
    steps: list[Step] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_steps):
        path = f"steps[{i}]"
        if not isinstance(raw, Mapping):
            errors.append((path, f"must be a mapping with 'name' and 'type'; got {_show(raw)}."))
            continue
        step_name, kind = raw.get("name"), raw.get("type")
        if not isinstance(step_name, str) or not _NAME.fullmatch(step_name):
            errors.append((f"{path}.name", f"must be a name of letters, digits, '-' and '_'; got {_show(step_name)}."))
            continue
        if step_name in seen:
            errors.append((f"{path}.name", f"names must be unique; got {step_name!r} twice."))
        seen.add(step_name)
        if kind not in STEP_TYPES:
            errors.append((f"{path}.type", f"must be one of {', '.join(STEP_TYPES)}; got {_show(kind)}."))
            continue
        allowed = {k.lstrip("!") for k in _SETTINGS[kind]}
        common = {"name", "type", "next"} | ({"checks", "on_fail"} if kind == "gate" else set())
        if kind == "choice":
            common = {"name", "type", "choices", "default"}
        for key in sorted(set(raw) - allowed - common):
            errors.append(
                (f"{path}.{key}", f"unknown key for a {kind} step; it takes {', '.join(sorted(allowed | common))}.")
            )
        for key in (k[1:] for k in _SETTINGS[kind] if k.startswith("!")):
            if key not in raw:
                errors.append((f"{path}.{key}", f"required for a {kind} step ({_SETTINGS[kind]['!' + key]})."))
        for key in sorted(set(raw) & allowed):
            _check_setting(kind, key, raw[key], f"{path}.{key}", errors)
        if kind == "train" and ("script" in raw) == ("trainer" in raw):
            errors.append(
                (path, "a train step has either 'script' (a Python script) or 'trainer' (blazingtext, huggingface).")
            )
        if kind == "analyze" and ("model" in raw) == ("endpoint_url" in raw):
            errors.append((path, "an analyze step has either 'model' or 'endpoint_url'."))
        checks: list[Check] = []
        if kind == "gate":
            raw_checks = raw.get("checks")
            if not isinstance(raw_checks, list) or not raw_checks:
                errors.append((f"{path}.checks", f"must be a non-empty list of checks; got {_show(raw_checks)}."))
            else:
                for j, raw_check in enumerate(raw_checks):
                    check = _check(raw_check, f"{path}.checks[{j}]", errors)
                    if check is not None:
                        checks.append(check)
        branches: list[Branch] = []
        if kind == "choice":
            branches = _branches(raw.get("choices"), f"{path}.choices", errors)
            checks = [c for b in branches for c in b.checks]
        settings = {k: v for k, v in raw.items() if k in allowed}
        fallback = raw.get("default") if kind == "choice" else raw.get("on_fail")
        steps.append(
            Step(
                step_name,
                kind,
                next=raw.get("next") if isinstance(raw.get("next"), str) else None,
                settings=MappingProxyType(settings),
                checks=tuple(checks),
                on_fail=fallback if isinstance(fallback, str) else None,
                branches=tuple(branches),
            )
        )
    names = {s.name for s in steps}
    for i, step in enumerate(steps):
        targets = [("next", step.next), ("default" if step.type == "choice" else "on_fail", step.on_fail)]
        targets += [(f"choices[{j}].next", b.next) for j, b in enumerate(step.branches)]
        for key, target in targets:
            if target is not None and target not in names:
                errors.append(
                    (f"steps[{i}].{key}", f"names no step; got {target!r}. Steps: {', '.join(sorted(names))}.")
                )
        earlier = {s.name for s in steps[:i]}
        for value in _texts(dict(step.settings)) + [c.source for c in step.checks]:
            for match in _REFERENCE.finditer(value):
                if match.group(1) not in earlier:
                    errors.append((f"steps[{i}]", f"refers to {match.group(0)}, which is not a step before it."))
                    continue
                referred, output = next(s for s in steps if s.name == match.group(1)), match.group(2)
                outputs = referred.settings.get("outputs") or {}
                if output is not None and output not in outputs:
                    named = ", ".join(sorted(outputs)) or "none"
                    errors.append(
                        (f"steps[{i}]", f"refers to {match.group(0)}, but {referred.name} names no output {output!r} "
                                        f"(its outputs: {named}).")
                    )  # fmt: skip
    if errors:
        raise ConfigError(errors, document=_DOCUMENT)
    return Workflow(str(name), tuple(steps), Path(base_dir).resolve(), MappingProxyType(dict(document)))


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _texts(v)]
    if isinstance(value, Sequence):
        return [t for v in value for t in _texts(v)]
    return []


def load_workflow(path: str | os.PathLike[str]) -> Workflow:
    """Read and validate a workflow file: YAML (``.yaml``, ``.yml``) or JSON (``.json``).

    Raises
    ------
    ConfigError
        The file is missing or unreadable, or the workflow is invalid.
    """
    source = Path(path)
    where = f"workflow '{source}'"
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([("", f"{where}: file not found; check the path.")], document=_DOCUMENT) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([("", f"{where}: cannot be read ({exc}).")], document=_DOCUMENT) from None
    if source.suffix.lower() == ".json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                [("", f"{where}: not valid JSON (line {exc.lineno}: {exc.msg}).")], document=_DOCUMENT
            ) from None
    else:
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - a dependency of openclarify
            raise MissingDependencyError("workflow files need PyYAML: pip install pyyaml") from exc
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(
                [("", f"{where}: not valid YAML ({' '.join(str(exc).split())}).")], document=_DOCUMENT
            ) from None
    return parse_workflow(document, source.resolve().parent)
