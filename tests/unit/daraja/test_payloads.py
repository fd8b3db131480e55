"""Pure payload helpers: EAT timestamps, STK password and parties, field limits."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from loyalty.daraja import payloads
from loyalty.daraja.errors import InvalidRequest
from loyalty.daraja.payloads import eat_timestamp, stk_parties, stk_password

from .conftest import PASSKEY


def test_eat_timestamp_is_nairobi_wall_clock_time():
    assert eat_timestamp(datetime(2024, 7, 10, 6, 15, 26, tzinfo=UTC)) == "20240710091526"


def test_eat_timestamp_crosses_midnight_and_new_year():
    assert eat_timestamp(datetime(2024, 12, 31, 22, 30, 0, tzinfo=UTC)) == "20250101013000"


def test_eat_timestamp_converts_from_any_zone():
    lagos = timezone(timedelta(hours=1))
    assert eat_timestamp(datetime(2024, 7, 10, 7, 15, 26, tzinfo=lagos)) == "20240710091526"


def test_eat_timestamp_defaults_to_now_in_nairobi():
    before = datetime.now(UTC) + timedelta(hours=3)
    stamp = datetime.strptime(eat_timestamp(), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    after = datetime.now(UTC) + timedelta(hours=3)
    assert before.replace(microsecond=0) <= stamp <= after


def test_eat_timestamp_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="timezone-aware"):
        eat_timestamp(datetime(2024, 7, 10, 6, 15, 26))


def test_stk_password_matches_safaricoms_published_sample():
    # The value Daraja's own sample request carries for 174379 at 20160216165627.
    assert stk_password("174379", PASSKEY, "20160216165627") == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZi"
        "NzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3")


def test_stk_password_is_shortcode_then_passkey_then_timestamp():
    decoded = base64.b64decode(stk_password("7654321", "pk", "20240101000000")).decode()
    assert decoded == "7654321pk20240101000000"


def test_paybill_pushes_and_pays_the_paybill():
    assert stk_parties("paybill", "174379", None) == ("174379", "174379", "CustomerPayBillOnline")
    assert stk_parties("PayBill", "174379", "999999")[0] == "174379"  # store ignored


@pytest.mark.parametrize("channel_type", ["till", "buygoods", "Till"])
def test_till_pushes_under_the_store_number_and_pays_the_till(channel_type):
    assert stk_parties(channel_type, "5551234", " 7654321 ") == (
        "7654321", "5551234", "CustomerBuyGoodsOnline")


@pytest.mark.parametrize("store", [None, "", "   "])
def test_till_without_store_number_is_refused(store):
    with pytest.raises(InvalidRequest) as caught:
        stk_parties("till", "5551234", store)
    assert caught.value.field == "store_number"


def test_unknown_channel_type_is_refused():
    with pytest.raises(InvalidRequest) as caught:
        stk_parties("wallet", "5551234", None)
    assert caught.value.field == "channel_type"


@pytest.mark.parametrize("amount, expected", [(1, 1), (250, 250), (Decimal("100"), 100),
                                              (Decimal("100.00"), 100)])
def test_whole_shillings_accepts_ints_and_integral_decimals(amount, expected):
    value = payloads.whole_shillings(amount)
    assert value == expected and type(value) is int


@pytest.mark.parametrize("amount", [0, -5, Decimal("0"), Decimal("10.50"), 10.0, 1.5, "100",
                                    True, None, Decimal("NaN"), Decimal("Infinity")])
def test_whole_shillings_refuses_everything_else(amount):
    with pytest.raises(InvalidRequest) as caught:
        payloads.whole_shillings(amount)
    assert caught.value.field == "amount"


def test_account_reference_of_twelve_characters_passes_and_thirteen_fails():
    assert payloads.checked_account_reference(" VIP000000012 ") == "VIP000000012"
    with pytest.raises(InvalidRequest) as caught:
        payloads.checked_account_reference("VIP0000000013")
    assert caught.value.field == "account_reference"
    assert "13 characters" in str(caught.value) and "12" in str(caught.value)


def test_empty_account_reference_is_refused():
    with pytest.raises(InvalidRequest) as caught:
        payloads.checked_account_reference("  ")
    assert caught.value.field == "account_reference"


@pytest.mark.parametrize("description, expected", [
    ("Loyalty points top-up", "Loyalty point"),
    ("Points", "Points"),
    ("  exactly13chars  ", "exactly13char"),
    (None, ""),
])
def test_transaction_description_is_trimmed_to_thirteen_characters(description, expected):
    assert payloads.transaction_desc(description) == expected
    assert len(payloads.transaction_desc(description)) <= 13


def test_register_body_fixes_response_type_case_and_refuses_unknown_values():
    body = payloads.register_urls_body(shortcode="600984", confirmation_url="https://a.example/c",
                                       validation_url="https://a.example/v",
                                       response_type="completed")
    assert body["ResponseType"] == "Completed"
    with pytest.raises(InvalidRequest) as caught:
        payloads.register_urls_body(shortcode="600984", confirmation_url="https://a.example/c",
                                    validation_url="https://a.example/v", response_type="Complete")
    assert caught.value.field == "response_type"


@pytest.mark.parametrize("shortcode", ["", "1234", "12345678901", "60098a", "600 984"])
def test_shortcodes_must_be_digits(shortcode):
    with pytest.raises(InvalidRequest) as caught:
        payloads.shortcode_number(shortcode, field="shortcode")
    assert caught.value.field == "shortcode"


def test_stk_push_body_refuses_a_phone_that_is_not_kenyan():
    with pytest.raises(InvalidRequest) as caught:
        payloads.stk_push_body(
            business_shortcode="174379", passkey=PASSKEY, party_b="174379",
            transaction_type="CustomerPayBillOnline", amount=1, phone="+14155550100",
            callback_url="https://a.example/stk", account_reference="A1", description="x",
            timestamp="20240710091526")
    assert caught.value.field == "phone"


def test_status_body_uses_the_real_key_names_not_the_doc_typos():
    body = payloads.transaction_status_body(
        initiator="apiop1", security_credential="cred", transaction_id=" NEF61H8J60 ",
        party_a="600782", identifier_type="4", result_url="https://a.example/r",
        timeout_url="https://a.example/t", remarks="", occasion="o" * 150)
    assert body["CommandID"] == "TransactionStatusQuery"
    assert body["TransactionID"] == "NEF61H8J60"
    assert "Command ID" not in body and "Transaction ID" not in body
    assert body["Remarks"] == "Status"  # Safaricom refuses an empty Remarks
    assert len(body["Occasion"]) == 100


@pytest.mark.parametrize("identifier_type", ["3", "", "shortcode"])
def test_identifier_type_must_be_a_known_value(identifier_type):
    with pytest.raises(InvalidRequest) as caught:
        payloads.account_balance_body(initiator="apiop1", security_credential="c", party_a="600000",
                                      identifier_type=identifier_type,
                                      result_url="https://a.example/r",
                                      timeout_url="https://a.example/t", remarks="ok")
    assert caught.value.field == "identifier_type"
