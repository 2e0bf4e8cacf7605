"""Conductor task `image_convert_resize`: one source -> one rendition in S3."""
