"""image_convert_resize: read the source, render, write the rendition once at its final key."""

from __future__ import annotations

from typing import Any

from lambdas.adapters import s3
from lambdas.adapters.sources import read_source
from lambdas.core.imaging import render_bytes
from lambdas.core.inputs import ResizeInput, build_validators, parse_resize_input
from lambdas.core.keys import rendition_digest, rendition_key
from lambdas.services.metadata import rendition_metadata
from lambdas.settings import ResizeSettings

build_validators(ResizeInput)  # at init: the input models are deferred (lambdas.core.inputs)


def convert_resize(event: Any, settings: ResizeSettings) -> dict[str, Any]:
    """Validate, render and publish one rendition; returns the task output of docs/architecture.md."""
    location, recipe = parse_resize_input(event, max_dimension=settings.max_output_dimension)
    bucket = settings.require_output_bucket()
    source = read_source(location, settings)
    location = source.location  # the key S3 really has (form-decoded when only that exists)
    rendered = render_bytes(source.body, recipe, settings.decode_limits())
    destination = s3.S3Location(
        bucket, rendition_key(settings.output_prefix, location, source.identity, recipe)
    )
    s3.put_object(
        destination,
        rendered.data,
        content_type=rendered.content_type,
        cache_control=settings.cache_control,
        metadata=rendition_metadata(
            location,
            rendition_digest(source.identity, recipe),
            recipe.canonical_json(),
            (rendered.width, rendered.height),
        ),
    )
    return {
        "fileLocation": destination.uri,
        "outputWidth": rendered.width,
        "outputHeight": rendered.height,
        "outputFormat": rendered.format,
        "contentType": rendered.content_type,
        "bytes": len(rendered.data),
        "sourceLocation": location,
    }
