"""Conductor reads a missing path as null; ASL fails on it. These states make every read path exist."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from statemachines.translator.emitter_state import EmitterState
from statemachines.translator.expressions import path_of

NULL_PATH = "$.workflow.missing"  # always null: the value a missing Conductor path reads as


class MissingPathsMixin(EmitterState):
    """The context skeleton and the Choice/Pass chains that default missing paths to null."""

    def _skeleton(self) -> dict[str, Any]:
        """`tasks` with every reference, and null at every read path: Conductor's missing value."""
        skeleton: dict[str, Any] = {ref: {"output": None} for ref in sorted(self.refs)}
        for path in sorted(self.scope.referenced):
            if path[0] != "tasks" or len(path) < 3:
                continue
            node = skeleton.setdefault(path[1], {})
            for depth, segment in enumerate(path[2:]):
                last = depth == len(path) - 3
                if not isinstance(node.get(segment), dict):
                    node[segment] = None if last else {}
                node = node[segment]
                if node is None:
                    break
        return skeleton

    def _ensure(
        self,
        paths: Iterable[tuple[str, ...]],
        label: str,
        states: dict[str, Any],
        next_name: str | None,
        *,
        guaranteed: int,
    ) -> str | None:
        """Choice/Pass states that create missing read paths (null leaves, {} parents).

        One Choice answers the common case (everything present); the chain below it runs only when
        something is missing. `guaranteed` is how many leading segments always exist.
        """
        wanted = sorted(set(paths))
        if not wanted:
            return next_name
        if next_name is None:
            next_name = self.names.allocate(f"{label}: ready")
            states[next_name] = {"Type": "Pass", "End": True}
        prefixes: list[tuple[str, ...]] = []
        for path in wanted:
            for depth in range(guaranteed + 1, len(path) + 1):
                if path[:depth] not in prefixes:
                    prefixes.append(path[:depth])
        parents = {p[:-1] for p in prefixes}
        leaves = [p for p in prefixes if p not in parents]
        checks = [{"Variable": path_of(p), "IsPresent": True} for p in leaves]
        follow = next_name
        for number, prefix in reversed(list(enumerate(prefixes, start=1))):
            check = self.names.allocate(f"{label}: check {number}")
            fix = self.names.allocate(f"{label}: default {number}")
            rules: list[dict[str, Any]] = [
                {"Not": {"Variable": path_of(prefix), "IsPresent": True}, "Next": fix}
            ]
            if prefix in parents:
                rules.append({"Variable": path_of(prefix), "IsNull": True, "Next": fix})
            states[check] = {"Type": "Choice", "Choices": rules, "Default": follow}
            states[fix] = {
                "Type": "Pass",
                "Comment": f"Conductor reads a missing {'.'.join(prefix)} as null",
                "ResultPath": path_of(prefix),
                "Next": follow,
            }
            if prefix in parents:
                states[fix]["Result"] = {}
            else:  # a null from the context: a Pass `Result` of null is easily read as "no Result"
                states[fix]["InputPath"] = NULL_PATH
            follow = check
        fast = self.names.allocate(f"{label}: all present?")
        condition = checks[0] if len(checks) == 1 else {"And": checks}
        states[fast] = {"Type": "Choice", "Choices": [{**condition, "Next": next_name}], "Default": follow}
        return fast

    def _ensure_outputs(self, ref: str, states: dict[str, Any], next_name: str | None) -> str | None:
        paths = [p for p in self.scope.referenced if p[:2] == ("tasks", ref) and len(p) > 3]
        return self._ensure(paths, ref, states, next_name, guaranteed=2)
