"""`imgpipe backfill` against `imgpipe serve` (loopback HTTP, the real render-all worker): 500
generated images with 5 corrupt ones and one non-image key render 495 sources, name the 5 failures in
the ResultWriter report, lose none; the second run renders nothing."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from PIL import Image

from imgpipe.cli import main
from imgpipe.commands.backfill import read_report
from imgpipe.config import DeploymentConfig
from lambdas.core.errors import NON_RETRYABLE_ERROR_NAMES
from lambdas.core.keys import MANIFEST_NAME
from tests.support.served import serve_in_thread

pytestmark = pytest.mark.slow

CONFIG = DeploymentConfig.from_cdk_json()
PREFIX = "archive/"
SOURCES = 500
CORRUPT = frozenset({7, 123, 250, 377, 499})
RECIPE = {
    "outputFormats": ["webp", "jpg"],
    "outputSizes": [{"width": 8, "height": 8}],
    "maintainAspectRatio": True,
}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_in_thread(tmp_path_factory.mktemp("serve") / "worker-logs.jsonl") as (info, _, _):
        yield info.endpoint_url


def _client(endpoint: str, service: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")  # type: ignore[call-overload]


def _png(index: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 12), (index % 256, (index * 7) % 256, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def _key(index: int) -> str:
    # Mixed suffix case: the Choice matches the configured suffixes in any letter case, as the trigger does.
    return f"{PREFIX}img-{index:04d}.{'PNG' if index % 2 else 'png'}"


def _backfill(
    capsys: pytest.CaptureFixture[str], endpoint: str, recipe_file: str
) -> tuple[int, dict[str, Any]]:
    code = main(
        ["backfill", "--prefix", PREFIX, "--recipe", f"@{recipe_file}", "--endpoint-url", endpoint, "--json"]
    )
    out = capsys.readouterr().out
    # The server's workers log to this process's stdout too; the command's own output is its last line.
    return code, json.loads(out.strip().splitlines()[-1])


def test_backfill_renders_every_image_once_and_reruns_render_nothing(
    endpoint: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    input_bucket = f"{CONFIG.prefix}-input-local"
    output_bucket = f"{CONFIG.prefix}-output-local"
    s3 = _client(endpoint, "s3")
    originals = {}
    for index in range(SOURCES):
        body = b"\xff\xd8 not really an image" if index in CORRUPT else _png(index)
        s3.put_object(Bucket=input_bucket, Key=_key(index), Body=body)
        originals[_key(index)] = body
    s3.put_object(Bucket=input_bucket, Key=f"{PREFIX}notes.txt", Body=b"not an image key")
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps(RECIPE))

    code, first = _backfill(capsys, endpoint, str(recipe_file))
    assert set(first) == {"items", "succeeded", "failed", "skipped", "renditions", "report"}
    assert (first["items"], first["succeeded"], first["failed"], first["skipped"]) == (500, 495, 5, 0)
    assert first["renditions"] == 495 * 2
    assert code == 1  # some sources failed
    bucket, key = first["report"][len("s3://") :].split("/", 1)
    assert bucket == output_bucket
    assert key.startswith(CONFIG.backfillReportPrefix)

    report = read_report(s3, bucket, key, source_bucket=input_bucket)
    expected = {f"s3://{input_bucket}/{_key(i)}" for i in range(SOURCES)}
    assert sorted(report.sources) == sorted(expected)  # every source exactly once: none lost, none twice
    assert {f.source for f in report.failures} == {f"s3://{input_bucket}/{_key(i)}" for i in CORRUPT}
    assert all(f.error in NON_RETRYABLE_ERROR_NAMES and f.cause for f in report.failures)
    assert report.ignored == 1
    written = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=output_bucket, Prefix=CONFIG.outputPrefix
        )
        for obj in page.get("Contents", [])
    ]
    manifests = [key for key in written if key.endswith(f"/{MANIFEST_NAME}")]
    assert len(written) - len(manifests) == 495 * 2
    assert len(manifests) == 495  # one per rendered source (image_render_renditions writes it)
    for source_key, body in originals.items():  # the sources are untouched
        assert s3.get_object(Bucket=input_bucket, Key=source_key)["Body"].read() == body

    code, second = _backfill(capsys, endpoint, str(recipe_file))
    assert (second["items"], second["succeeded"], second["failed"]) == (500, 495, 5)
    assert second["skipped"] == 495
    assert second["renditions"] == 0
    assert second["report"] != first["report"]


def test_backfill_refuses_a_bad_recipe_naming_the_field(
    endpoint: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    recipe_file = tmp_path / "recipe.json"
    recipe_file.write_text(json.dumps({"outputFormats": [], "outputSizes": [{"width": 8, "height": 8}]}))
    code, answer = _backfill(capsys, endpoint, str(recipe_file))
    assert code == 2
    assert answer["status"] == "USAGE_ERROR"
    assert "outputFormats" in answer["cause"]
