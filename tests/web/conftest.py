"""Web UI tests with Flask's test client: real PostgreSQL (savepoint per test), no broker.

Tasks the pages queue are recorded instead of published, so nothing these tests do can
reach a Celery worker started by another test of the same run.
"""

from __future__ import annotations

import re
import uuid
from html import unescape

import pytest
from flask import g, request_started

from loyalty.services import crediting
from tests.integration.conftest import VIP, c2b_body, make_shop

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def _tasks_never_published(recorded_tasks):
    """Every web test records its tasks (tests that look at them ask for recorded_tasks)."""


@pytest.fixture(autouse=True)
def fresh_user_per_request(app):
    """Tests keep one app context open and Flask reuses it for every request, so `g` (where
    Flask-Login caches the user, and Flask-Babel the language) would outlive a request.
    Forget both at each request start so they come from the cookies, as in production."""
    def forget(sender, **extra):
        g.pop("_login_user", None)
        g.pop("_flask_babel", None)

    request_started.connect(forget, app)
    yield
    request_started.disconnect(forget, app)


def sign_up(client, **overrides) -> dict:
    """Sign up through the form (which also logs in); returns what was typed."""
    form = {"business_name": "Acme Electronics", "owner_name": "John Doe",
            "email": f"web-{uuid.uuid4().hex[:8]}@acme.example", "phone": "0712345678",
            "business_type": "RETAIL", "password": PASSWORD, "confirm": PASSWORD}
    form.update(overrides)
    response = client.post("/signup", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    return form


def log_in(client, email: str, password: str = PASSWORD, **kwargs):
    return client.post("/login", data={"email": email, "password": password}, **kwargs)


def login_as(client, merchant_id: int) -> None:
    """Put a merchant in the session the way Flask-Login does after a log in."""
    with client.session_transaction() as session:
        session["_user_id"] = f"{merchant_id}:0"  # Merchant.get_id(): id and session version
        session["_fresh"] = True


def issued_key(response) -> str:
    """The API key shown, once, on the page that created it."""
    return re.search(r'id="new-key" class="key" readonly value="([^"]+)"',
                     response.get_data(as_text=True)).group(1)


def text(response) -> str:
    """The page's visible text with tags dropped and whitespace collapsed."""
    html = response.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip())


@pytest.fixture
def shop(client, db_session):
    """A merchant with an active PayBill (VIP* -> vip), one credited VIP payment, logged in."""
    shop = make_shop(client, db_session, programs=[VIP],
                     mapping={"default": "loyalty", "VIP*": "vip"})
    assert shop.hook("c2b/confirmation", c2b_body()).status_code == 200
    crediting.credit_waiting()
    login_as(client, shop.merchant_id)
    return shop
