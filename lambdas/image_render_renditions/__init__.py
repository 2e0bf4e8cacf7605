"""Conductor task `image_render_renditions`: one source -> every rendition of its recipe in S3."""
