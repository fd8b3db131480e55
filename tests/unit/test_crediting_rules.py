"""The earning rule (services/crediting/rules.py): pure functions, no database.

Both crediting paths — one payment through the ORM and a batch set-wise — call these, so
what is asserted here is what every credited payment gets."""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from loyalty.models import EntryKind, PaymentStatus, SkipReason, SmsStatus
from loyalty.phones import hash_msisdn
from loyalty.services.crediting import rules
from loyalty.services.sms_allowance import Allowance

JOHN = "254712345678"


def program(**overrides):
    values = dict(id=7, code="loyalty", name="Acme Rewards", points_per_unit=1,
                  unit_amount=Decimal("100"), multiplier=Decimal("1"), min_amount=Decimal("0"),
                  stamps_required=None, stamp_reward=None, sms_template=None)
    return SimpleNamespace(**{**values, **overrides})


def payment(**overrides):
    values = dict(id=41, merchant_id=3, trans_id="RKTQDM7W6S", amount=Decimal("5000.00"),
                  bill_ref="VIP001", msisdn=hash_msisdn(JOHN), msisdn_form="hashed",
                  first_name="John", middle_name=None, last_name="Doe", attempts=0,
                  status=PaymentStatus.RECEIVED, error=None, program_id=None,
                  matched_pattern=None, customer_id=None, points=0, credited_at=None)
    return SimpleNamespace(**{**values, **overrides})


def balance(**overrides):
    return SimpleNamespace(**{**dict(points=0, lifetime_points=0, stamps=0, rewards_earned=0),
                              **overrides})


def channel(**overrides):
    values = dict(name="Main till", is_active=True, account_mapping={"VIP*": "vip"})
    return SimpleNamespace(**{**values, **overrides})


# --- points ---------------------------------------------------------------------------------


@pytest.mark.parametrize("amount, per_unit, unit, multiplier, expected", [
    ("5000", 1, "100", "2", 100),       # the documented example: VIP, x2
    ("1234.50", 1, "100", "1", 12),     # floor, never rounded up
    ("199.99", 1, "100", "1", 1),
    ("1000", 3, "250", "1.5", 18),      # 1000 x 3 x 1.5 / 250
    ("0.10", 1, "0.03", "1", 3),        # Decimal, not float: 3.333… -> 3
    ("0", 1, "100", "1", 0),
    ("-500", 1, "100", "1", 0),         # a reversal never earns
])
def test_points_are_the_floor_of_amount_times_rate_over_the_unit(amount, per_unit, unit,
                                                                  multiplier, expected):
    points = rules.points_for(Decimal(amount), points_per_unit=per_unit,
                              unit_amount=Decimal(unit), multiplier=Decimal(multiplier))
    assert points == expected and isinstance(points, int)


def test_below_the_minimum_amount_earns_nothing():
    kwargs = dict(points_per_unit=1, unit_amount=Decimal("100"), min_amount=Decimal("500"))
    assert rules.points_for(Decimal("499.99"), **kwargs) == 0
    assert rules.points_for(Decimal("500.00"), **kwargs) == 5


# --- routing and settling -------------------------------------------------------------------


def test_a_mapped_reference_earns_in_its_program_else_the_default():
    vip, default = program(id=8, code="vip"), program()
    by_code = {"vip": vip}.get
    assert rules.route({"VIP*": "vip"}, " vip042 ", by_code, lambda: default) == \
        rules.Route(program=vip, pattern="VIP*")
    assert rules.route({"VIP*": "vip"}, "GOLD", by_code, lambda: default) == \
        rules.Route(program=default, pattern=None)
    # a mapping whose program was deleted meanwhile falls back to the default
    assert rules.route({"VIP*": "gone"}, "VIP1", by_code, lambda: default) == \
        rules.Route(program=default, pattern=None)


def test_settling_counts_the_attempt_and_records_the_route():
    vip = program(id=8, code="vip", multiplier=Decimal("2"))
    paid = payment()
    found, points = rules.settle(paid, channel(), lambda ch, ref: rules.Route(vip, "VIP*"))
    assert (found, points) == (vip, 100)
    assert (paid.attempts, paid.program_id, paid.matched_pattern) == (1, 8, "VIP*")
    assert paid.status == PaymentStatus.RECEIVED  # not finished yet: earning follows


def test_an_inactive_channel_skips_the_payment_with_the_reason():
    paid = payment()
    assert rules.settle(paid, channel(is_active=False), None) == (None, 0)
    assert paid.status == PaymentStatus.SKIPPED and paid.attempts == 1
    assert paid.error == ("Channel 'Main till' is not active: activate it, then replay this "
                          "payment.")


def test_a_payment_below_the_programs_minimum_is_skipped():
    paid = payment(amount=Decimal("49"))
    route = rules.Route(program(min_amount=Decimal("50")), None)
    assert rules.settle(paid, channel(), lambda ch, ref: route) == (None, 0)
    assert paid.status == PaymentStatus.SKIPPED
    assert paid.error == "Below the program's minimum of KES 50."


@pytest.mark.parametrize("form, msisdn, phone, expected", [
    ("hashed", hash_msisdn(JOHN).upper(), None, (hash_msisdn(JOHN), None)),
    ("plain", JOHN, None, (hash_msisdn(JOHN), JOHN)),
    ("masked", "2547 ***** 678", None, None),
    ("masked", "2547 ***** 678", JOHN, (hash_msisdn(JOHN), JOHN)),  # attributed to a phone
])
def test_the_payer_is_found_by_hash_and_a_masked_one_is_nobody(form, msisdn, phone, expected):
    assert rules.payer(payment(msisdn=msisdn, msisdn_form=form), phone) == expected


# --- earning on the balance -----------------------------------------------------------------


def test_points_are_an_earn_entry_that_can_be_spent_later():
    held = balance(points=20, lifetime_points=70)
    entries, earned = rules.earn(payment(), 5, program(), 50, held)
    assert entries == [{"customer_id": 5, "program_id": 7, "kind": EntryKind.EARN,
                        "payment_id": 41, "points": 50, "remaining": 50, "stamps": 0,
                        "description": "Payment RKTQDM7W6S",
                        "experiment_id": None, "variant": None}]  # the program's own rule
    assert (held.points, held.lifetime_points) == (70, 120)
    assert earned == rules.Earned(points=50, balance=70, stamps=0, stamps_left=None,
                                  reward_earned=False)


def test_each_payment_stamps_the_card_and_a_full_card_issues_the_reward_and_restarts():
    card = program(points_per_unit=0, stamps_required=5, stamp_reward="free delivery")
    held = balance(stamps=3, rewards_earned=1)
    entries, earned = rules.earn(payment(trans_id="DLV0000004"), 5, card, 0, held)
    assert [(e["kind"], e["stamps"], e["description"]) for e in entries] == [
        (EntryKind.STAMP, 1, "Stamp for DLV0000004")]
    assert (earned.stamps, earned.stamps_left, earned.reward_earned) == (4, 1, False)

    entries, earned = rules.earn(payment(trans_id="DLV0000005"), 5, card, 0, held)
    assert [(e["kind"], e["description"]) for e in entries] == [
        (EntryKind.STAMP, "Reward: free delivery")]
    assert (held.stamps, held.rewards_earned) == (0, 2)
    assert (earned.stamps, earned.stamps_left, earned.reward_earned) == (0, 5, True)


def test_a_stamp_card_that_also_gives_points_writes_both_entries():
    both = program(stamps_required=10, stamp_reward="a free coffee")
    held = balance()
    entries, earned = rules.earn(payment(), 5, both, 50, held)
    assert [e["kind"] for e in entries] == [EntryKind.EARN, EntryKind.STAMP]
    assert (held.points, held.stamps, earned.stamps_left) == (50, 1, 9)


def test_a_credited_payment_carries_its_customer_points_and_time():
    paid = payment()
    rules.credited(paid, 5, 50)
    assert (paid.status, paid.error, paid.customer_id, paid.points) == (
        PaymentStatus.CREDITED, None, 5, 50)
    assert paid.credited_at is not None and paid.credited_at.utcoffset().total_seconds() == 0


def test_a_failure_keeps_the_kind_of_error_but_not_its_details():
    reason = rules.failure(RuntimeError("password=hunter2"))
    assert reason == "RuntimeError: crediting failed; replay it once fixed."


# --- the receipt ----------------------------------------------------------------------------


def customer(**overrides):
    values = dict(id=5, phone=None, phone_hash=hash_msisdn(JOHN), first_name=None,
                  sms_opt_out=False)
    return SimpleNamespace(**{**values, **overrides})


def sender(name="Acme Electronics", **overrides):
    """A merchant that may text anyone (a production channel is active), quota to spare."""
    values = dict(merchant_id=3, merchant_name=name, own_numbers=frozenset({JOHN}),
                  production=True, restricted=True, quota=2000, used=0)
    return Allowance(**{**values, **overrides})


def receipt(pay, cust, prog, earned, name="Acme", *, sandbox=False, **allowance):
    return rules.receipt(pay, cust, prog, earned, sender(name, **allowance), sandbox=sandbox)


def test_the_points_receipt_text_and_its_recipient():
    earned = rules.Earned(points=50, balance=70, stamps=0, stamps_left=None, reward_earned=False)
    row = receipt(payment(), customer(), program(), earned, "Acme Electronics")
    assert row["body"] == "Hi John! You earned 50 Acme Rewards points. Total: 70 points."
    assert (row["recipient"], row["recipient_form"]) == (hash_msisdn(JOHN), "hashed")
    assert (row["status"], row["error"], row["purpose"]) == (SmsStatus.QUEUED, None,
                                                             "payment_receipt")
    assert (row["encoding"], row["segments"]) == ("GSM-7", 1)


def test_the_stamp_receipt_and_a_merchants_own_template():
    earned = rules.Earned(points=0, balance=0, stamps=4, stamps_left=1, reward_earned=False)
    card = program(stamps_required=5, stamp_reward="free delivery")
    enrolled = customer(phone=JOHN, first_name="Johnny")
    row = receipt(payment(), enrolled, card, earned, "Taste")
    assert row["body"] == "Thanks Johnny! 1 more orders for free delivery."
    assert (row["recipient"], row["recipient_form"]) == (JOHN, "plain")
    own = program(sms_template="{merchant}: {points} pts, {balance} in all")
    assert receipt(payment(), customer(), own, earned, "Taste")["body"] == \
        "Taste: 0 pts, 0 in all"


def test_a_nameless_payer_is_greeted_as_customer():
    earned = rules.Earned(points=1, balance=1, stamps=0, stamps_left=None, reward_earned=False)
    row = receipt(payment(first_name=None), customer(), program(), earned, "Acme")
    assert row["body"].startswith("Hi Customer! ")


def test_an_opted_out_customer_gets_a_skipped_receipt_with_the_reason():
    earned = rules.Earned(points=1, balance=1, stamps=0, stamps_left=None, reward_earned=False)
    row = receipt(payment(), customer(sms_opt_out=True), program(), earned, "Acme")
    assert (row["status"], row["error"]) == (SmsStatus.SKIPPED, "The customer opted out of SMS.")
    assert row["reason"] == SkipReason.OPTED_OUT


def test_a_masked_payer_has_nobody_to_text():
    row = rules.masked_receipt(payment())
    assert (row["recipient"], row["recipient_form"], row["status"]) == (
        None, "masked", SmsStatus.SKIPPED)
    assert row["error"] == "Masked payer: no number to text."
    assert row["reason"] == SkipReason.MASKED


# --- no SMS relay (services/sms_allowance.py): decided when the receipt is written ---------

STRANGER = "254799000111"
EARNED = rules.Earned(points=1, balance=1, stamps=0, stamps_left=None, reward_earned=False)


def test_a_sandbox_payment_texts_only_the_merchants_own_numbers_when_restricted():
    own = receipt(payment(), customer(phone=JOHN), program(), EARNED, sandbox=True,
                  production=False)
    assert own["status"] == SmsStatus.QUEUED
    stranger = receipt(payment(), customer(phone=STRANGER), program(), EARNED, sandbox=True)
    assert (stranger["status"], stranger["reason"]) == (SmsStatus.SKIPPED, SkipReason.SANDBOX)
    assert "own phone" in stranger["error"]
    # A hashed payer may be anyone: never texted from a sandbox channel.
    hashed = receipt(payment(), customer(), program(), EARNED, sandbox=True)
    assert (hashed["status"], hashed["reason"]) == (SmsStatus.SKIPPED, SkipReason.SANDBOX)
    # Production channels, and the open policy (make run), text the payer.
    assert receipt(payment(), customer(phone=STRANGER), program(), EARNED,
                   sandbox=False)["status"] == SmsStatus.QUEUED
    assert receipt(payment(), customer(phone=STRANGER), program(), EARNED, sandbox=True,
                   restricted=False)["status"] == SmsStatus.QUEUED


def test_the_daily_quota_counts_what_it_admits_and_skips_the_rest():
    allowance = sender(quota=3, used=1)
    rows = [rules.receipt(payment(id=n), customer(phone=JOHN), program(), EARNED, allowance,
                          sandbox=False) for n in range(4)]
    assert [r["status"] for r in rows] == [SmsStatus.QUEUED] * 2 + [SmsStatus.SKIPPED] * 2
    assert rows[-1]["reason"] == SkipReason.QUOTA and "daily limit of 3" in rows[-1]["error"]
    assert allowance.used == 3 and allowance.exhausted
    # Texts skipped for another reason do not use the quota.
    spare = sender(quota=1, used=0)
    rules.receipt(payment(), customer(phone=STRANGER), program(), EARNED, spare, sandbox=True)
    rules.receipt(payment(), customer(sms_opt_out=True), program(), EARNED, spare,
                  sandbox=False)
    assert spare.used == 0


def test_the_quota_day_is_the_nairobi_day():
    from datetime import datetime, timezone

    from loyalty.services.sms_allowance import day_start

    late = datetime(2026, 3, 1, 22, 30, tzinfo=timezone.utc)  # 01:30 on 2 March in Nairobi
    assert day_start(late) == datetime(2026, 3, 1, 21, 0, tzinfo=timezone.utc)
    early = datetime(2026, 3, 1, 20, 59, tzinfo=timezone.utc)  # 23:59 on 1 March
    assert day_start(early) == datetime(2026, 2, 28, 21, 0, tzinfo=timezone.utc)


# --- reversals: taking back what a payment earned -------------------------------------------


@pytest.mark.parametrize("amount, reversed_amount, points, expected", [
    ("5000", "5000", 100, 100),      # a full reversal takes back every point
    ("5000", "2500", 100, 50),       # half the money, half the points
    ("5000", "1", 100, 1),           # the customer keeps floor(100 x 4,999 / 5,000) = 99
    ("5000", "49.99", 100, 1),       # keeps floor(99.0002) = 99
    ("5000", "50", 100, 1),          # keeps exactly 99
    ("5000", "50.01", 100, 2),       # keeps floor(98.9998) = 98
    ("1234.50", "1000", 12, 10),     # keeps floor(12 x 234.50 / 1,234.50) = floor(2.279) = 2
    ("150", "75", 1, 1),             # keeps floor(0.5) = 0: what KES 75 would not have earned
    ("5000", "2500", 0, 0),          # a stamp-only payment has no points to take
])
def test_a_reversal_takes_back_the_proportional_share_rounded_up(amount, reversed_amount,
                                                                 points, expected):
    back = rules.take_back(amount=Decimal(amount), reversed_amount=Decimal(reversed_amount),
                           points=points, stamped=False)
    assert back == rules.TakeBack(points=expected, stamp=False)


@pytest.mark.parametrize("reversed_amount, min_amount, stamp_back", [
    ("300", "0", True),        # all of it: the stamp comes off
    ("100", "0", False),       # KES 200 kept still buys an order
    ("100", "250", True),      # KES 200 kept is below the program's minimum
    ("50", "250", False),      # KES 250 kept is exactly the minimum
])
def test_the_stamp_comes_off_when_what_is_kept_no_longer_qualifies(reversed_amount, min_amount,
                                                                    stamp_back):
    back = rules.take_back(amount=Decimal("300"), reversed_amount=Decimal(reversed_amount),
                           points=0, stamped=True, min_amount=Decimal(min_amount))
    assert back.stamp is stamp_back
    unstamped = rules.take_back(amount=Decimal("300"), reversed_amount=Decimal("300"), points=3,
                                stamped=False)
    assert unstamped == rules.TakeBack(points=3, stamp=False)


@pytest.mark.parametrize("reversed_amount", ["0", "-1", "5000.01"])
def test_nothing_or_more_than_the_payment_is_not_a_reversal(reversed_amount):
    with pytest.raises(ValueError):
        rules.take_back(amount=Decimal("5000"), reversed_amount=Decimal(reversed_amount),
                        points=100, stamped=False)


def test_taking_back_may_leave_the_balance_and_the_card_below_zero():
    spent = balance(points=30, lifetime_points=100, stamps=0, rewards_earned=1)
    rules.apply_take_back(spent, rules.TakeBack(points=100, stamp=True))
    assert (spent.points, spent.lifetime_points, spent.stamps, spent.rewards_earned) == (
        -70, 0, -1, 1)
    entry = rules.reversal_entry(payment(customer_id=5, program_id=7), rules.TakeBack(100, True),
                                 "Reversed")
    assert (entry["kind"], entry["points"], entry["stamps"], entry["remaining"],
            entry["payment_id"]) == (EntryKind.REVERSE, -100, -1, 0, 41)


def test_the_reversal_notice_says_what_went_back_and_what_is_left():
    paid = payment()
    notice = rules.render_reversal_notice(
        program(name="VIP"), first_name="John", payment=paid, reversed_amount=Decimal("5000"),
        back=rules.TakeBack(100, False), balance=balance(points=0), merchant_name="Acme")
    assert notice == ("Hi John, your payment RKTQDM7W6S of KES 5,000 to Acme was reversed: "
                      "100 VIP points were taken back. Total: 0 points.")
    part = rules.render_reversal_notice(
        program(name="VIP"), first_name=None, payment=paid, reversed_amount=Decimal("2500.50"),
        back=rules.TakeBack(51, False), balance=balance(points=-1), merchant_name="Acme")
    assert part == ("Hi Customer, KES 2,500.50 of your payment RKTQDM7W6S to Acme was "
                    "reversed: 51 VIP points were taken back. Total: -1 points.")
    card = program(stamps_required=5, stamp_reward="free delivery")
    stamp = rules.render_reversal_notice(
        card, first_name="John", payment=payment(amount=Decimal("300")),
        reversed_amount=Decimal("300"), back=rules.TakeBack(0, True),
        balance=balance(stamps=2), merchant_name="Taste")
    assert stamp == ("Hi John, your payment RKTQDM7W6S of KES 300 to Taste was reversed: its "
                     "stamp was taken back. 3 more orders for free delivery.")


# --- the customer's language ----------------------------------------------------------------


def test_the_customers_language_wins_over_the_merchants_default():
    merchant_sw = sender(language="sw")
    assert rules.text_language(customer(language="en"), merchant_sw) == "en"
    assert rules.text_language(customer(language=None), merchant_sw) == "sw"
    assert rules.text_language(customer(language="sw"), sender()) == "sw"
    # a value no page or API can set (a hand-edited row) texts in English, never fails
    assert rules.text_language(customer(language="fr"), sender()) == "en"


def test_the_built_in_texts_in_swahili_name_a_nameless_payer_mteja():
    earned = rules.Earned(points=100, balance=2847, stamps=0, stamps_left=None,
                          reward_earned=False)
    row = receipt(payment(first_name=None), customer(language="sw"), program(name="VIP"), earned)
    assert row["body"] == "Habari Mteja! Umepata pointi 100 za VIP. Jumla: pointi 2,847."
    assert (row["encoding"], row["segments"]) == ("GSM-7", 1)
    card = program(stamps_required=5, stamp_reward="free delivery")
    full = rules.Earned(points=0, balance=0, stamps=0, stamps_left=5, reward_earned=True)
    assert receipt(payment(), customer(language="sw"), card, full)["body"] == \
        "Hongera John! free delivery yako iko tayari."


def test_a_swahili_text_with_a_curly_apostrophe_is_counted_as_ucs2():
    """The segment count follows the text actually sent, whatever its language."""
    own = program(sms_translations={"sw": {"earn": "Asante {first_name}! Umepata pointi "
                                                   "{points} ’ " + "x" * 60}})
    earned = rules.Earned(points=1, balance=1, stamps=0, stamps_left=None, reward_earned=False)
    row = receipt(payment(), customer(language="sw"), own, earned)
    assert (row["encoding"], row["segments"]) == ("UCS-2", 2)
    assert receipt(payment(), customer(), own, earned)["body"].startswith("Hi John! You earned")


def test_the_reversal_notice_in_swahili():
    paid = payment()
    full = rules.render_reversal_notice(
        program(name="VIP"), first_name="John", payment=paid, reversed_amount=Decimal("5000"),
        back=rules.TakeBack(100, False), balance=balance(points=0), merchant_name="Acme",
        language="sw")
    assert full == ("Habari John, malipo yako RKTQDM7W6S ya KES 5,000 kwa Acme yamerejeshwa: "
                    "pointi 100 za VIP zimeondolewa. Jumla: pointi 0.")
    card = program(stamps_required=5, stamp_reward="free delivery")
    stamp = rules.render_reversal_notice(
        card, first_name=None, payment=payment(amount=Decimal("300")),
        reversed_amount=Decimal("300"), back=rules.TakeBack(0, True),
        balance=balance(stamps=2), merchant_name="Taste", language="sw")
    assert stamp == ("Habari Mteja, malipo yako RKTQDM7W6S ya KES 300 kwa Taste yamerejeshwa: "
                     "stempu yake imeondolewa. Zimebaki oda 3 upate free delivery.")
    both = rules.render_reversal_notice(
        card, first_name="John", payment=paid, reversed_amount=Decimal("5000"),
        back=rules.TakeBack(50, True), balance=balance(points=10), merchant_name="Taste",
        language="sw")
    assert both.endswith(": pointi 50 za Acme Rewards na stempu yake zimeondolewa. "
                         "Jumla: pointi 10.")
