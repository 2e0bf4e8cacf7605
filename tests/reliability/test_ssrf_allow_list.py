"""The URL host allow-list, through the workflow, on an engine of its own: test_ssrf_workflow's
module-scoped engine would otherwise still be running (one local engine per process at a time)."""

from __future__ import annotations

from tests.reliability.pipeline import (
    SINGLE_IMAGE_WORKFLOW,
    default_config,
    local_pipeline,
    run,
    single_image_input,
)
from tests.reliability.test_ssrf_workflow import (  # noqa: F401  (internet, internet_dir: fixtures)
    RECIPE,
    FakeInternet,
    _resize_on_the_fake_internet,
    internet,
    internet_dir,
)


def test_the_host_allow_list_is_enforced_through_the_workflow(internet: FakeInternet) -> None:  # noqa: F811
    config = default_config(allowedUrlHosts=["cdn.example.com"])
    with local_pipeline(config, faults=_resize_on_the_fake_internet(internet.log.parent)) as aws:
        url = "https://images.example.com/photo.jpg"
        result = run(aws, SINGLE_IMAGE_WORKFLOW, single_image_input(url, RECIPE), name="ssrf-allow-list")
        assert (result.status, result.error) == ("FAILED", "SourceRefusedError")
        assert "ALLOWED_URL_HOSTS" in result.error_message()
        assert result.attempts("image_convert_resize") == 1
        assert internet.connections == []
