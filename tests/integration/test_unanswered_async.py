"""Async requests no answer will come for, given up by beat (the task run through Celery's
eager apply, as the worker runs it) with the clock of the rows shifted back: a reversal
whose worker died after its claim fails with what to check, and can be asked again; one
acknowledged but never answered fails after the longer age; a result that still comes is
applied as after a queue timeout."""

from __future__ import annotations

import pytest
import responses
import sqlalchemy as sa

from loyalty.background import TaskName
from loyalty.services import channel_setup
from loyalty.tenancy import tenant_context
from tests.integration import test_reversals as base
from tests.integration.test_reversal_results import notes, sent, shown
from tests.integration.test_reversals import (
    DARAJA,
    ask,
    balance,
    pay,
    result,
    reverse_entries,
    with_initiator,
)

shop, daraja = base.shop, base.daraja
pytestmark = pytest.mark.usefixtures("recorded_tasks")


def age(db_session, hours: float) -> None:
    """Every async request was sent (and recorded) `hours` ago."""
    db_session.execute(sa.text(
        "UPDATE async_requests SET created_at = created_at - make_interval(secs => :s), "
        "sent_at = sent_at - make_interval(secs => :s)"), {"s": hours * 3600})


@pytest.fixture
def claimed(shop, db_session):
    """A reversal whose worker claimed it and died before Safaricom answered: (payment
    id, the async request's id)."""
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    db_session.execute(sa.text("UPDATE async_requests SET sent_at = now()"))
    return payment_id, base.asked(db_session, reversal_id)


def test_a_reversal_whose_worker_died_fails_after_six_hours_with_what_to_check(
        shop, db_session, run_task, claimed):
    payment_id, _ = claimed
    age(db_session, 5.9)
    assert run_task(TaskName.GIVE_UP_UNANSWERED) == 0
    assert ask(shop, payment_id, key="mpesa-2").get_json()["error"]["code"] == "reversal_pending"
    age(db_session, 0.2)
    assert run_task(TaskName.GIVE_UP_UNANSWERED) == 1
    reversal = shown(shop)["reversal"]
    assert reversal["state"] == "failed"
    assert "Check the M-PESA statement" in reversal["message"]
    assert "mark the payment as reversed" in reversal["message"]
    assert balance(db_session)[0] == 100  # nothing taken back
    assert ask(shop, payment_id, key="mpesa-2").status_code == 202
    assert run_task(TaskName.GIVE_UP_UNANSWERED) == 0  # the new request is young


def test_a_result_after_giving_up_still_takes_the_points_back_once(shop, db_session, run_task,
                                                                   claimed):
    _, ref = claimed
    age(db_session, 7)
    run_task(TaskName.GIVE_UP_UNANSWERED)
    # The worker had reached Safaricom after all: its result finds the request by its URL.
    assert shop.hook(f"result/reversal/{ref}", result()).status_code == 200
    assert (shown(shop)["status"], shown(shop)["reversal"]["state"]) == ("reversed", "done")
    assert balance(db_session)[0] == 0
    shop.hook(f"result/reversal/{ref}", result())
    assert reverse_entries(db_session) == [(-100, 0)]
    assert "answered already" in notes(db_session)[-1]


def test_an_acknowledged_reversal_with_no_result_fails_after_a_day(shop, db_session, daraja,
                                                                    run_task):
    pay(shop, db_session)
    with_initiator(shop, db_session)
    sent(shop, db_session, daraja)
    age(db_session, 23)
    assert run_task(TaskName.GIVE_UP_UNANSWERED) == 0
    assert shown(shop)["reversal"]["state"] == "requested"
    age(db_session, 1.5)
    assert run_task(TaskName.GIVE_UP_UNANSWERED) == 1
    reversal = shown(shop)["reversal"]
    assert reversal["state"] == "failed" and "never answered" in reversal["message"]
    # A queue timeout that still comes finds it given up already: nothing changes.
    base_state = shown(shop)
    shop.hook("timeout/reversal", {"Result": {
        "ResultType": 0, "ResultCode": 1, "ResultDesc": "The request timed out.",
        "OriginatorConversationID": "7788-1234-1", "ConversationID": "AG_20240710_rev1"}})
    assert shown(shop) == base_state


def test_a_balance_check_never_answered_says_verify_again(shop, db_session, daraja, run_task):
    with_initiator(shop, db_session)
    daraja.add(responses.POST, f"{DARAJA}/mpesa/accountbalance/v1/query", json={
        "OriginatorConversationID": "9-9", "ConversationID": "AG_9", "ResponseCode": "0"})
    with tenant_context(shop.merchant_id):
        channel_setup.verify_channel(shop.channel["id"])
    age(db_session, 25)
    assert run_task(TaskName.GIVE_UP_UNANSWERED) == 1
    details = shop.api("GET", f"/mpesa-channels/{shop.channel['id']}").get_json()[
        "verification"]["details"]
    assert details["account_balance"] == "timed_out"
    assert details["account_balance_accessible"] is False
    assert "never answered" in details["account_balance_error"]


def test_a_request_answered_in_time_is_left_alone(shop, db_session, daraja, run_task):
    pay(shop, db_session)
    with_initiator(shop, db_session)
    _, ref = sent(shop, db_session, daraja)
    shop.hook(f"result/reversal/{ref}", result())
    age(db_session, 48)
    assert run_task(TaskName.GIVE_UP_UNANSWERED) == 0
    assert shown(shop)["reversal"]["state"] == "done"
