"""The workflow's steps as a Dagster job: one op per step, the branches of gates and choices as Dagster's
optional outputs (the op a branch does not take is skipped), every op running the step exactly as
``openclarify workflow run`` does, in the same run folders.

.. code-block:: python

    # examples/abalone/dagster_job.py; run with: dagster job execute -f examples/abalone/dagster_job.py
    from openclarify.workflow import dagster_job, load_workflow

    abalone = dagster_job(load_workflow("workflow.yaml"))

The first op opens a run folder under ``runs`` (as ``workflow run`` does, so a Dagster run reuses the steps
an earlier run of either kind did with the same inputs) and hands its path to the next; each op reads the
run's ``state.json``, runs its step and records it there. A failed step, a gate that holds the model
back or a ``fail`` step fails its op with the step's reason (a ``dagster.Failure``), so the Dagster run
fails; Dagster's "re-execute from failure" reruns that op in the same folder, where the steps done stay
done. Dagster needs a graph without cycles: a workflow whose ``next`` loops back is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from ..errors import ConfigError, MissingDependencyError
from ._run import WorkflowFailed, _open, _reopen
from ._spec import Step, Workflow

__all__ = ["dagster_job"]

_HINT: Final = "running a workflow as a Dagster job needs Dagster: pip install 'openclarify[dagster]'"


def _op_name(step: str) -> str:
    """A step name as a Dagster name (letters, digits and underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", step)


def successors(workflow: Workflow, step: Step) -> list[str]:
    """The steps ``step`` may go to, in order and without repeats."""
    targets = [workflow.after(step), step.on_fail, *(b.next for b in step.branches)]
    return list(dict.fromkeys(t for t in targets if t is not None))


def _order(workflow: Workflow) -> list[Step]:
    """The steps reachable from the first, each after every step that can lead to it; a cycle is refused."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            loop = " -> ".join([*path[path.index(name) :], name])
            raise ConfigError([(f"steps[{name}]", f"the workflow loops ({loop}); a Dagster job has no cycles.")],
                              document="the workflow")  # fmt: skip
        state[name] = "open"
        for following in successors(workflow, workflow.step(name)):
            visit(following, [*path, name])
        state[name] = "done"
        order.append(name)

    visit(workflow.steps[0].name, [])
    return [workflow.step(n) for n in reversed(order)]


def dagster_job(
    workflow: Workflow,
    *,
    runs: str | os.PathLike[str] | None = None,
    reuse: bool = True,
    name: str | None = None,
) -> Any:
    """``workflow`` as a ``dagster.JobDefinition`` named ``name`` (default: the workflow's, as a Dagster name).

    ``runs`` and ``reuse`` are those of :func:`openclarify.workflow.run_workflow`.

    Raises
    ------
    ConfigError
        The workflow loops, or two step names are the same Dagster name.
    MissingDependencyError
        Dagster is not installed.
    """
    try:
        import dagster
    except ImportError as exc:
        raise MissingDependencyError(_HINT) from exc
    steps = _order(workflow)
    names = [_op_name(s.name) for s in steps]
    if len(set(names)) != len(names):
        raise ConfigError([("steps", f"step names must stay distinct as Dagster names; got {names!r}.")],
                          document="the workflow")  # fmt: skip
    first = steps[0].name

    def make_op(step: Step) -> Any:
        outs = {_op_name(t): dagster.Out(str, is_required=False) for t in successors(workflow, step)}

        def run(context: Any, folder: Path, opened: Any = None) -> Iterator[Any]:
            def log(line: str) -> None:
                context.log.info(line)

            active = opened if opened is not None else _reopen(workflow, folder, reuse, log)
            try:
                following = active.execute(step, reuse=reuse)
            except WorkflowFailed as exc:
                raise dagster.Failure(description=str(exc), metadata={"run": str(active.folder)}) from None
            if following is None:
                active.state["status"] = "succeeded"
                active.save()
                return
            yield dagster.Output(str(active.folder), output_name=_op_name(following),
                                 metadata={"run": str(active.folder), "step": step.name})  # fmt: skip

        description = f"openclarify workflow step {step.name} ({step.type})"
        if step.name == first:

            @dagster.op(name=_op_name(step.name), out=outs, description=description)
            def start(context) -> Iterator[Any]:  # type: ignore[no-untyped-def]  # Dagster reads the annotation
                opened = _open(workflow, runs, None, reuse, lambda line: context.log.info(line))
                opened.state["status"] = "running"
                opened.state["dagster_run_id"] = context.run_id
                opened.save()
                yield from run(context, opened.folder, opened)

            return start

        @dagster.op(name=_op_name(step.name), ins={"came_from": dagster.In(list[str])}, out=outs,
                    description=description)  # fmt: skip
        def later(context, came_from: list[str]) -> Iterator[Any]:  # type: ignore[no-untyped-def]
            yield from run(context, Path(came_from[0]))

        return later

    ops = {s.name: make_op(s) for s in steps}
    incoming: dict[str, list[tuple[str, str]]] = {s.name: [] for s in steps}
    for step in steps:
        for following in successors(workflow, step):
            incoming[following].append((step.name, _op_name(following)))

    def body() -> None:
        produced: dict[str, Any] = {}
        for step in steps:
            if step.name == first:
                result = ops[step.name]()
            else:
                result = ops[step.name](came_from=[produced[f][o] for f, o in incoming[step.name]])
            outs = successors(workflow, step)
            if len(outs) == 1:
                result = (result,)
            produced[step.name] = dict(zip([_op_name(t) for t in outs], result or (), strict=True))

    return dagster.job(name=name or _op_name(workflow.name), description=f"openclarify workflow {workflow.name}")(body)
