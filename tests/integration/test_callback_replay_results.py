"""The merchant's Replay of a kept async result or timeout (POST /callback-log/{id}/replay):
applied through async_results as when it came — a reversal's points taken back, a balance
check recorded — answered as {kind, applied, note, transaction} as the OpenAPI document says,
and applied once however often it is replayed."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest
import sqlalchemy as sa

from tests.integration import test_reversals as base
from tests.integration.test_openapi import DOC, resolve
from tests.integration.test_reversal_results import TIMED_OUT, balance_check_asked, sent, shown
from tests.integration.test_reversals import (
    ask,
    balance,
    pay,
    result,
    reverse_entries,
    with_initiator,
)

shop, daraja = base.shop, base.daraja
pytestmark = pytest.mark.usefixtures("recorded_tasks")


def kept(db_session, shop, kind: str, body, ref: int | None = None) -> int:
    """A body the hooks kept because the database failed while applying it."""
    return db_session.execute(sa.text(
        "INSERT INTO callback_log (received_at, kind, merchant_id, channel_id, body, "
        "status_code, error, outcome, request_ref) VALUES (now(), :kind, :m, :c, :body, 500, "
        "'The result could not be applied; kept for review.', 'store_failed', :ref) "
        "RETURNING id"),
        {"kind": kind, "m": shop.merchant_id, "c": shop.channel["id"], "ref": ref,
         "body": body if isinstance(body, str) else json.dumps(body)}).scalar()


def replay(shop, entry_id) -> dict:
    response = shop.api("POST", f"/callback-log/{entry_id}/replay")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def as_json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it (the validator knows only the
    latter): the schema, or null."""
    if isinstance(node, list):
        return [as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: as_json_schema(value) for key, value in node.items() if key != "nullable"}
    return {"anyOf": [converted, {"type": "null"}]} if node.get("nullable") else converted


@pytest.fixture
def claimed(shop, db_session):
    """A reversal whose worker died after its claim: no ids recorded, only its URL's id."""
    payment_id = pay(shop, db_session)
    with_initiator(shop, db_session)
    reversal_id = ask(shop, payment_id).get_json()["reversal"]["id"]
    db_session.execute(sa.text("UPDATE async_requests SET sent_at = now()"))
    return base.asked(db_session, reversal_id)


def test_a_kept_reversal_result_takes_the_points_back_once(shop, db_session, client, claimed):
    entry_id = kept(db_session, shop, "result_reversal", result(), ref=claimed)
    first = replay(shop, entry_id)
    assert (first["kind"], first["applied"], first["note"]) == ("result_reversal", True, None)
    assert first["transaction"]["status"] == "reversed"
    assert first["transaction"]["reversal"]["state"] == "done"
    assert balance(db_session)[0] == 0
    again = replay(shop, entry_id)
    assert again["applied"] is False and "answered already" in again["note"]
    assert reverse_entries(db_session) == [(-100, 0)]
    # The log now says what the replay did, not that it failed.
    entry = shop.api("GET", "/callback-log").get_json()["items"][0]
    assert (entry["outcome"], entry["replayed_at"] is not None) == ("result", True)
    assert entry["payment_id"] is None  # a result produces no payment
    # Both answers are what the OpenAPI document declares for the operation.
    document = client.get(DOC).get_json()
    declared = document["paths"]["/api/v1/callback-log/{entry_id}/replay"]["post"]
    schema = resolve(document, declared["responses"]["200"])["content"]["application/json"][
        "schema"]
    for body in (first, again):
        jsonschema_rs.validate(as_json_schema(schema), body)


def test_a_kept_queue_timeout_fails_the_reversal(shop, db_session, daraja):
    pay(shop, db_session)
    with_initiator(shop, db_session)
    _, ref = sent(shop, db_session, daraja)
    replayed = replay(shop, kept(db_session, shop, "timeout_reversal", TIMED_OUT, ref=ref))
    assert replayed["applied"] is True
    assert shown(shop)["reversal"]["state"] == "failed"
    assert balance(db_session)[0] == 100


def test_a_result_for_no_request_of_the_channel_says_so(shop, db_session):
    replayed = replay(shop, kept(db_session, shop, "result_reversal", result()))
    assert (replayed["applied"], replayed["transaction"]) == (False, None)
    assert "No request of this channel has ConversationID AG_20240710_rev1" in replayed["note"]


def test_a_kept_balance_result_is_recorded_on_the_channel(shop, db_session, daraja):
    body = balance_check_asked(shop, db_session, daraja)
    replayed = replay(shop, kept(db_session, shop, "result_balance", body))
    assert (replayed["applied"], replayed["transaction"]) == (True, None)
    channel = shop.api("GET", f"/mpesa-channels/{shop.channel['id']}").get_json()
    assert channel["verification"]["details"]["account_balance_accessible"] is True


def test_a_body_that_is_not_a_result_is_refused_naming_the_body(shop, db_session):
    response = shop.api("POST", f"/callback-log/"
                                f"{kept(db_session, shop, 'result_status', '{not json')}/replay")
    assert response.status_code == 422
    assert "body" in response.get_json()["error"]["fields"]


def test_a_validation_is_still_not_replayable(shop, db_session):
    response = shop.api("POST", f"/callback-log/"
                                f"{kept(db_session, shop, 'c2b_validation', '{}')}/replay")
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "not_replayable"
