"""Suite-wide safety: tests can never reach a real AWS account.

Fake credentials and region are set before any test module imports boto3, so a test that forgot its
moto context fails against moto's fake endpoints or with an auth error, instead of touching a real
account. X-Ray tracing is off: there is no daemon here.
"""

from __future__ import annotations

import os

_SAFE_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "imgpipe-tests",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
}
os.environ.pop("AWS_PROFILE", None)
os.environ.update(_SAFE_ENVIRONMENT)
