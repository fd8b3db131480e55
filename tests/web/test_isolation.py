"""Another merchant's objects are 404 pages, and never listed."""

import sqlalchemy as sa

from tests.web.conftest import login_as, sign_up, text


def _their_ids(db_session, merchant_id):
    row = db_session.execute(sa.text(
        "SELECT (SELECT id FROM mpesa_channels WHERE merchant_id = :m LIMIT 1) AS channel, "
        "(SELECT id FROM customers WHERE merchant_id = :m LIMIT 1) AS customer, "
        "(SELECT id FROM payments WHERE merchant_id = :m LIMIT 1) AS payment, "
        "(SELECT id FROM api_keys WHERE merchant_id = :m LIMIT 1) AS api_key"),
        {"m": merchant_id}).one()
    assert None not in row
    return row


def test_another_merchants_pages_are_404(client, db_session, shop):
    theirs = _their_ids(db_session, shop.merchant_id)
    client.post("/logout")
    sign_up(client, business_name="Taste Restaurants")
    c, cu, p = theirs.channel, theirs.customer, theirs.payment
    gets = [f"/channels/{c}", f"/channels/{c}/edit", f"/channels/{c}/setup", f"/channels/{c}/mapping",
            f"/channels/{c}/mapping?account=VIP001&amount=5000", f"/channels/{c}/status.json",
            "/programs/vip/edit", f"/customers/{cu}"]
    posts = [(f"/channels/{c}/edit", {"name": "Mine now", "shortcode": "174379",
                                      "channel_type": "paybill", "environment": "sandbox",
                                      "validation_policy": "accept_all"}),
             (f"/channels/{c}/verify", {}), (f"/channels/{c}/register-urls", {}),
             (f"/channels/{c}/activate", {}), (f"/channels/{c}/deactivate", {}),
             (f"/channels/{c}/mapping", {"rows-0-pattern": "X*", "rows-0-program": "loyalty"}),
             ("/programs/vip/edit", {"name": "Mine"}),
             (f"/customers/{cu}/redeem", {"program": "loyalty", "points": "1",
                                          "idempotency_key": "k1"}),
             (f"/transactions/{p}/replay", {}), (f"/transactions/{p}/attribute", {"p%d-phone" % p: "0712345678"}),
             (f"/settings/api-keys/{theirs.api_key}/revoke", {})]
    for url in gets:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.mimetype == "text/html", url
    for url, data in posts:
        assert client.post(url, data=data).status_code == 404, url
    # And nothing of theirs shows up in the lists.
    for url in ("/dashboard", "/channels", "/programs", "/customers", "/transactions",
                "/analytics", "/settings/api-keys"):
        page = text(client.get(url))
        assert "RKTQDM7W6S" not in page and "Main" not in page.replace("Main navigation", ""), url
        assert "VIP" not in page, url
    # Their data is untouched.
    login_as(client, shop.merchant_id)
    assert "Main" in text(client.get(f"/channels/{c}"))


def test_an_unknown_id_is_an_html_404_page(client, shop):
    response = client.get("/customers/999999")
    assert response.status_code == 404
    assert "Customer not found." in text(response)
    assert "Back to the dashboard" in text(response)


def test_paths_outside_the_web_ui_keep_the_json_error_body(client, shop):
    response = client.get("/api/v1/customers/999999", headers={"Authorization": f"Bearer {shop.key}"})
    assert response.status_code == 404 and response.is_json
    assert response.get_json()["error"]["code"] == "not_found"
    assert client.get("/no-such-page").is_json
