"""Conductor's REST API over Step Functions, shared by the `conductor_api` Lambda (HTTP API on AWS)
and `imgpipe serve` (imgpipe/local/conductor_api.py): the same requests, answers and status document."""
