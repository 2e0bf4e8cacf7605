"""`${workflow.env.NAME}`: Conductor's environment variables, fixed when the workflow is translated.

Conductor (`ParametersUtils.replaceVariables`) reads `workflow.env.<name>` from its EnvironmentDAO
at run time: a value the operators keep per deployment, outside the workflow definition. Here the
values come from `translator.json` `workflow_env` (`{"NAME": value}`) and are written into the
definition as literals (a whole-value expression keeps the value's JSON type, one inside a string
becomes text, as Conductor's `Objects.toString`). `${workflow.secrets.NAME}` is refused: a secret
must never be part of a state machine definition (a worker reads it from Secrets Manager).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from statemachines.translator.diagnostics import Diagnostics
from statemachines.translator.expressions import Literal

ENV = "env"
SECRETS = "secrets"


def environment_value(
    expression: str,
    segments: list[str],
    location: str,
    environment: Mapping[str, Any],
    diagnostics: Diagnostics,
) -> Literal | None:
    """The value of `${workflow.env.NAME}`, or None (reported) when it cannot be given one."""
    if segments[0] == SECRETS:
        diagnostics.error(
            location,
            f"'${{{expression}}}': a secret never goes into a state machine definition; read it in a "
            "worker from Secrets Manager (or let an HTTP task's EventBridge connection send it)",
        )
        return None
    if len(segments) != 2 or segments[1].startswith("["):
        diagnostics.error(location, f"'${{{expression}}}': workflow.env takes one variable name")
        return None
    name = segments[1]
    if name not in environment:
        known = ", ".join(sorted(environment)) or "none"
        diagnostics.error(
            location,
            f"'${{{expression}}}': {name!r} is not in translator.json workflow_env (known: {known})",
        )
        return None
    return Literal(environment[name])
