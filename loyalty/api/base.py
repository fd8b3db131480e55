"""flask-smorest wiring: the Api object, public endpoints and API-key authentication."""

from __future__ import annotations

from typing import Callable

from flask import Flask, g, request
from flask_smorest import Api

from loyalty.api.errors import http_error_response
from loyalty.api.openapi import ErrorSchema
from loyalty.errors import Unauthorized
from loyalty.services.merchants import merchant_for_api_key
from loyalty.tenancy import reset_current_merchant, set_current_merchant

API_PREFIX = "/api/v1"


class LoyaltyApi(Api):
    """flask-smorest's Api with the project's one error body (also in the document)."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error):
        return http_error_response(error)


# Unbound until create_app calls api.init_app(app); the REST blueprints register on it.
api = LoyaltyApi()


def public(view: Callable) -> Callable:
    """Mark a view as reachable without an API key."""
    view._public = True  # type: ignore[attr-defined]
    return view


def _bearer_token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Send your API key as 'Authorization: Bearer <key>'.")
    return token.strip()


def init_auth(app: Flask) -> None:
    """Every /api/v1 endpoint needs a valid API key unless marked @public."""

    @app.before_request
    def _authenticate():
        if not request.path.startswith(API_PREFIX + "/"):
            return None
        view = app.view_functions.get(request.endpoint or "")
        if view is None or getattr(view, "_public", False) or request.endpoint == "api-docs.openapi_json":
            return None  # unknown paths fall through to a 404
        merchant_id = merchant_for_api_key(_bearer_token())
        g.tenant_token = set_current_merchant(merchant_id)
        return None

    @app.teardown_request
    def _forget_tenant(exc):
        token = g.pop("tenant_token", None)
        if token is not None:
            reset_current_merchant(token)
