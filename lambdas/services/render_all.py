"""image_render_renditions: every rendition of one source from one GET and one decode.

The per-image unit of work of the default deployment (and of backfill's Distributed Map): the
recipe grid is the planner's (`lambdas.core.planner.planned_renditions`: same deduplication, limits
and field names), each rendition's key, bytes, metadata and Cache-Control are what
`image_convert_resize` writes for that recipe.

1. GET the source (its identity names every key); 2. unless `skipExisting` is false, HEAD every
key and the manifest's in a bounded pool: an object already at its content-addressed key (with the
matching digest metadata) is skipped, and when all are there nothing is decoded; 3. decode once
(JPEG draft decoding to the largest box of the whole recipe set, so the pixels, the placeholder and
the smart crop are the same whichever renditions were missing); 4. when the manifest is missing,
its placeholder (`lambdas.core.placeholder`) from the decoded frame; 5. render the missing
renditions one after the other (one CPU: a Lambda below 1,769 MB has at most one vCPU; the formats
of one size share one resize) while their PUTs run in the pool; 6. PUT the manifest
(`lambdas.core.manifest`: every rendition, srcset strings, the placeholder), after the renditions
it lists.

A HEAD per rendition, not one ListObjectsV2 of the source's folder: a LIST is priced like a PUT
($0.005 per 1,000) and a HEAD like a GET ($0.0004 per 1,000; https://aws.amazon.com/s3/pricing/),
so HEADs are cheaper up to 12 renditions, and a LIST of `<prefix><stem>/` would page through every
source that shares the stem.

One decode serves every size, so for a JPEG source the smaller renditions are resized from the
draft scale the largest one needs, where `image_convert_resize` drafts per rendition: the same key
can then hold pixels that differ by resampling rounding depending on which worker wrote it.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

from lambdas.adapters import s3
from lambdas.adapters.sources import read_source
from lambdas.core import manifest as manifests
from lambdas.core.errors import SourceNotFoundError
from lambdas.core.imaging import RenderedImage, SourceImage, load_source, render_each
from lambdas.core.inputs import RenditionsInput, build_validators, parse_event
from lambdas.core.keys import manifest_digest, manifest_key, rendition_digest, rendition_key
from lambdas.core.placeholder import Placeholder, placeholder
from lambdas.core.planner import PlannedRendition, planned_renditions
from lambdas.services import metadata as meta
from lambdas.settings import RenderAllSettings

# S3 requests in flight at once. Below botocore's default connection pool of 10
# (https://botocore.amazonaws.com/v2/documentation/api/latest/reference/config.html,
# max_pool_connections), so no request waits for a connection; boto3 clients are thread-safe
# (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html#multithreading-or-multiprocessing-with-clients).
MAX_CONCURRENT_REQUESTS = 8
FIELD = "fileLocation"

build_validators(RenditionsInput)  # at init: the input models are deferred (lambdas.core.inputs)

Result = TypeVar("Result")


@dataclass(frozen=True)
class Target:
    """One planned rendition and where it is published."""

    planned: PlannedRendition
    destination: s3.S3Location
    digest: str


@dataclass(frozen=True)
class Decoded:
    """What one decode gave: the renditions written, and the source facts the manifest needs."""

    written: dict[str, RenderedImage]
    size: tuple[int, int]
    source_format: str
    placeholder: Placeholder | None


def render_renditions(event: Any, settings: RenderAllSettings) -> dict[str, Any]:
    """Validate, then publish every missing rendition; returns the contract of docs/architecture.md."""
    parsed = parse_event(event, RenditionsInput)
    planned = planned_renditions(
        parsed, max_dimension=settings.max_output_dimension, max_fanout=settings.max_fanout
    )
    bucket = settings.require_output_bucket()
    source = read_source(parsed.fileLocation, settings)
    location = source.location  # the key S3 really has (form-decoded when only that exists)
    targets = [
        Target(
            item,
            s3.S3Location(
                bucket, rendition_key(settings.output_prefix, location, source.identity, item.recipe)
            ),
            rendition_digest(source.identity, item.recipe),
        )
        for item in planned
    ]
    recipes = [item.recipe for item in planned]
    manifest_at = s3.S3Location(
        bucket, manifest_key(settings.output_prefix, location, source.identity, recipes)
    )
    manifest_id = manifest_digest(source.identity, recipes)
    s3.client()  # built once here, shared by the pool's threads
    with ThreadPoolExecutor(MAX_CONCURRENT_REQUESTS, thread_name_prefix="s3") as pool:
        existing: list[dict[str, Any] | None] = [None] * len(targets)
        # nothing to find, or nothing wanted: a manifest that is not written counts as found
        manifest_found: dict[str, Any] | None = None if parsed.writeManifest else {}
        if parsed.skipExisting:
            found_manifest = (
                _submit(pool, _existing, manifest_at, manifest_id) if parsed.writeManifest else None
            )
            existing = [
                future.result()
                for future in [
                    _submit(pool, _existing, target.destination, target.digest) for target in targets
                ]
            ]
            manifest_found = found_manifest.result() if found_manifest else manifest_found
        missing = [target for target, found in zip(targets, existing, strict=True) if found is None]
        decoded = None
        if missing or manifest_found is None:
            decoded = _render_and_put(
                pool,
                source.body,
                location,
                targets=targets,
                missing=missing,
                settings=settings,
                with_placeholder=manifest_found is None,
            )
    written = decoded.written if decoded else {}
    renditions = [
        _output(target, written.get(target.destination.key), found)
        for target, found in zip(targets, existing, strict=True)
    ]
    if decoded is not None and decoded.placeholder is not None:
        _put_manifest(
            manifest_at,
            manifest_id,
            location=location,
            decoded=decoded,
            targets=targets,
            renditions=renditions,
            settings=settings,
        )
    return {
        "sourceLocation": location,
        "renditions": renditions,
        "rendered": len(missing),
        "skipped": len(targets) - len(missing),
        "manifestLocation": manifest_at.uri if parsed.writeManifest else None,
    }


def _submit(pool: ThreadPoolExecutor, function: Callable[..., Result], *args: Any) -> Future[Result]:
    """Run in the pool with a copy of this invocation's context (log keys, metrics, trace)."""
    return pool.submit(contextvars.copy_context().run, function, *args)


def _existing(destination: s3.S3Location, digest: str) -> dict[str, Any] | None:
    """The HEAD of the object if it is already published with this digest, else None."""
    try:
        head = s3.head_object(destination, FIELD)
    except SourceNotFoundError:
        return None
    found = {key.lower(): value for key, value in (head.get("Metadata") or {}).items()}
    return head if found.get(meta.DIGEST) == digest else None


def _render_and_put(
    pool: ThreadPoolExecutor,
    body: bytes,
    location: str,
    *,
    targets: list[Target],
    missing: list[Target],
    settings: RenderAllSettings,
    with_placeholder: bool,
) -> Decoded:
    """Decode once, take the placeholder if asked, render the missing renditions (`render_each`:
    the formats of one size share one resize), PUT each in the pool while the next one renders. At
    most MAX_CONCURRENT_REQUESTS encoded renditions wait for their PUT, so memory stays bounded.
    The draft box is the whole set's, missing or not: a re-run decodes the same pixels."""
    every = [target.planned.recipe for target in targets]
    recipes = [target.planned.recipe for target in missing]
    boxes = [] if any(recipe.upscale for recipe in every) else [(r.width, r.height) for r in every]
    # every recipe counted by the memory check: one decode, then one rendition at a time
    decoded = load_source(body, settings.decode_limits(), target_boxes=boxes, recipes=recipes)
    taken = _placeholder(decoded) if with_placeholder else None
    written: dict[str, RenderedImage] = {}
    pending: dict[Future[None], Target] = {}
    for index, rendered in render_each(decoded, recipes):
        target = missing[index]
        if len(pending) >= MAX_CONCURRENT_REQUESTS:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()  # a failed PUT stops the work: its typed error is the task's error
                del pending[future]
        pending[_submit(pool, _put, target, rendered, location, settings)] = target
        written[target.destination.key] = rendered
    for future in sorted(pending, key=lambda f: missing.index(pending[f])):
        future.result()  # deterministic: the first failed PUT in recipe order is the one raised
    return Decoded(written, decoded.size, decoded.source_format, taken)


def _placeholder(decoded: SourceImage) -> Placeholder:
    """From the first frame, before a render may release it."""
    return placeholder(decoded.still_frame())


def _put_manifest(
    destination: s3.S3Location,
    digest: str,
    *,
    location: str,
    decoded: Decoded,
    targets: list[Target],
    renditions: list[dict[str, Any]],
    settings: RenderAllSettings,
) -> None:
    """Written after every rendition it lists is in place, so a reader never follows a dead URL."""
    assert decoded.placeholder is not None
    listed = [
        manifests.ManifestRendition(
            location=target.destination.uri,
            key=target.destination.key,
            url=s3.https_url(target.destination),
            format=entry["outputFormat"],
            content_type=entry["contentType"],
            width=entry["outputWidth"],
            height=entry["outputHeight"],
            bytes=entry["bytes"],
            requested=(entry["requestedWidth"], entry["requestedHeight"]),
        )
        for target, entry in zip(targets, renditions, strict=True)
    ]
    document = manifests.manifest(
        source_location=location,
        source_size=decoded.size,
        source_format=decoded.source_format,
        placeholder=decoded.placeholder,
        renditions=listed,
    )
    s3.put_object(
        destination,
        manifests.manifest_bytes(document),
        content_type=manifests.CONTENT_TYPE,
        cache_control=settings.cache_control,
        metadata=meta.rendition_metadata(location, digest),
    )


def _put(target: Target, rendered: RenderedImage, location: str, settings: RenderAllSettings) -> None:
    s3.put_object(
        target.destination,
        rendered.data,
        content_type=rendered.content_type,
        cache_control=settings.cache_control,
        metadata=meta.rendition_metadata(
            location, target.digest, target.planned.recipe.canonical_json(), (rendered.width, rendered.height)
        ),
    )


def _output(target: Target, rendered: RenderedImage | None, head: dict[str, Any] | None) -> dict[str, Any]:
    """One rendition's entry; a skipped one is described from its HEAD (size from its metadata)."""
    recipe = target.planned.recipe
    if rendered is not None:
        size: tuple[int, int] | None = (rendered.width, rendered.height)
        content_type, length = rendered.content_type, len(rendered.data)
    else:
        assert head is not None  # every target is either rendered or found
        found = {key.lower(): value for key, value in (head.get("Metadata") or {}).items()}
        size = meta.rendition_size(found)
        content_type = str(head.get("ContentType") or recipe.output.content_type)
        length = int(head.get("ContentLength") or 0)
    return {
        "fileLocation": target.destination.uri,
        "outputFormat": recipe.format,
        "outputWidth": size[0] if size else None,
        "outputHeight": size[1] if size else None,
        "contentType": content_type,
        "bytes": length,
        "requestedWidth": recipe.width,
        "requestedHeight": recipe.height,
        "skipped": rendered is None,
    }
