"""The guided channel form: where each value comes from, the consumer key in clear, shapes
checked before saving, Safaricom's sandbox test values, and back to the setup after a fix."""

from loyalty.web.channel_forms import SANDBOX_PASSKEY
from tests.web.conftest import sign_up, text
from tests.web.test_channels import CHANNEL, _new_channel


def test_the_form_says_where_each_value_comes_from_in_the_portals_words(client):
    sign_up(client)
    page = text(client.get("/channels/new"))
    for words in ("developer.safaricom.co.ke", "My Apps", "Create New App", "Keys",
                  "M-Pesa Express", "Store number", "Org Reversals Initiator",
                  "Balance Query ORG API", "Use sandbox test values"):
        assert words in page, words


def test_the_consumer_key_is_shown_and_kept_while_a_bad_secret_is_refused(client):
    sign_up(client)
    response = client.post("/channels/new", data={**CHANNEL, "consumer_key": " my-app-key-123 ",
                                                  "consumer_secret": "abc def"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'type="text"' in html and 'value="my-app-key-123"' in html
    page = text(response)
    assert "Consumer secret" in page and "Copy it again from your app's Keys" in page
    assert "abc def" not in html  # the secret never comes back


def test_a_half_copied_passkey_and_a_till_without_store_number_are_refused(client):
    sign_up(client)
    response = client.post("/channels/new", data={**CHANNEL, "passkey": "bfb279f9"})
    assert response.status_code == 422 and "a passkey is a long run" in text(response)
    response = client.post("/channels/new", data={**CHANNEL, "channel_type": "till",
                                                  "shortcode": "5123456"})
    assert response.status_code == 422
    assert "Needed with a passkey for a Till" in text(response)
    assert client.get("/channels").status_code == 200
    assert "5123456" not in text(client.get("/channels"))  # nothing was saved


def test_sandbox_test_values_fill_the_public_paybill_and_passkey(client):
    sign_up(client)
    html = client.get("/channels/new?sandbox=1").get_data(as_text=True)
    assert 'value="174379"' in html and f'value="{SANDBOX_PASSKEY}"' in html
    assert "demo-consumer-key" not in html  # a real sandbox needs the merchant's own app


def test_fixing_the_credentials_returns_to_the_setup_steps(client):
    sign_up(client)
    channel_id = _new_channel(client)
    edit_page = client.get(f"/channels/{channel_id}/edit").get_data(as_text=True)
    assert 'value="demo-consumer-key"' in edit_page  # the key in clear, to compare
    response = client.post(f"/channels/{channel_id}/edit", data={
        **CHANNEL, "consumer_secret": "the-right-secret", "validation_policy": "accept_all"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/channels/{channel_id}/setup")
