"""Probes and API documentation."""

from tests.conftest import make_test_app


def test_healthz_answers_without_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_checks_database_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readyz_names_the_unreachable_dependency(database_url, redis_prefix):
    app = make_test_app(database_url, redis_prefix, REDIS_URL="redis://127.0.0.1:1/0")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["redis"] == "unreachable"
    assert body["checks"]["database"] == "ok"
    assert "redis" in body["error"]["message"]


def test_openapi_lists_the_api_and_its_security(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["info"]["title"] == "M-Pesa Loyalty API"
    assert "/api/v1/merchants" in spec["paths"] and "/api/v1/api-keys" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/api/v1/merchants"]["post"]["security"] == []


def test_interactive_docs_are_served_without_a_cdn(client):
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/assets/swagger-ui-bundle.js" in html and "//cdn" not in html
    with client.get("/api/docs/assets/swagger-ui-bundle.js") as asset:
        assert asset.status_code == 200 and len(asset.data) > 100_000
