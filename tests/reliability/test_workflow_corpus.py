"""The hostile corpus through the single-image workflow, end to end in the local runtime.

The same translated ASL and the same handlers as on AWS: each file ends SUCCEEDED with a correct
rendition, or FAILED with a typed non-retryable error after exactly one attempt of the failing
state (the translated Retry must not retry it), with bounded memory and the source untouched.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imgpipe.local.engine import LocalAws
from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES
from tests.reliability.checks import MEMORY_BOUND_BYTES, assert_rendition, expectations, peak_memory
from tests.reliability.corpus import CORPUS, CorpusItem
from tests.reliability.pipeline import (
    SINGLE_IMAGE_WORKFLOW,
    key_of,
    local_pipeline,
    objects,
    run,
    single_image_input,
)

CORPUS_PREFIX = "corpus/"  # outside the trigger's inputPrefix: only the explicit execution runs


@pytest.fixture(scope="module")
def aws() -> Iterator[LocalAws]:
    with local_pipeline() as runtime:
        yield runtime


@pytest.mark.parametrize("item", CORPUS, ids=lambda item: item.name)
def test_corpus_item_through_single_image_workflow(item: CorpusItem, aws: LocalAws) -> None:
    buckets = aws.deployment
    key = f"{CORPUS_PREFIX}{item.name}"
    aws.s3.put_object(Bucket=buckets.input_bucket, Key=key, Body=item.data)
    outputs_before = set(objects(aws, buckets.output_bucket))
    rendered, refused = expectations(item)

    with peak_memory() as memory:
        result = run(
            aws,
            SINGLE_IMAGE_WORKFLOW,
            single_image_input(f"s3://{buckets.input_bucket}/{key}", item.recipe),
            name=f"corpus-{item.name}",
        )
    print(f"{item.name}: {result.status} {result.error or ''} peak RSS +{memory.growth / 2**20:.1f} MiB")

    assert memory.growth < MEMORY_BOUND_BYTES
    assert aws.s3.get_object(Bucket=buckets.input_bucket, Key=key)["Body"].read() == item.data
    assert result.attempts("image_convert_resize") == 1, result.failures()
    new_outputs = {k: v for k, v in objects(aws, buckets.output_bucket).items() if k not in outputs_before}

    if result.status == "FAILED":
        assert refused is not None, f"{item.name} should render: {result.error}: {result.error_message()}"
        assert result.error in refused.errors, f"{item.name}: {result.error}"
        assert result.error in NON_RETRYABLE_ERROR_NAMES
        assert result.failures() == [result.error], "a non-retryable error was retried"
        assert refused.message.search(result.error_message()), result.error_message()
        assert result.error_message().startswith("fileLocation:"), "the message names the field"
        assert result.attempts("upload_toS3") == 0
        assert new_outputs == {}, "a refused source published something"
        return

    assert result.status == "SUCCEEDED", f"{item.name}: {result.status} {result.error}"
    assert rendered is not None, f"{item.name} should be refused, but rendered {result.output}"
    assert result.failures() == []
    published = key_of(result.output["fileLocation"])
    assert list(new_outputs) == [published]
    resize_output = result.lambda_results()[0]
    assert_rendition(item, rendered, new_outputs[published], resize_output)


def test_missing_source_fails_once_through_the_workflow(aws: LocalAws) -> None:
    location = f"s3://{aws.deployment.input_bucket}/{CORPUS_PREFIX}never-uploaded.jpg"
    recipe = {"outputFormat": "webp", "outputWidth": 10, "outputHeight": 10}
    result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(location, recipe), name="missing-source")
    assert (result.status, result.error) == ("FAILED", "SourceNotFoundError")
    assert result.attempts("image_convert_resize") == 1
    assert "never-uploaded.jpg" in result.error_message()
