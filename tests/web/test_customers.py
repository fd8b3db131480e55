"""Customers: find by phone, enrol (claiming hashed history), balances, redeem."""

import re

from tests.web.conftest import text


def _customer_url(client) -> str:
    response = client.get("/customers", query_string={"phone": "0712 345 678"})
    assert response.status_code == 302
    return response.headers["Location"]


def test_find_by_phone_goes_to_the_customer_with_points_and_texts(client, shop):
    page = text(client.get(_customer_url(client)))
    assert "100 VIP points" in page
    assert "Payment RKTQDM7W6S" in page
    assert "Hi John! You earned 100 VIP points. Total: 100 points." in page


def test_a_bad_phone_is_an_error_next_to_the_search_field(client, shop):
    response = client.get("/customers", query_string={"phone": "12"})
    assert response.status_code == 422
    assert 'id="phone-error"' in response.get_data(as_text=True)


def test_enrolling_claims_the_hashed_history(client, shop):
    response = client.post("/customers/new", data={"phone": "+254 712 345 678",
                                                   "first_name": "John", "last_name": "Doe"})
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"]))
    assert "John Doe" in page and "0712 345 678" in page and "100 VIP points" in page


def _redeem(client, url, points, key=None):
    html = client.get(url).get_data(as_text=True)
    key = key or re.search(r'name="idempotency_key" type="hidden" value="([0-9a-f]+)"', html).group(1)
    return client.post(url + "/redeem", data={"program": "vip", "points": str(points),
                                              "description": "Free soda",
                                              "idempotency_key": key}), key


def test_redeem_points_once_even_when_the_form_is_sent_twice(client, shop):
    url = _customer_url(client)
    first, key = _redeem(client, url, 30)
    assert first.status_code == 302
    again, _ = _redeem(client, url, 30, key)
    assert again.status_code == 302
    page = text(client.get(url))
    assert "70 VIP points" in page and "That redemption was already recorded." in page


def test_redeeming_more_than_the_balance_is_refused_on_the_page(client, shop):
    url = _customer_url(client)
    response, _ = _redeem(client, url, 500)
    assert response.status_code == 422
    assert "Not enough points" in text(response)
    assert "100 VIP points" in text(response)


def test_the_customer_page_edits_consent_and_shows_its_history(client, shop):
    url = _customer_url(client)
    response = client.post(url + "/edit", data={"phone": "0712345678", "first_name": "John",
                                                "last_name": "", "sms_opt_out": "y"})
    assert response.status_code == 302
    page = text(client.get(url))
    assert "no SMS" in page and "Opted out of SMS" in page and "this site" in page
    # Enrolling the phone again from the web form leaves the opt-out alone.
    client.post("/customers/new", data={"phone": "0712345678", "first_name": "John"})
    assert "no SMS" in text(client.get(url))


def test_marketing_consent_from_the_page_is_shown_and_its_withdrawal_recorded(client, shop):
    url = _customer_url(client)
    form = {"phone": "0712345678", "first_name": "John", "last_name": ""}
    assert client.post(url + "/edit", data={**form, "marketing_consent": "y"}).status_code == 302
    page = text(client.get(url))
    assert "Agreed to offers by SMS" in page
    assert page.count("offers by SMS") == 2  # the badge beside the name, and the history
    assert client.post(url + "/edit", data=form).status_code == 302
    page = text(client.get(url))
    assert "Withdrew consent to offers" in page and page.count("this site") == 2
    assert page.count("offers by SMS") == 1  # the badge is gone, the history stays
    assert "no SMS" not in page  # withdrawing offers is not an opt-out of receipts


def test_a_bad_phone_on_the_edit_form_is_shown_next_to_it(client, shop):
    url = _customer_url(client)
    response = client.post(url + "/edit", data={"phone": "12"})
    assert response.status_code == 422
    assert 'id="phone-error"' in response.get_data(as_text=True)


def test_erasing_from_the_page_needs_the_confirmation(client, shop):
    client.post("/customers/new", data={"phone": "0712345678", "first_name": "John",
                                        "last_name": "Doe"})
    url = _customer_url(client)
    confirm = client.get(url + "/erase")
    assert confirm.status_code == 200 and "cannot be undone" in text(confirm)
    refused = client.post(url + "/erase", data={"confirm": "yes"})
    assert refused.status_code == 422 and "John Doe" in text(client.get(url))
    done = client.post(url + "/erase", data={"confirm": "ERASE"})
    assert done.status_code == 302
    page = text(client.get(url))
    assert "Personal data erased" in page and "John Doe" not in page
    assert "100 VIP points" in page  # the balance stays


def test_customers_known_only_by_the_hashed_number_are_explained_once(client, shop):
    page = client.get("/customers")
    words = text(page)
    assert words.count("M-Pesa hides the number") == 1
    assert "number hidden by M-Pesa" in words
    assert 'href="/customers/new">enrol them</a>' in page.get_data(as_text=True)


def test_a_waiting_stamp_reward_is_handed_over_from_the_customer_page_once(client, db_session):
    from loyalty.services import crediting
    from tests.integration.conftest import DELIVERY, c2b_body, make_shop
    from tests.web.conftest import login_as

    shop = make_shop(client, db_session, programs=[{**DELIVERY, "stamps_required": 2}],
                     mapping={"default": "delivery"})
    for i in range(2):
        shop.hook("c2b/confirmation", c2b_body(trans_id=f"RKTSTAMP{i:02d}", amount="300"))
    crediting.credit_waiting()
    login_as(client, shop.merchant_id)
    url = _customer_url(client)
    html = client.get(url).get_data(as_text=True)
    assert "1 waiting" in text(client.get(url)) and "Hand over a reward" in html
    key = re.search(r'name="reward-delivery-idempotency_key" type="hidden" value="([0-9a-f]+)"',
                    html).group(1)
    form = {"reward-delivery-idempotency_key": key}
    done = client.post(url + "/rewards/delivery/redeem", data=form, follow_redirects=True)
    assert "Reward handed over. 0 more waiting." in text(done)
    assert "Hand over a reward" not in text(done) and "Reward: free delivery" in text(done)
    # The same form again (a double-click, a resent page) hands over nothing more.
    again = client.post(url + "/rewards/delivery/redeem", data=form, follow_redirects=True)
    assert "That reward was already handed over." in text(again)
    # A stale page's button, once none is waiting, says so beside the card.
    stale = client.post(url + "/rewards/delivery/redeem",
                        data={"reward-delivery-idempotency_key": "another-key"})
    assert stale.status_code == 422
    assert "No reward is waiting" in text(stale)
