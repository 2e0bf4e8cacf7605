"""One EventBridge connection per authentication the deployed workflows' HTTP tasks use.

The translator emits an HTTP task as a Step Functions HTTP Task whose `Authentication.ConnectionArn`
is `${ConnectionArn_<name>}` (statemachines/translator/http.py): `<name>` is what translator.json's
`http_connections` gives the task, else `default`. This construct creates connection `<prefix>-<name>`
from `imgpipe:httpConnections.<name>` (NONE when not listed): its credential is read by CloudFormation
from the Secrets Manager secret `secretName` (a dynamic reference, never in the template), and
EventBridge keeps it in a secret of its own. An HTTP Task needs a connection even for an open API,
and EventBridge has no connection without authorization, so NONE is an API-key connection sending a
fixed, non-secret `x-imgpipe-connection: <name>` header
(https://docs.aws.amazon.com/step-functions/latest/dg/call-https-apis.html).

Permissions, as AWS CDK's own HttpInvoke grants them (aws/aws-cdk,
packages/aws-cdk-lib/aws-stepfunctions-tasks/lib/http/invoke.ts): `events:RetrieveConnectionCredentials`
on the connection, `secretsmanager:GetSecretValue`/`DescribeSecret` on its secret, and
`states:InvokeHTTPEndpoint` with `states:HTTPEndpoint` limited to the endpoints the workflow calls
(StringLike); here on the state machine's own ARN rather than CDK's `*` (not checked without AWS
that the action is evaluated against that ARN; CDK's `*` with the same condition is the fallback).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import ArnFormat, SecretValue, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from constructs import Construct

from imgpipe.config import DeploymentConfig, HttpConnection
from statemachines.translator.http import connection_name, connection_placeholder

OPEN_CONNECTION_HEADER = "x-imgpipe-connection"


def authorization(name: str, spec: HttpConnection) -> events.Authorization:
    if spec.authorization == "API_KEY":
        return events.Authorization.api_key(
            spec.apiKeyHeader, SecretValue.secrets_manager(str(spec.secretName), json_field="apiKey")
        )
    if spec.authorization == "BASIC":
        return events.Authorization.basic(
            SecretValue.secrets_manager(str(spec.secretName), json_field="username").unsafe_unwrap(),
            SecretValue.secrets_manager(str(spec.secretName), json_field="password"),
        )
    # not a secret: the name of the connection, so the endpoint can tell who calls
    return events.Authorization.api_key(OPEN_CONNECTION_HEADER, SecretValue.unsafe_plain_text(name))


class HttpConnections(Construct):
    """The connections of every translated workflow's HTTP tasks, keyed by connection name."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: DeploymentConfig, translated: Mapping[str, Any]
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        self.translated = translated
        users: dict[str, list[str]] = {}
        for name in sorted(translated):
            for connection in sorted(getattr(translated[name], "http_connections", ())):
                users.setdefault(connection, []).append(name)
        self.users = users
        self.connections: dict[str, events.Connection] = {
            connection: events.Connection(
                self,
                connection,
                connection_name=connection_name(config.prefix, connection),
                description=f"HTTP tasks of {', '.join(workflows)}"[:512],
                authorization=authorization(
                    connection, config.httpConnections.get(connection, HttpConnection())
                ),
            )
            for connection, workflows in users.items()
        }

    def substitutions(self) -> dict[str, dict[str, str]]:
        """Per workflow, the `${ConnectionArn_<name>}` values of its definition."""
        values: dict[str, dict[str, str]] = {}
        for connection, workflows in self.users.items():
            for workflow in workflows:
                values.setdefault(workflow, {})[connection_placeholder(connection)] = self.connections[
                    connection
                ].connection_arn
        return values

    def grant(self, role: iam.IRole, workflow: str) -> None:
        """What the workflow's HTTP Tasks need: its connections' credentials, its endpoints only."""
        tw = self.translated[workflow]
        used = [self.connections[c] for c in sorted(getattr(tw, "http_connections", ()))]
        if not used:
            return
        machine = Stack.of(self).format_arn(
            service="states",
            resource="stateMachine",
            resource_name=self.config.state_machine_name(workflow),
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )
        endpoints = {"StringLike": {"states:HTTPEndpoint": sorted(tw.http_endpoints)}}
        for statement in (
            iam.PolicyStatement(
                actions=["events:RetrieveConnectionCredentials"], resources=[c.connection_arn for c in used]
            ),
            iam.PolicyStatement(
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[c.connection_secret_arn for c in used],
            ),
            iam.PolicyStatement(
                actions=["states:InvokeHTTPEndpoint"], resources=[machine], conditions=endpoints
            ),
        ):
            role.add_to_principal_policy(statement)
