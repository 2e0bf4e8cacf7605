"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized app."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks
from cfnlint.api import ManualArgs, lint

pytestmark = pytest.mark.slow


def test_nag_passes_with_every_acknowledgement_reasoned(synth):
    # Synthesis itself fails (ValidationFailed) on any unacknowledged AwsSolutions error, so
    # reaching here means zero; the report confirms no plugin reported a failure.
    report = json.loads((synth.outdir / "validation-report.json").read_text())
    assert all(r.get("conclusion") != "failure" for r in report["pluginReports"])
    key = Validations.ACKNOWLEDGED_RULES_METADATA_KEY
    acknowledged = [
        entry.data
        for construct in synth.stack.node.find_all()
        for entry in construct.node.metadata
        if entry.type == key
    ]
    reasons = {rule: reason for data in acknowledged for rule, reason in data.items()}
    assert len(reasons) >= 5
    for rule, reason in reasons.items():
        assert "AwsSolutions-" in rule
        assert len(reason.strip()) > 30, rule
    # Never a blanket acknowledgement: wildcard findings are acknowledged one resource at a time.
    assert not [r for r in reasons if r.endswith("AwsSolutions-IAM5")]


def test_destroy_mode_also_passes_nag(synth_destroy):
    assert synth_destroy.of_type("AWS::S3::Bucket")


def test_nag_is_really_applied(tmp_path):
    """Control: the same plugin rejects an unencrypted, unlogged bucket."""
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Control")
    s3.CfnBucket(stack, "Plain")
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match="AwsSolutions-S1"):
        app.synth()


def test_cfn_lint_has_no_errors(synth):
    template_path = synth.outdir / f"{synth.stack.stack_name}.template.json"
    found = lint(template_path.read_text(), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [m for m in found if m.rule.id.startswith("E")]
    assert errors == [], "\n".join(str(m) for m in errors)
