"""Adapters between the core and the outside world: S3, SSRF-safe https fetch, source dispatch."""
