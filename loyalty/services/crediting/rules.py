"""The earning rule, in one copy: what a payment earns and what that changes.

Pure functions over plain values — no database, no Flask — called by both crediting
paths: one payment through the ORM (single.py) and a whole batch set-wise in memory
(batch.py). The objects they take are ORM rows on the one path and plain namespaces on
the other; each path only reads and writes them. A change to how payments earn is made
here once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Callable

from loyalty.models import EntryKind, PaymentStatus, SkipReason, SmsStatus
from loyalty.models.base import utcnow
from loyalty.models.ledger import REWARD_PREFIX
from loyalty.phones import MsisdnForm, hash_msisdn
from loyalty.services.account_mapping import resolve
from loyalty.sms.segments import encoding, segment_count
from loyalty.sms.templates import DEFAULT_LANGUAGE, DEFAULT_TEXTS, render

PAYMENT_RECEIPT = "payment_receipt"
REVERSAL_NOTICE = "reversal_notice"
UNATTRIBUTED = "The payer's number was masked; attach the payment to a phone to credit it."


@dataclass(frozen=True)
class Route:
    program: Any  # the LoyaltyProgram (or the batch's copy of it); None with no program
    pattern: str | None


@dataclass(frozen=True)
class Earned:
    points: int
    balance: int
    stamps: int              # on the card after this payment (0 right after a reward)
    stamps_left: int | None  # until the next reward; None for points-only programs
    reward_earned: bool


def points_for(amount: Decimal, *, points_per_unit: int, unit_amount: Decimal,
               multiplier: Decimal = Decimal(1), min_amount: Decimal = Decimal(0)) -> int:
    """floor(amount x points_per_unit x multiplier / unit_amount); 0 below min_amount.

    KES 5,000 at 1 point per KES 100 with multiplier 2 -> 100 points;
    KES 1,234.50 at 1 point per KES 100 -> 12 points.
    """
    amount = Decimal(amount)
    if amount <= 0 or amount < Decimal(min_amount) or Decimal(unit_amount) <= 0:
        return 0
    exact = amount * Decimal(points_per_unit) * Decimal(multiplier) / Decimal(unit_amount)
    return int(exact.to_integral_value(rounding=ROUND_FLOOR))


def route(mapping: dict[str, str] | None, bill_ref: str | None,
          by_code: Callable[[str], Any], default: Callable[[], Any]) -> Route:
    """The program a payment earns in: the channel's account mapping, then the merchant's
    default program (`by_code` and `default` look programs up, from the database or the
    batch's copy)."""
    code, pattern = resolve(mapping or {}, bill_ref)
    program = by_code(code) if code is not None else None
    if program is None:  # no match, or the mapped program was deleted meanwhile
        return Route(program=default(), pattern=None)
    return Route(program=program, pattern=pattern)


def settle(payment, channel, route_for: Callable[[Any, str | None], Route],
           variant_for: Callable[[Any, Any], Any] | None = None) -> tuple[Any, int]:
    """The first half of crediting a payment: the attempt, the channel, the program, the
    points, the minimum. Returns (program, points), or (None, 0) once the payment is
    finished (skipped). `variant_for(payment, program)` gives the program as a running
    experiment's variant sees it (services/experiments/assignment.py)."""
    payment.attempts += 1
    if not channel.is_active:
        # Money received all the same: kept, and credited by a replay once it is active.
        mark(payment, PaymentStatus.SKIPPED,
             f"Channel '{channel.name}' is not active: activate it, then replay this payment.")
        return None, 0
    found = route_for(channel, payment.bill_ref)
    payment.program_id = found.program.id
    payment.matched_pattern = found.pattern
    program = variant_for(payment, found.program) if variant_for else found.program
    points = points_for(payment.amount, points_per_unit=program.points_per_unit,
                        unit_amount=program.unit_amount, multiplier=program.multiplier,
                        min_amount=program.min_amount)
    if payment.amount < program.min_amount:
        mark(payment, PaymentStatus.SKIPPED,
             f"Below the program's minimum of KES {program.min_amount:,}.")
        return None, 0
    return program, points


def payer(payment, phone: str | None) -> tuple[str, str | None] | None:
    """(phone hash, phone) of the customer a payment belongs to; None for a masked payer.
    `phone` attributes a masked payer's payment to a phone."""
    if phone:
        return hash_msisdn(phone), phone
    if payment.msisdn_form == MsisdnForm.HASHED:
        return payment.msisdn.lower(), None
    if payment.msisdn_form == MsisdnForm.PLAIN:
        return hash_msisdn(payment.msisdn), payment.msisdn
    return None


def names(payment) -> dict[str, str | None]:
    """The payer's names as M-Pesa sent them (they fill in what the customer lacks)."""
    return {"first_name": payment.first_name, "middle_name": payment.middle_name,
            "last_name": payment.last_name}


def apply_to_balance(balance, program, points: int) -> tuple[int | None, bool]:
    """Add the points and, on a stamp card, one stamp (a full card issues the reward and
    starts again). Returns (stamps left until the next reward or None, whether a reward
    was issued)."""
    balance.points += points
    balance.lifetime_points += points
    if not program.stamps_required:
        return None, False
    balance.stamps += 1
    reward = balance.stamps >= program.stamps_required
    if reward:
        balance.stamps = 0
        balance.rewards_earned += 1
    return program.stamps_required - balance.stamps, reward


def earn(payment, customer_id: int, program, points: int, balance) -> tuple[list[dict], Earned]:
    """What one payment earns on a (locked) balance: the ledger entries to write (an earn
    for any points, a stamp on a stamp card) and the balance changed in place."""
    entries = []
    if points:
        entries.append(_entry(payment, customer_id, program, EntryKind.EARN, points=points,
                              remaining=points, stamps=0,
                              description=f"Payment {payment.trans_id}"))
    stamps_left, reward = apply_to_balance(balance, program, points)
    if program.stamps_required:
        entries.append(_entry(payment, customer_id, program, EntryKind.STAMP, points=0,
                              remaining=0, stamps=1,
                              description=(f"{REWARD_PREFIX}{program.stamp_reward}" if reward
                                           else f"Stamp for {payment.trans_id}")))
    return entries, Earned(points=points, balance=balance.points, stamps=balance.stamps,
                           stamps_left=stamps_left, reward_earned=reward)


def _entry(payment, customer_id: int, program, kind: EntryKind, **values) -> dict:
    return {"customer_id": customer_id, "program_id": program.id, "kind": kind,
            "payment_id": payment.id, "experiment_id": getattr(program, "experiment_id", None),
            "variant": getattr(program, "variant", None), **values}


def mark(payment, status: PaymentStatus, error: str | None) -> None:
    payment.status = status
    payment.error = error
    if status == PaymentStatus.CREDITED:
        payment.credited_at = utcnow()


def credited(payment, customer_id: int, points: int) -> None:
    """The payment's outcome once its entries are written."""
    payment.customer_id = customer_id
    payment.points = points
    mark(payment, PaymentStatus.CREDITED, None)


def failure(exc: Exception) -> str:
    """The reason kept on a payment whose crediting raised (no internals: merchants see it)."""
    return f"{type(exc).__name__}: crediting failed; replay it once fixed."


def text_language(customer, sender) -> str:
    """The language a customer is texted in: their own choice, else the merchant's default
    (`sender`, services/sms_allowance.Allowance, carries it: the batch reads it with the
    allowances, the customer's with the customers, so no payment costs a query more)."""
    language = getattr(customer, "language", None) or sender.language
    return language if language in DEFAULT_TEXTS else DEFAULT_LANGUAGE


def _translated(program, language: str, event: str) -> str | None:
    """The program's own text for `event` in `language` (setup templates write them)."""
    if language == DEFAULT_LANGUAGE:
        return None
    texts = (getattr(program, "sms_translations", None) or {}).get(language) or {}
    return texts.get(event) or None


def template_for(program, language: str = DEFAULT_LANGUAGE) -> str:
    """The program's receipt in `language`, else its English one (a merchant's own text
    untranslated stays theirs), else the built-in one in `language`."""
    kind = "stamps" if program.stamps_required else "points"
    return (_translated(program, language, "earn") or program.sms_template
            or DEFAULT_TEXTS[language][kind])


def reward_template_for(program, language: str = DEFAULT_LANGUAGE) -> str:
    return (_translated(program, language, "reward")
            or getattr(program, "reward_template", None) or DEFAULT_TEXTS[language]["reward"])


def render_receipt(program, *, first_name: str | None, earned: Earned, merchant_name: str,
                   language: str = DEFAULT_LANGUAGE) -> str:
    """The "You earned…" text for a payment; the reward text when it completed a card."""
    template = (reward_template_for(program, language) if earned.reward_earned
                else template_for(program, language))
    return render(template, {
        "first_name": first_name or DEFAULT_TEXTS[language]["first_name"],
        "points": earned.points, "balance": earned.balance, "program_name": program.name,
        "stamps_left": earned.stamps_left, "reward": program.stamp_reward,
        "merchant": merchant_name})


def receipt(payment, customer, program, earned: Earned, sender, *, sandbox: bool) -> dict:
    """The receipt's outbox row (text_row's rules). `sender`
    (services/sms_allowance.Allowance) is the merchant's: whom a `sandbox` channel's
    payment may text and what is left of today's quota, which an admitted text uses."""
    body = render_receipt(program, first_name=customer.first_name or payment.first_name,
                          earned=earned, merchant_name=sender.merchant_name,
                          language=text_language(customer, sender))
    return text_row(payment, customer, PAYMENT_RECEIPT, body, sender, sandbox=sandbox)


def text_row(payment, customer, purpose: str, body: str, sender, *, sandbox: bool) -> dict:
    """The outbox row of a transactional text about a payment (a receipt, a reversal
    notice). Enrolled (or plainly identified) customers are texted at their phone; payers
    known only by hash through the hashed-number send (transactional only); opted-out
    customers get nothing, recorded as skipped with the reason. `sender` decides whom a
    `sandbox` channel may text and what is left of today's quota."""
    if customer.phone:
        recipient, form = customer.phone, "plain"
    else:
        recipient, form = customer.phone_hash, "hashed"
    status, reason, error = SmsStatus.QUEUED, None, None
    refused = ((SkipReason.OPTED_OUT, "The customer opted out of SMS.") if customer.sms_opt_out
               else sender.admit(recipient, form, sandbox=sandbox))
    if refused is not None:
        status, (reason, error) = SmsStatus.SKIPPED, refused
    now = utcnow()
    return {"customer_id": customer.id, "payment_id": payment.id, "purpose": purpose,
            "recipient": recipient, "recipient_form": form, "body": body,
            "encoding": encoding(body), "segments": segment_count(body), "status": status,
            "attempts": 0, "error": error, "reason": reason, "created_at": now,
            "updated_at": now}


def masked_receipt(payment) -> dict:
    """The outbox row of a masked payer's payment: nobody to text, recorded as skipped."""
    now = utcnow()
    return {"payment_id": payment.id, "purpose": PAYMENT_RECEIPT, "recipient": None,
            "recipient_form": "masked", "body": "", "encoding": "GSM-7", "segments": 0,
            "status": SmsStatus.SKIPPED, "attempts": 0,
            "error": "Masked payer: no number to text.", "reason": SkipReason.MASKED,
            "created_at": now, "updated_at": now}


# --- reversals: taking back what a payment earned ----------------------------------------


@dataclass(frozen=True)
class TakeBack:
    points: int   # how many of the payment's points come off the balance (0 or more)
    stamp: bool   # whether the payment's stamp comes off the card


def take_back(*, amount: Decimal, reversed_amount: Decimal, points: int, stamped: bool,
              min_amount: Decimal = Decimal(0)) -> TakeBack:
    """What reversing `reversed_amount` of a payment of `amount` takes back of what it earned
    (`points`, and a stamp when `stamped`).

    The customer keeps floor(points x kept / amount), where kept is the money they did not
    get back: the earning rule's own floor, applied to the money the merchant kept. The rest
    is taken back, so a partial claw-back is the proportional share rounded *up*, and a full
    reversal takes back every point. KES 2,500 reversed of a KES 5,000 payment that earned
    100 points takes back 50; KES 1 of it takes back 1 (99.98 kept -> 99).
    The stamp comes off when what is kept no longer qualifies: nothing kept, or less than
    the program's minimum payment.
    """
    amount, reversed_amount = Decimal(amount), Decimal(reversed_amount)
    if amount <= 0 or not Decimal(0) < reversed_amount <= amount:
        raise ValueError("a reversal takes more than nothing and at most the payment")
    kept = amount - reversed_amount
    keeps = int((Decimal(points) * kept / amount).to_integral_value(rounding=ROUND_FLOOR))
    return TakeBack(points=points - keeps,
                    stamp=stamped and (kept == 0 or kept < Decimal(min_amount)))


def apply_take_back(balance, back: TakeBack) -> None:
    """Take the points (and the stamp) off a locked balance. Either may go below zero: the
    points were spent, or the card was emptied by the reward this stamp helped to earn;
    what the customer earns next fills the gap first."""
    balance.points -= back.points
    balance.lifetime_points -= back.points
    if back.stamp:
        balance.stamps -= 1


def reversal_entry(payment, back: TakeBack, description: str) -> dict:
    """The `reverse` ledger entry of a payment (unique per payment, like its earn)."""
    return {"customer_id": payment.customer_id, "program_id": payment.program_id,
            "kind": EntryKind.REVERSE, "payment_id": payment.id, "points": -back.points,
            "stamps": -1 if back.stamp else 0, "remaining": 0, "description": description}


# The reversal text's words per language; one assembly below for both. Swahili's verb
# agrees with what was reversed (the whole payment or a part) and with what was taken
# back, hence a phrase per case rather than one sentence with holes. In both languages
# what was taken back is plural exactly when points were taken (with or without a stamp).
_REVERSAL_WORDS = {
    "en": {"greeting": "Hi {name}, ",
           "whole": "your payment {trans_id} of {amount} to {merchant} was reversed",
           "part": "{reversed} of your payment {trans_id} to {merchant} was reversed",
           "points": "{points:,} {program} points", "stamp": "its stamp", "and": " and ",
           "taken_many": "were taken back", "taken_one": "was taken back",
           "total": " Total: {balance:,} points.",
           "stamps_left": " {left} more orders for {reward}."},
    "sw": {"greeting": "Habari {name}, ",
           "whole": "malipo yako {trans_id} ya {amount} kwa {merchant} yamerejeshwa",
           "part": "{reversed} za malipo yako {trans_id} kwa {merchant} zimerejeshwa",
           "points": "pointi {points:,} za {program}", "stamp": "stempu yake", "and": " na ",
           "taken_many": "zimeondolewa", "taken_one": "imeondolewa",
           "total": " Jumla: pointi {balance:,}.",
           "stamps_left": " Zimebaki oda {left} upate {reward}."},
}


def render_reversal_notice(program, *, first_name: str | None, payment, reversed_amount: Decimal,
                           back: TakeBack, balance, merchant_name: str,
                           language: str = DEFAULT_LANGUAGE) -> str:
    """The text telling a customer that a payment was reversed and what it took back."""
    words = _REVERSAL_WORDS[language]
    reversed_amount = Decimal(reversed_amount)
    what = words["whole" if reversed_amount >= payment.amount else "part"].format(
        trans_id=payment.trans_id, amount=_kes(payment.amount), reversed=_kes(reversed_amount),
        merchant=merchant_name)
    text = words["greeting"].format(name=first_name or DEFAULT_TEXTS[language]["first_name"])
    text += what
    taken = [words["points"].format(points=back.points, program=program.name)] if back.points else []
    if back.stamp:
        taken.append(words["stamp"])
    if not taken:
        return text + "."
    text += f": {words['and'].join(taken)} {words['taken_many' if back.points else 'taken_one']}."
    if back.points or not program.stamps_required:
        return text + words["total"].format(balance=balance.points)
    return text + words["stamps_left"].format(left=program.stamps_required - balance.stamps,
                                              reward=program.stamp_reward)


def _kes(amount: Decimal) -> str:
    amount = Decimal(amount)
    if amount == amount.to_integral_value():
        return f"KES {int(amount):,}"
    return f"KES {amount:,.2f}"
