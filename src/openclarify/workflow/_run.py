"""Running a workflow on one machine: each run in its own folder, steps whose inputs did not change reused.

A run lives in ``<runs>/<run id>/``: ``workflow.json`` (the workflow as run), ``state.json`` (every step's
status, timing, input digest, outputs, the gate's checks; rewritten atomically after each change), one
folder per step (its outputs; for ``analyze``, the analysis output folder itself) and ``logs/<step>.log``
(the step's stdout and stderr). A step's digest covers its settings after substitution, the content of
the files it names and the digests of the steps it refers to. A step whose digest a succeeded step of an
earlier run (or of the run being resumed) has is not run again: its folder is copied. The commands run
in the workflow file's folder, with this interpreter (``python -m openclarify ...``), so a workflow needs
nothing but openclarify.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import jmespath

from ..errors import ConfigError, OpenClarifyError
from ..io import write_atomic
from ..outputs import RecordSelection, read_output_folder
from ._spec import _REFERENCE, Check, Step, Workflow, _texts

__all__ = ["RunResult", "WorkflowFailed", "run_workflow"]

STATE: Final = "state.json"
_COMPARE: Final[dict[str, Callable[[float, float], bool]]] = {
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


class WorkflowFailed(OpenClarifyError):
    """A run ended in a failure: a step failed, a gate held it back, or a ``fail`` step was reached."""

    def __init__(self, message: str, run: Path) -> None:
        super().__init__(message)
        self.run = run


@dataclass
class RunResult:
    """Where the run is, how it ended (``succeeded``), and each step's record as in ``state.json``."""

    run: Path
    succeeded: bool
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    message: str = ""


def _digest_path(path: Path, hasher: Any) -> None:
    if path.is_file():
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                hasher.update(block)
    elif path.is_dir():
        for child in sorted(p for p in path.rglob("*") if p.is_file()):
            hasher.update(str(child.relative_to(path)).encode())
            _digest_path(child, hasher)


class _Run:
    def __init__(self, workflow: Workflow, folder: Path, earlier: list[Path], log: Callable[[str], None]) -> None:
        self.workflow = workflow
        self.folder = folder
        self.earlier = earlier
        self.log = log
        path = folder / STATE
        self.state: dict[str, Any] = (
            json.loads(path.read_text()) if path.is_file() else {"workflow": workflow.name, "steps": {}}
        )
        # the digests of the steps this run has done (a step's digest covers those of the steps it refers to)
        self.digests: dict[str, str] = {
            n: r["digest"] for n, r in self.state["steps"].items() if r.get("status") == "succeeded" and "digest" in r
        }

    # -- bookkeeping ------------------------------------------------------------------------------------
    def save(self) -> None:
        write_atomic(self.folder / STATE, (json.dumps(self.state, indent=2, allow_nan=False) + "\n").encode())

    def record(self, step: str) -> dict[str, Any]:
        return self.state["steps"].setdefault(step, {})  # type: ignore[no-any-return]

    # -- substitution -----------------------------------------------------------------------------------
    def step_dir(self, name: str) -> Path:
        return self.folder / name

    def resolve(self, text: str, step: Step) -> str:
        def reference(match: re.Match[str]) -> str:
            name, output = match.group(1), match.group(2)
            folder = self.step_dir(name)
            if output is None:
                return str(folder)
            outputs = self.workflow.step(name).settings.get("outputs") or {}
            if output not in outputs:
                raise ConfigError(f"{match.group(0)}: step {name!r} names no output {output!r}.", path=step.name)
            return str(folder / outputs[output])

        return _REFERENCE.sub(reference, text.replace("{step}", str(self.step_dir(step.name))))

    def path(self, text: str, step: Step) -> Path:
        resolved = Path(self.resolve(text, step))
        return resolved if resolved.is_absolute() else self.workflow.base_dir / resolved

    def digest(self, step: Step) -> str:
        hasher = hashlib.sha256()
        hasher.update(json.dumps([step.type, dict(step.settings), [c.__repr__() for c in step.checks]],
                                 sort_keys=True, default=str).encode())  # fmt: skip
        texts = _texts(dict(step.settings)) + [c.source for c in step.checks]
        for text in texts:
            for match in _REFERENCE.finditer(text):
                hasher.update(self.digests.get(match.group(1), "").encode())
            if "{" in text.replace("{step}", ""):
                continue  # another step's output: its digest stands for it
            candidate = self.workflow.base_dir / text.split("#")[0]
            if text and not text.startswith("-") and candidate.exists():
                hasher.update(text.encode())
                _digest_path(candidate, hasher)
        return hasher.hexdigest()

    def reusable(self, step: Step, digest: str) -> Path | None:
        """A folder of an earlier run whose step ``step.name`` succeeded with ``digest``."""
        for run in self.earlier:
            try:
                record = json.loads((run / STATE).read_text())["steps"].get(step.name, {})
            except (OSError, ValueError):
                continue
            if record.get("status") == "succeeded" and record.get("digest") == digest and (run / step.name).is_dir():
                return run
        return None

    # -- steps ------------------------------------------------------------------------------------------
    def command(self, step: Step, argv: list[str], env: Mapping[str, str] | None = None) -> None:
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        log_path = logs / f"{step.name}.log"
        self.record(step.name)["log"] = str(log_path.relative_to(self.folder))
        with log_path.open("w") as out:
            out.write("$ " + " ".join(argv) + "\n")
            out.flush()
            environment = {**os.environ, **(env or {})}
            done = subprocess.run(
                argv, cwd=self.workflow.base_dir, stdout=out, stderr=subprocess.STDOUT, env=environment, check=False
            )
        if done.returncode != 0:
            tail = log_path.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            raise _StepFailed(f"exited with {done.returncode}: {tail[0][:300]} (log: {log_path})")

    def openclarify(self, step: Step, *args: str) -> None:
        self.command(step, [sys.executable, "-m", "openclarify", *args])

    def run_step(self, step: Step) -> str | None:
        """Run ``step``; the name of the next step, or None when the run ends."""
        settings = step.settings
        folder = self.step_dir(step.name)
        args = [self.resolve(str(a), step) for a in settings.get("args", [])]
        if step.type == "train":
            folder.mkdir(parents=True, exist_ok=True)
            if "script" in settings:
                env = {"OPENCLARIFY_STEP_DIR": str(folder)}
                env.update({k: self.resolve(v, step) for k, v in (settings.get("env") or {}).items()})
                self.command(step, [sys.executable, str(self.path(settings["script"], step)), *args], env)
            else:
                algorithm = [] if settings["trainer"] == "blazingtext" else ["--algorithm", "huggingface"]
                self.openclarify(step, "train", *algorithm, "--output", str(folder), *args)
            self._check_outputs(step)
        elif step.type == "analyze":
            model = (["--model", str(self.path(settings["model"], step))] if "model" in settings
                     else ["--endpoint-url", self.resolve(settings["endpoint_url"], step)])  # fmt: skip
            self.openclarify(
                step, "analyze", "--config", str(self.path(settings["config"], step)), "--data",
                str(self.path(settings["data"], step)), *model, "--output", str(folder), "--quiet", *args,
            )  # fmt: skip
        elif step.type == "command":
            folder.mkdir(parents=True, exist_ok=True)
            self.openclarify(step, *args)
            self._check_outputs(step)
        elif step.type == "gate":
            folder.mkdir(parents=True, exist_ok=True)
            results = [self.check(c, step) for c in step.checks]
            self.record(step.name)["checks"] = results
            failed = [r for r in results if not r["passed"]]
            write_atomic(folder / "checks.json", (json.dumps(results, indent=2) + "\n").encode())
            if failed:
                reason = "; ".join(r["message"] for r in failed)
                self.log(f"gate {step.name}: held back: {reason}")
                if step.on_fail is None:
                    raise _StepFailed(f"the gate held the model back: {reason}")
                self.record(step.name)["outcome"] = "on_fail"
                return step.on_fail
            self.log(f"gate {step.name}: passed ({len(results)} checks)")
        elif step.type == "choice":
            folder.mkdir(parents=True, exist_ok=True)
            return self.choose(step, folder)
        elif step.type == "deploy":
            folder.mkdir(parents=True, exist_ok=True)
            self.deploy(step, folder, args)
        elif step.type == "fail":
            error = settings.get("error", "WorkflowFailed")
            raise _Ended(f"{error}: {settings.get('cause', 'the workflow reached a fail step')}")
        elif step.type == "succeed":
            return None
        return self.workflow.after(step)

    def choose(self, step: Step, folder: Path) -> str:
        """The first branch of a choice whose checks hold (every branch is evaluated, for the record)."""
        results = [self.check(c, step) for c in step.checks]
        branches, chosen = [], None
        for j, branch in enumerate(step.branches):
            mine = results[branch.first : branch.first + len(branch.checks)]
            held = (any if branch.any else all)(r["passed"] for r in mine)
            branches.append({"choice": j, "next": branch.next, "mode": "any" if branch.any else "all",
                             "held": held, "checks": mine})  # fmt: skip
            if held and chosen is None:
                chosen = (j, branch.next)
        record = self.record(step.name)
        record["choices"] = branches
        write_atomic(folder / "checks.json", (json.dumps(branches, indent=2) + "\n").encode())
        if chosen is not None:
            record["outcome"] = f"choices[{chosen[0]}]"
            self.log(f"choice {step.name}: choices[{chosen[0]}] holds: next {chosen[1]}")
            return chosen[1]
        reason = "; ".join(r["message"] for r in results if not r["passed"])
        if step.on_fail is None:
            raise _StepFailed(f"States.NoChoiceMatched: no choice holds and there is no default ({reason})")
        record["outcome"] = "default"
        self.log(f"choice {step.name}: no choice holds ({reason}): default {step.on_fail}")
        return step.on_fail

    def _check_outputs(self, step: Step) -> None:
        outputs = step.settings.get("outputs") or {}
        missing = [f"{k} ({v})" for k, v in outputs.items() if not (self.step_dir(step.name) / v).exists()]
        if missing:
            raise _StepFailed(f"did not write its outputs {', '.join(missing)} into {self.step_dir(step.name)}")
        self.record(step.name)["outputs"] = {k: str(self.step_dir(step.name) / v) for k, v in outputs.items()}

    def check(self, check: Check, step: Step) -> dict[str, Any]:
        source = self.resolve(check.source, step)
        if check.kind == "value":
            file, _, expression = source.partition("#")
            path = Path(file) if Path(file).is_absolute() else self.workflow.base_dir / file
            try:
                found = jmespath.search(expression, json.loads(path.read_text()))
            except (OSError, ValueError, jmespath.exceptions.JMESPathError) as exc:
                return {"check": check.source, "passed": False, "message": f"{source}: cannot be read ({exc})"}
            if not isinstance(found, (int, float)) or isinstance(found, bool) or not math.isfinite(found):
                return {"check": check.source, "passed": False, "message": f"{source}: not a number; got {found!r}"}
            assert check.comparison is not None and check.bound is not None  # noqa: S101 - a value check has them
            passed = _COMPARE[check.comparison](float(found), check.bound)
            message = f"{expression} = {found!r} {'' if passed else 'not '}{check.comparison} {check.bound!r}"
            return {"check": check.source, "passed": passed, "value": found, "message": message}
        folder = Path(source) if Path(source).is_absolute() else self.workflow.base_dir / source
        try:
            job = read_output_folder(folder, RecordSelection.rows([0]))
        except OpenClarifyError as exc:
            return {"check": check.source, "passed": False, "message": str(exc)}
        if check.kind == "top_feature":
            summaries = [s for s in job.summaries if check.label is None or s.label == check.label]
            if not summaries:
                return {"check": check.source, "passed": False, "message": f"{source}: no SHAP values to rank"}
            tops = {s.label: max(s.global_shap_values, key=lambda n: abs(s.global_shap_values[n])) for s in summaries}
            leaked = {label: top for label, top in tops.items() if top in check.values}
            message = (f"the top feature is {', '.join(f'{t!r} ({lb})' for lb, t in tops.items())}"
                       + (f": one of {list(check.values)!r}" if leaked else ""))  # fmt: skip
            return {"check": check.source, "passed": not leaked, "value": tops, "message": message}
        worst: tuple[float, str] | None = None
        for stage in job.bias:
            for facet in stage.facets:
                if check.facet is not None and facet.name != check.facet:
                    continue
                for group in facet.groups:
                    metric = group.metric(check.metric or "")
                    if metric is not None and metric.value is not None:
                        where = f"{stage.stage} {facet.name}={group.value_or_threshold}"
                        if worst is None or abs(metric.value) > worst[0]:
                            worst = (abs(metric.value), where)
        if worst is None:
            return {"check": check.source, "passed": False, "message": f"{source}: no value of {check.metric}"}
        assert check.bound is not None  # noqa: S101 - a bias check has one
        passed = worst[0] <= check.bound
        message = f"|{check.metric}| = {worst[0]!r} at {worst[1]} {'<=' if passed else '>'} {check.bound!r}"
        return {"check": check.source, "passed": passed, "value": worst[0], "message": message}

    def deploy(self, step: Step, folder: Path, args: list[str]) -> None:
        settings = step.settings
        host = str(settings.get("host", "127.0.0.1"))
        port = int(settings.get("port", 0))
        if port == 0:
            with socket.socket() as probe:
                probe.bind((host, 0))
                port = probe.getsockname()[1]
        argv = [sys.executable, "-m", "openclarify", "serve", "--model", str(self.path(settings["model"], step)),
                "--host", host, "--port", str(port), "--workers", "1", *args]  # fmt: skip
        if "explainer_config" in settings:
            argv += ["--explainer-config", str(self.path(settings["explainer_config"], step))]
        logs = self.folder / "logs"
        logs.mkdir(exist_ok=True)
        log_path = logs / f"{step.name}.log"
        keep = bool(settings.get("keep_running", True))
        with log_path.open("w") as out:
            out.write("$ " + " ".join(argv) + "\n")
            out.flush()
            server = subprocess.Popen(argv, cwd=self.workflow.base_dir, stdout=out, stderr=subprocess.STDOUT,
                                      start_new_session=keep)  # fmt: skip
        url = f"http://{host}:{port}"
        record = self.record(step.name)
        record.update({"url": url, "pid": server.pid, "log": str(log_path.relative_to(self.folder))})
        deadline = time.monotonic() + float(settings.get("ping_timeout", 120))
        while True:
            try:
                with urllib.request.urlopen(url + "/ping", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                if server.poll() is None:
                    server.kill()
                    server.wait()
                raise _StepFailed(f"the server did not answer /ping with 200 at {url} (log: {log_path})")
            time.sleep(0.1)
        self.log(f"deploy {step.name}: serving at {url} (/ping 200)")
        write_atomic(folder / "server.json", (json.dumps({"url": url, "pid": server.pid}) + "\n").encode())
        if not keep:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            record["stopped"] = True
            self.log(f"deploy {step.name}: stopped (keep_running: false)")

    def execute(self, step: Step, *, reuse: bool = True) -> str | None:
        """Run ``step`` (or reuse it: done in this run already, or in an earlier run with the same digest),
        recording it in ``state.json``; the name of the step that follows (None: the run ends).

        Raises
        ------
        WorkflowFailed
            The step failed, a gate held the model back, or a ``fail`` step was reached.
        """
        name, workflow, log = step.name, self.workflow, self.log
        record = self.record(name)
        digest = self.digest(step)
        self.digests[name] = digest
        if record.get("status") == "succeeded" and record.get("digest") == digest and step.type not in ("deploy",):
            log(f"step {name}: done in this run already")
            return record.get("next_step")
        reusable = reuse and step.type not in ("deploy", "gate", "choice", "fail")
        source = self.reusable(step, digest) if reusable else None
        started = time.time()
        record.clear()
        record.update({"type": step.type, "digest": digest, "status": "running", "started": started})
        self.save()
        try:
            if source is not None:
                if self.step_dir(name).exists():
                    shutil.rmtree(self.step_dir(name))
                shutil.copytree(source / name, self.step_dir(name))
                outputs = step.settings.get("outputs") or {}
                record["outputs"] = {k: str(self.step_dir(name) / v) for k, v in outputs.items()}
                record["reused_from"] = source.name
                log(f"step {name}: inputs unchanged since run {source.name}: reused")
                following = workflow.after(step)
            else:
                log(f"step {name} ({step.type}) ...")
                if self.step_dir(name).exists() and step.type in ("analyze", "train", "command"):
                    shutil.rmtree(self.step_dir(name))  # a step the killed run had begun starts afresh
                following = self.run_step(step)
        except (_StepFailed, _Ended, OpenClarifyError) as exc:
            record.update({"status": "failed", "ended": time.time(), "seconds": round(time.time() - started, 3)})
            record["error"] = str(exc)
            self.state["status"] = "failed"
            self.save()
            raise WorkflowFailed(f"step {name}: {exc}", self.folder) from None
        except BaseException:
            record.update({"status": "interrupted", "ended": time.time()})
            self.state["status"] = "interrupted"
            self.save()
            raise
        record.update({"status": "succeeded", "ended": time.time(), "seconds": round(time.time() - started, 3),
                       "next_step": following})  # fmt: skip
        self.save()
        return following


class _StepFailed(Exception):
    pass


class _Ended(Exception):
    pass


def _open(
    workflow: Workflow,
    runs: str | os.PathLike[str] | None,
    resume: str | None,
    reuse: bool,
    log: Callable[[str], None],
) -> _Run:
    """A new run folder under ``runs`` (or the run ``resume`` names), with the earlier runs it may reuse."""
    # absolute: the steps run in the workflow file's folder, and {step} must name the same folder there
    root = (Path(runs) if runs is not None else workflow.base_dir / "workflow_runs" / workflow.name).resolve()
    root.mkdir(parents=True, exist_ok=True)
    previous = sorted((p for p in root.iterdir() if (p / STATE).is_file()), key=lambda p: p.name, reverse=True)
    if resume is not None:
        chosen = previous[0] if resume == "last" and previous else root / resume
        if not (chosen / STATE).is_file():
            raise ConfigError(
                f"no run {resume!r} under {root}; runs: {[p.name for p in previous][:10]!r}.", path="resume"
            )
        folder = chosen
    else:
        folder = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        folder.mkdir()
    (folder / "workflow.json").write_text(json.dumps(dict(workflow.source), indent=2, default=str) + "\n")
    return _Run(workflow, folder, [p for p in previous if p != folder] if reuse else [], log)


def _reopen(workflow: Workflow, folder: Path, reuse: bool, log: Callable[[str], None]) -> _Run:
    """The run in ``folder`` (made by :func:`_open`), as another process sees it."""
    earlier = sorted((p for p in folder.parent.iterdir() if p != folder and (p / STATE).is_file()),
                     key=lambda p: p.name, reverse=True) if reuse else []  # fmt: skip
    return _Run(workflow, folder, earlier, log)


def run_workflow(
    workflow: Workflow,
    *,
    runs: str | os.PathLike[str] | None = None,
    resume: str | None = None,
    reuse: bool = True,
    log: Callable[[str], None] = lambda line: None,
) -> RunResult:
    """Run ``workflow`` in a new folder under ``runs`` (default ``workflow_runs/<name>`` beside the file), or
    continue the run ``resume`` (a run id, or ``"last"``) at the step it had reached.

    ``reuse=False`` runs every step, whatever earlier runs hold.

    Raises
    ------
    WorkflowFailed
        A step failed, a gate held the model back without ``on_fail``, or a ``fail`` step was reached; the
        run's folder records it.
    ConfigError
        ``resume`` names no run.
    """
    run = _open(workflow, runs, resume, reuse, log)
    run.state["status"] = "running"
    run.save()
    name: str | None = workflow.steps[0].name
    result = RunResult(run.folder, False)
    while name is not None:
        name = run.execute(workflow.step(name), reuse=reuse)
    run.state["status"] = "succeeded"
    run.save()
    result.succeeded = True
    result.steps = run.state["steps"]
    return result
