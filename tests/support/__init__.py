"""Helpers shared by the test suites (image generators, fake Lambda context, fresh interpreters)."""
