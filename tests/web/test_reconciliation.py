"""A channel's missed-payment checks on its page: registering for Pull Transactions, a check
over the last N hours, and the recent checks with what each found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.daraja.tokens import token_key
from loyalty.services import reconciliation
from loyalty.tenancy import tenant_context
from tests.integration.test_reconciliation import OAUTH, QUERY, page, row
from tests.web.conftest import sign_up, text

ERROR_MARKS = ('role="alert"', 'class="field-error"', 'aria-invalid="true"', "alert error")


@pytest.fixture
def url(shop) -> str:
    return f"/channels/{shop.channel['id']}"


@pytest.fixture
def registered(shop, db_session, url) -> str:
    db_session.execute(sa.text("UPDATE mpesa_channels SET pull_state = 'done', "
                               "pull_nominated_number = '254722000111', "
                               "pull_registered_at = now() WHERE id = :id"),
                       {"id": shop.channel["id"]})
    return url


def _queued(recorded_tasks, name) -> list[tuple]:
    return recorded_tasks.args_of(name)


def _no_error_text(response) -> None:
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert not [mark for mark in ERROR_MARKS if mark in html], html


def test_a_plain_visit_explains_the_checks_and_offers_registration(client, url):
    response = client.get(url)
    _no_error_text(response)
    page_text = text(response)
    assert "Missed payments" in page_text
    assert "Safaricom does not send a payment's confirmation twice" in page_text
    assert "Nominated phone number" in page_text and "Register for checks" in page_text
    assert "Check for missed payments" not in page_text  # not before registration
    assert 'name="viewport" content="width=device-width' in response.get_data(as_text=True)


def test_registering_takes_a_mobile_number_and_queues_safaricoms_step(client, url, shop,
                                                                      recorded_tasks):
    refused = client.post(f"{url}/pull/register", data={"pull-nominated_number": "174379"})
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert 'id="pull-nominated_number-error"' in html and 'value="174379"' in html
    assert _queued(recorded_tasks, TaskName.REGISTER_PULL) == []

    done = client.post(f"{url}/pull/register", data={"pull-nominated_number": "0722 000 111"})
    assert done.status_code == 302 and done.headers["Location"].endswith("#missed-payments")
    assert _queued(recorded_tasks, TaskName.REGISTER_PULL) == [(shop.merchant_id, shop.channel["id"])]
    after = client.get(url)
    _no_error_text(after)
    assert "Registering with Safaricom…" in text(after)
    assert "Asking Safaricom to register this channel" in text(after)


@pytest.mark.parametrize("hours", ["72", "0", "abc", "-3", "1.5", "", "４８"])
def test_a_window_safaricom_cannot_answer_is_refused_in_the_merchants_words(
        client, registered, recorded_tasks, hours):
    response = client.post(f"{registered}/reconcile", data={"run-hours": hours})
    assert response.status_code == 422
    assert 'id="run-hours-error"' in response.get_data(as_text=True)
    assert "Enter a whole number of hours from 1 to 48" in text(response)
    assert _queued(recorded_tasks, TaskName.RECONCILE_CHANNEL) == []


def test_a_check_over_the_last_hours_is_queued_and_shown_running(client, registered, shop,
                                                                 recorded_tasks, db_session):
    response = client.post(f"{registered}/reconcile", data={"run-hours": "6"})
    assert response.status_code == 302
    [(merchant_id, run_id)] = _queued(recorded_tasks, TaskName.RECONCILE_CHANNEL)
    assert merchant_id == shop.merchant_id
    span = db_session.execute(sa.text("SELECT window_to - window_from FROM reconciliation_runs "
                                      "WHERE id = :id"), {"id": run_id}).scalar()
    assert span == timedelta(hours=6)
    page_text = text(client.get(registered))
    assert "Looking for payments of the last 6 hours" in page_text
    assert "running" in page_text and "by you" in page_text

    again = client.post(f"{registered}/reconcile", data={"run-hours": "6"})
    assert again.status_code == 422
    assert "A check of this channel is already running" in text(again)
    assert "POST" not in text(again)  # no API talk on the page
    assert len(_queued(recorded_tasks, TaskName.RECONCILE_CHANNEL)) == 1


def test_a_stale_page_asking_before_registration_is_told_what_to_do(client, url, recorded_tasks):
    response = client.post(f"{url}/reconcile", data={"run-hours": "24"})
    assert response.status_code == 422
    assert "Register this channel for missed-payment checks first" in text(response)
    assert "/mpesa-channels" not in text(response)


@pytest.fixture
def forget_the_token(app):
    """The token minted below is cached in the run's Redis for the demo app's key; other
    tests mock Safaricom's OAuth and expect to be asked."""
    yield
    app.extensions["daraja"].token_cache.delete(
        token_key("sandbox", "demo-consumer-key", "demo-consumer-secret"))


def test_finished_checks_show_what_they_found(client, registered, shop, forget_the_token):
    when = datetime.now(UTC) - timedelta(hours=1)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as daraja:
        daraja.add(responses.GET, OAUTH, json={"access_token": "tok", "expires_in": "3599"})
        # The payment the shop already holds, one it never heard of, and a withdrawal.
        daraja.add(responses.POST, QUERY, json=page(
            row("RKTQDM7W6S", "5000.00", when=when), row("MISS000001", when=when),
            row("WDRW000001", kind="business-withdrawal", when=when)))
        daraja.add(responses.POST, QUERY, json=page())
        daraja.add(responses.POST, QUERY, json={
            "requestId": "1", "errorCode": "400.001", "errorMessage": "Invalid ShortCode"})
        with tenant_context(shop.merchant_id):
            for _ in range(2):
                run = reconciliation.start_reconciliation(shop.channel["id"])
                reconciliation.reconcile(run.id)
    response = client.get(registered)
    assert response.status_code == 200
    page_text = text(response)
    assert "3 seen · 1 already held · 1 recovered · 1 ignored" in page_text
    assert "1 payment recovered so far, in 1 completed check (1 failed)" in page_text
    assert "Why it stopped: Pull Transactions failed" in page_text
    assert page_text.index("failed") < page_text.index("3 seen")  # newest first


def test_another_merchants_channel_is_not_found(client, shop):
    sign_up(client)  # now logged in as someone else
    assert client.get(f"/channels/{shop.channel['id']}").status_code == 404
    assert client.post(f"/channels/{shop.channel['id']}/reconcile",
                       data={"run-hours": "24"}).status_code == 404
    assert client.post(f"/channels/{shop.channel['id']}/pull/register",
                       data={"pull-nominated_number": "0722000111"}).status_code == 404
