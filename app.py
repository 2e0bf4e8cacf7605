#!/usr/bin/env python3
"""CDK entry point (`cdk synth` / `cdk deploy`); every imgpipe:* context key can be overridden with -c."""

from aws_cdk import App

from infra.application import build

app = App()
build(app)
app.synth()
