"""Every error is {"error": {"code", "message"}} with the right status."""

from __future__ import annotations

from clipforge_gateway.deps import require_principal
from fastapi import Depends
from fastapi.testclient import TestClient

from tests.unit.gateway.fakes import make_app


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_missing_key_is_401_with_a_bearer_challenge() -> None:
    app, *_ = make_app(authenticated=False)
    with TestClient(app) as client:
        response = client.get("/v1/videos/abc")
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        # A malformed key is refused before any lookup (the fake context has no database).
        assert_error(client.get("/v1/videos/abc", headers={"Authorization": "Bearer nope"}), 401, "invalid_api_key")
        assert_error(client.get("/v1/projects", headers={"Authorization": "Basic dTpw"}), 401, "unauthorized")


def test_unknown_route_and_method() -> None:
    app, *_ = make_app()
    with TestClient(app) as client:
        error = assert_error(client.get("/v1/nothing-here"), 404, "not_found")
        assert error["message"] == "No such endpoint."
        assert_error(client.put("/v1/projects"), 405, "method_not_allowed")


def test_missing_ids_are_404() -> None:
    app, *_ = make_app()
    with TestClient(app) as client:
        assert_error(client.get("/v1/videos/unknown"), 404, "video_not_found")
        assert_error(client.get("/v1/videos/unknown/clips"), 404, "video_not_found")
        assert_error(client.get("/v1/videos/unknown/renders"), 404, "video_not_found")


def test_validation_errors_are_422_with_details_but_no_echoed_input() -> None:
    app, *_ = make_app()
    with TestClient(app) as client:
        error = assert_error(client.post("/v1/projects", json={"name": ""}), 422, "validation_error")
        assert error["message"].startswith("name:")
        assert error["details"][0]["loc"] == ["body", "name"]
        assert "input" not in error["details"][0]
        secret = "s3cr3t-value"
        error = assert_error(
            client.post("/v1/videos/v/clips/c/renders", json={"preset": "diagonal", "x": secret}),
            422,
            "validation_error",
        )
        assert secret not in str(error)
        assert_error(client.get("/v1/videos/v/transcript?format=docx"), 422, "validation_error")
        assert_error(client.get("/v1/videos/" + "x" * 65 + "/clips"), 422, "validation_error")


def test_unexpected_errors_are_500_without_internals() -> None:
    app, *_ = make_app()

    @app.get("/boom", dependencies=[Depends(require_principal)])
    async def boom() -> None:
        raise RuntimeError("database password is hunter2")

    with TestClient(app, raise_server_exceptions=False) as client:
        error = assert_error(client.get("/boom"), 500, "internal_error")
        assert "hunter2" not in error["message"]


def test_openapi_documents_every_route_with_error_models_and_examples() -> None:
    app, *_ = make_app()
    spec = app.openapi()
    paths = spec["paths"]
    for path in (
        "/v1/projects",
        "/v1/projects/{project_id}/videos",
        "/v1/projects/{project_id}/imports",
        "/v1/videos/{video_id}",
        "/v1/videos/{video_id}/transcript",
        "/v1/videos/{video_id}/clips",
        "/v1/videos/{video_id}/clips/{clip_id}/renders",
        "/v1/videos/{video_id}/renders",
        "/v1/videos/{video_id}/renders/{render_id}/download",
    ):
        assert path in paths, path
        for operation in paths[path].values():
            assert "401" in operation["responses"] and "429" in operation["responses"]
    upload = paths["/v1/projects/{project_id}/videos"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert {"413", "415", "202"} <= set(upload["responses"])
    schemas = spec["components"]["schemas"]
    assert schemas["VideoOut"].get("examples")
    assert schemas["ErrorResponse"].get("examples")


def test_405_allow_lists_every_method_of_the_path() -> None:
    app, *_ = make_app()
    with TestClient(app) as client:
        response = client.request("OPTIONS", "/v1/videos/v1")
        assert_error(response, 405, "method_not_allowed")
        assert response.headers["allow"] == "DELETE, GET"  # two routes share the path
        assert client.put("/v1/projects").headers["allow"] == "GET, POST"


def test_json_bodies_over_1_mib_are_413_json_declared_or_streamed() -> None:
    app, *_ = make_app()
    big = b'{"name": "' + b"a" * (2 << 20) + b'"}'

    def chunks():  # no Content-Length: the limit is enforced while reading
        yield from (big[i : i + 65536] for i in range(0, len(big), 65536))

    with TestClient(app) as client:
        for content in (big, chunks()):
            response = client.post("/v1/projects", content=content, headers={"Content-Type": "application/json"})
            assert_error(response, 413, "payload_too_large")


def test_openapi_declares_bearer_auth_and_no_nul_in_ids() -> None:
    app, *_ = make_app()
    spec = app.openapi()
    assert spec["security"] == [{"apiKey": []}]
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    get_clips = spec["paths"]["/v1/videos/{video_id}/clips"]["get"]
    video_id = next(p for p in get_clips["parameters"] if p["name"] == "video_id")
    assert video_id["schema"]["pattern"] == "^[^\\x00]+$"
    assert "400" in get_clips["responses"]
