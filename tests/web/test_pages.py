"""Every page renders for a signed-in merchant, with data and without."""

import pytest
import sqlalchemy as sa

from tests.web.conftest import sign_up, text


def _ids(db_session):
    row = db_session.execute(sa.text(
        "SELECT (SELECT id FROM mpesa_channels ORDER BY id DESC LIMIT 1) AS channel, "
        "(SELECT id FROM customers ORDER BY id DESC LIMIT 1) AS customer")).one()
    return row.channel, row.customer


def _pages(channel_id, customer_id):
    return [
        ("/dashboard", "Today"), ("/channels", "M-Pesa channels"), ("/channels/new", "Add an M-Pesa channel"),
        (f"/channels/{channel_id}", "Our callback URLs"),
        (f"/channels/{channel_id}/edit", "Daraja credentials"),
        (f"/channels/{channel_id}/setup", "Register the payment URLs"),
        (f"/channels/{channel_id}/mapping", "Try a payment (dry run)"),
        (f"/channels/{channel_id}/mapping?account=VIP001&amount=5000",
         "VIP001, KES 5,000 → VIP program, 100 points"),
        ("/programs", "Loyalty programs"), ("/programs/new", "New loyalty program"),
        ("/programs/vip/edit", "Edit VIP"), ("/customers", "Customers"),
        ("/customers?phone=0799000111", "No customer with that phone"),
        ("/customers/new", "Enrol a customer"), (f"/customers/{customer_id}", "Balances"),
        ("/transactions", "RKTQDM7W6S"), ("/transactions?status=credited&from=2020-01-01", "RKTQDM7W6S"),
        ("/transactions/unattributed", "Nothing to attach"), ("/analytics", "Payments per day"),
        ("/analytics?from=2026-01-01&to=2026-01-31", "01 Jan"), ("/settings/api-keys", "Your keys"),
    ]


def test_every_page_renders_for_a_merchant_with_data(client, db_session, shop):
    channel_id, customer_id = _ids(db_session)
    for url, expected in _pages(channel_id, customer_id):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code, text(response)[:500])
        assert response.mimetype == "text/html"
        assert expected in text(response), (url, text(response)[:2000])
        assert 'href="/assets/app.css"' in response.get_data(as_text=True)


def test_pages_render_for_a_new_merchant_without_data(client):
    sign_up(client)
    for url in ("/dashboard", "/channels", "/programs", "/customers", "/transactions",
                "/transactions/unattributed", "/analytics", "/settings/api-keys", "/programs/new",
                "/programs/loyalty/edit", "/customers/new", "/channels/new"):
        response = client.get(url)
        assert response.status_code == 200, (url, text(response)[:500])
    assert "Connect your first M-Pesa PayBill" in text(client.get("/dashboard"))


def test_customer_page_shows_points_ledger_and_the_receipt_text(client, db_session, shop):
    _, customer_id = _ids(db_session)
    page = text(client.get(f"/customers/{customer_id}"))
    assert "100 VIP points" in page
    assert "Hi John! You earned 100 VIP points. Total: 100 points." in page
    assert "transactional" in page


def test_dashboard_shows_today_and_the_last_payment(client, shop):
    page = text(client.get("/dashboard"))
    assert "KES 5,000 (VIP001)" in page
    assert "1 payments, KES 5,000, 100 points" in page


@pytest.mark.parametrize("path", ["/assets/app.css", "/assets/app.js", "/assets/app-live.js",
                                  "/assets/app-previews.js"])
def test_static_assets_are_served_without_login(client, path):
    response = client.get(path)
    assert response.status_code == 200
    response.close()


def test_pages_send_security_headers(client, shop):
    response = client.get("/dashboard")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
