"""One error body for every failure, and nothing internal in a 500."""

import logging

import pytest
from flask import Blueprint

from tests.conftest import auth, make_test_app


def _assert_error(response, status, code):
    assert response.status_code == status
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def test_malformed_json_is_a_400(client):
    response = client.post("/api/v1/merchants", data="{not json", content_type="application/json")
    error = _assert_error(response, 400, "malformed_request")
    assert "fields" not in error


def test_missing_key_is_a_401(client):
    _assert_error(client.get("/api/v1/api-keys"), 401, "unauthorized")


def test_unknown_path_is_a_404(client, merchant_a):
    _assert_error(client.get("/api/v1/nothing-here", headers=auth(merchant_a[1])), 404, "not_found")
    _assert_error(client.get("/nothing-here"), 404, "not_found")


def test_wrong_method_is_a_405_with_allow(client):
    response = client.put("/api/v1/merchants")
    _assert_error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_oversized_body_is_a_413(client):
    response = client.post("/api/v1/merchants", data="x" * (65 * 1024),
                           content_type="application/json")
    _assert_error(response, 413, "payload_too_large")


def test_validation_errors_list_fields(client):
    error = _assert_error(client.post("/api/v1/merchants", json={}), 422, "validation_error")
    assert {"email", "phone", "password", "business_name"} <= set(error["fields"])
    assert "email" in error["message"]


@pytest.fixture
def failing_app(database_url, redis_prefix):
    app = make_test_app(database_url, redis_prefix)
    bp = Blueprint("boom", __name__)

    @bp.get("/boom")
    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    app.register_blueprint(bp)
    return app


def test_unexpected_error_is_a_logged_500_without_internals(failing_app, caplog):
    with caplog.at_level(logging.ERROR):
        response = failing_app.test_client().get("/boom")
    error = _assert_error(response, 500, "internal_error")
    assert "hunter2" not in response.get_data(as_text=True)
    assert "RuntimeError" not in response.get_data(as_text=True)
    assert any(record.exc_info and "hunter2" in str(record.exc_info[1]) for record in caplog.records)
    assert error["message"].startswith("Something went wrong")
