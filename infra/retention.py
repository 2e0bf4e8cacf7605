"""CloudWatch Logs retention from the `imgpipe:logRetentionDays` context value, and the log groups
the stack owns (created with it rather than implicitly by the service, so they expire and are removed)."""

from __future__ import annotations

from aws_cdk import aws_logs as logs
from constructs import Construct

from imgpipe.config import DeploymentConfig
from infra.storage import removal_policy

# CloudWatch Logs accepts only these retention periods (days -> CDK enum member).
_RETENTION_BY_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


class InvalidLogRetentionError(ValueError):
    """imgpipe:logRetentionDays is not a period CloudWatch Logs supports."""


def log_retention(days: int) -> logs.RetentionDays:
    try:
        return _RETENTION_BY_DAYS[days]
    except KeyError:
        raise InvalidLogRetentionError(
            f"imgpipe:logRetentionDays: {days} is not a CloudWatch Logs retention; "
            f"use one of {sorted(_RETENTION_BY_DAYS)}"
        ) from None


def owned_log_group(
    scope: Construct, construct_id: str, *, name: str, config: DeploymentConfig
) -> logs.LogGroup:
    """A log group with the deployment's retention and removal policy, created by the stack before
    the function or state machine that writes to it (no never-expiring implicit group)."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=log_retention(config.logRetentionDays),
        removal_policy=removal_policy(config),
    )
