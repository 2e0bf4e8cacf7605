"""imgpipe: Conductor image workflows on AWS Step Functions and Lambda, runnable locally."""

__version__ = "0.1.0"
