"""Conductor task `upload_toS3`: publish a rendition to the output location."""
