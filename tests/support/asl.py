"""The Amazon States Language rules the workflow export relies on, checked offline."""

from __future__ import annotations

from typing import Any

__all__ = ["asl_problems"]


def _rule_problems(rule: dict[str, Any]) -> list[str]:
    """An ASL Choice rule: And/Or of rules, Not of one, or a Variable with one comparison of its type."""
    if set(rule) in ({"And"}, {"Or"}):
        (rules,) = rule.values()
        return [p for r in rules for p in _rule_problems(r)] if rules else ["an empty And/Or"]
    if set(rule) == {"Not"}:
        return _rule_problems(rule["Not"])
    comparisons = set(rule) - {"Variable"}
    if "Variable" not in rule or len(comparisons) != 1:
        return [f"a rule needs a Variable and one comparison: {rule}"]
    (comparison,) = comparisons
    kind = str if comparison.startswith("String") else float
    return [] if isinstance(rule[comparison], kind) else [f"{comparison} of a {type(rule[comparison]).__name__}"]


def asl_problems(machine: dict[str, Any]) -> list[str]:
    """The ASL rules this export relies on: StartAt and every Next/Default name a state, each non-terminal
    state goes on, every state is reachable, Choice rules are well formed."""
    states = machine["States"]
    problems = [] if machine.get("StartAt") in states else ["StartAt names no state"]
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        targets = [state["Next"]] if "Next" in state else []
        if state["Type"] == "Choice":
            targets += [rule["Next"] for rule in state["Choices"]] + ([state["Default"]] if "Default" in state else [])
            for rule in state["Choices"]:
                problems += [f"{name}: {p}" for p in _rule_problems({k: v for k, v in rule.items() if k != "Next"})]
        elif state["Type"] in ("Succeed", "Fail"):
            if "Next" in state or "End" in state:
                problems.append(f"{name}: a terminal state has Next/End")
        elif ("Next" in state) == bool(state.get("End")):
            problems.append(f"{name}: needs exactly one of Next and End")
        problems += [f"{name}: {t!r} names no state" for t in targets if t not in states]
        edges[name] = targets
    seen, todo = set(), [machine["StartAt"]]
    while todo:
        name = todo.pop()
        if name in seen or name not in states:
            continue
        seen.add(name)
        todo += edges[name]
    problems += [f"{name}: unreachable" for name in states if name not in seen]
    return problems
