"""The viewer's defences, request by request: policy headers, Host and token checks, escaping, routing."""

from __future__ import annotations

import io
import json
import re
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from imgpipe.local.server import LocalServer
from imgpipe.viewer.app import CONTENT_SECURITY_POLICY, ViewerDispatcher, is_viewer_request

pytestmark = pytest.mark.slow

TEMPLATES = Path(__file__).resolve().parents[2] / "imgpipe" / "viewer" / "templates"
HOSTILE = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"


@pytest.fixture(scope="module")
def client(server: LocalServer) -> Any:
    return server.viewer.flask.test_client()


def _base(server: LocalServer) -> str:
    return server.endpoint_url


def _get(client: Any, server: LocalServer, path: str, **headers: str) -> Any:
    return client.get(path, base_url=_base(server), headers=headers)


def _post(client: Any, server: LocalServer, path: str, data: dict[str, Any], **headers: str) -> Any:
    return client.post(path, base_url=_base(server), data=data, headers=headers)


def _token(client: Any, server: LocalServer) -> str:
    page = _get(client, server, "/").get_data(as_text=True)
    match = re.search(r'name="token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def _executions(server: LocalServer) -> int:
    arn = server.engine.state_machine_arn("image_convert_resize")
    return len(server.engine.sfn.list_executions(stateMachineArn=arn)["executions"])


def test_every_page_carries_the_policy_headers(client: Any, server: LocalServer) -> None:
    for path in ("/", "/execution/no-such-execution", "/_viewer/static/viewer.js"):
        response = _get(client, server, path)
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert _get(client, server, "/execution/no-such-execution").status_code == 404
    unknown = "arn:aws:states:us-east-1:123456789012:execution:imgpipe-image_convert_resize:nobody"
    assert _get(client, server, f"/execution/{unknown}").status_code == 404
    assert _get(client, server, "/execution/%3Cb%3E").status_code == 400


def test_templates_have_no_inline_script_or_style() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text()
        assert " style=" not in text, template.name
        assert "<style" not in text, template.name
        for tag in re.findall(r"<script[^>]*>", text):
            assert 'src="' in tag or 'type="application/json"' in tag, (template.name, tag)


def test_a_request_for_another_host_name_is_refused(client: Any, server: LocalServer) -> None:
    port = server.endpoint_url.rsplit(":", 1)[-1]
    assert _get(client, server, "/", Host=f"rebound.example:{port}").status_code == 421
    assert _get(client, server, "/", Host=f"localhost:{port}").status_code == 200


def test_writes_need_the_pages_token_and_a_same_origin(client: Any, server: LocalServer) -> None:
    form = {"workflow": "image_convert_resize", "input": "{}"}
    before = _executions(server)
    assert _post(client, server, "/_viewer/start", form).status_code == 403
    assert _post(client, server, "/_viewer/start", {**form, "token": "guessed"}).status_code == 403
    token = _token(client, server)
    cross = _post(client, server, "/_viewer/start", {**form, "token": token}, Origin="http://evil.example")
    assert cross.status_code == 403
    assert _executions(server) == before  # none of the refused posts started anything
    accepted = _post(client, server, "/_viewer/start", {**form, "token": token}, Origin=_base(server))
    assert accepted.status_code == 303
    assert _executions(server) == before + 1


def test_bad_start_input_is_answered_with_the_field_to_fix(client: Any, server: LocalServer) -> None:
    token = _token(client, server)
    cases = {
        "input": {"workflow": "image_convert_resize", "input": "{not json", "token": token},
        "workflow": {"workflow": "no_such_workflow", "input": "{}", "token": token},
    }
    for field, form in cases.items():
        response = _post(client, server, "/_viewer/start", form, Origin=_base(server))
        assert response.status_code == 400
        page = response.get_data(as_text=True)
        assert f'data-field="{field}"' in page
    listed = _post(
        client, server, "/_viewer/start", {"workflow": "image_convert_resize", "input": "[1]", "token": token}
    )
    assert listed.status_code == 400
    assert "must be a JSON object" in listed.get_data(as_text=True)


def test_hostile_text_is_escaped_in_the_page_bytes(client: Any, server: LocalServer) -> None:
    token = _token(client, server)
    workflow_input = json.dumps({"fileLocation": HOSTILE})
    started = _post(
        client,
        server,
        "/_viewer/start",
        {"workflow": "image_convert_resize", "input": workflow_input, "token": token},
        Origin=_base(server),
    )
    assert started.status_code == 303
    arn = urllib.request.unquote(started.headers["Location"].removeprefix("/execution/"))
    server.engine.wait(arn)
    page = _get(client, server, started.headers["Location"]).get_data(as_text=True)
    assert "<script>alert" not in page
    assert "<img src=x" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # the index's start form: a rejected input comes back escaped in its textarea
    refused = _post(client, server, "/_viewer/start", {"workflow": "nope", "input": HOSTILE, "token": token})
    assert "<script>alert" not in refused.get_data(as_text=True)
    node = _get(client, server, f"/_viewer/api/execution/{arn}/node/n999")
    assert node.status_code == 404
    assert node.get_json()["field"] == "node"


def test_renditions_are_served_as_the_images_they_decoded_as(client: Any, server: LocalServer) -> None:
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(buffer, "PNG")
    key = "local-runs/viewer/security.png"
    server.engine.s3.put_object(Bucket=server.engine.deployment.input_bucket, Key=key, Body=buffer.getvalue())
    arn = server.engine.start_execution(
        "image_convert_resize",
        {
            "fileLocation": f"s3://{server.engine.deployment.input_bucket}/{key}",
            "recipeParameters": {"outputFormat": "webp", "outputSize": {"width": 32, "height": 32}},
        },
    )
    assert server.engine.wait(arn)["status"] == "SUCCEEDED"
    shown = _get(client, server, f"/_viewer/rendition/0/{arn}")
    assert shown.status_code == 200
    assert shown.mimetype == "image/webp"
    assert shown.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    assert Image.open(io.BytesIO(shown.get_data())).size == (32, 24)
    download = _get(client, server, f"/_viewer/rendition/0/{arn}?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert _get(client, server, f"/_viewer/rendition/1/{arn}").status_code == 404
    sheet = _get(client, server, f"/_viewer/contact-sheet/{arn}")
    assert Image.open(io.BytesIO(sheet.get_data())).format == "PNG"


def test_signed_requests_and_other_paths_go_to_the_aws_endpoint() -> None:
    seen: list[str] = []

    class Viewer:
        def flask(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
            seen.append("viewer")
            return []

    def aws(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append("aws")
        return []

    dispatcher = ViewerDispatcher(Viewer(), aws)  # type: ignore[arg-type]
    signed = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=x/..."}
    for environ in (
        {"PATH_INFO": "/", "REQUEST_METHOD": "GET"},
        {"PATH_INFO": "/execution/abc", "REQUEST_METHOD": "GET"},
        {"PATH_INFO": "/_viewer/start", "REQUEST_METHOD": "POST"},
        {"PATH_INFO": "/", "REQUEST_METHOD": "GET", **signed},  # ListBuckets
        {"PATH_INFO": "/", "REQUEST_METHOD": "POST"},  # a browser-form S3 upload
        {"PATH_INFO": "/_viewer/x", "QUERY_STRING": "X-Amz-Signature=abc"},
        {"PATH_INFO": "/imgpipe-input-local/uploads/a.png", "REQUEST_METHOD": "GET"},
    ):
        dispatcher(environ, None)
    assert seen == ["viewer", "viewer", "viewer", "aws", "aws", "aws", "aws"]
    assert not is_viewer_request({"PATH_INFO": "/api/workflow/x"})
