"""Alphanumeric sender IDs per merchant (DESIGN.md section 13, SMS.md 3.5).

A merchant asks for a sender ID per category (Safaricom registers each ID as transactional
or promotional, SMS.md 4.4); it stays `pending` while the operator registers it with Africa's
Talking, then the operator runs `flask sender-ids approve|reject`. An approved ID is the
`from` of that merchant's texts of that category (sms_accounts.route); until then the
platform's own sender (AT_SENDER_ID) is.

Names that imitate M-PESA, Safaricom, a bank or the government are refused before anyone
sees them: the comparison is made on the name with case, spaces and punctuation removed and
lookalike digits read as letters, so "M-PESA", "m pesa" and "MP3SA" are all "MPESA".
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from loyalty.errors import NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Merchant, SenderId, SenderIdCategory, SenderIdState
from loyalty.models.base import utcnow
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import transactional

MAX_LENGTH = 11
_SHAPE = re.compile(r"^[A-Za-z0-9 ]{1,11}$")
# Digits and signs people use for letters. "1" reads as I or L, so both are tried.
_LOOKALIKES = str.maketrans({"0": "O", "3": "E", "4": "A", "5": "S", "7": "T", "8": "B",
                             "$": "S", "@": "A", "|": "I", "!": "I"})

# Found anywhere in the squeezed name: long enough not to hit ordinary shop names.
_IMITATED_ANYWHERE = {
    "MPESA": "M-PESA", "MPES": "M-PESA", "SAFARICOM": "Safaricom", "SAFCOM": "Safaricom",
    "SAFARICON": "Safaricom", "BANK": "a bank", "EQUITY": "Equity Bank",
    "STANBIC": "Stanbic Bank", "STANCHART": "Standard Chartered", "COOPBANK": "Co-op Bank",
    "BARCLAYS": "a bank", "SACCO": "a SACCO", "ECITIZEN": "eCitizen",
    "GOVERNMENT": "the government", "GOVT": "the government", "HUDUMA": "Huduma Centre",
    "TREASURY": "the National Treasury", "POLICE": "the police", "COUNTY": "a county government",
    "MINISTRY": "a ministry", "AIRTELMONEY": "Airtel Money", "FULIZA": "Fuliza (Safaricom)",
}
# Short ones match only as a word of their own ("KCB SHOP"), or the whole name ("KCB").
_IMITATED_WORDS = {
    "KCB": "KCB Bank", "NCBA": "NCBA Bank", "ABSA": "Absa Bank", "DTB": "DTB Bank",
    "CBK": "the Central Bank", "IANDM": "I&M Bank", "COOP": "Co-op Bank",
    "GOK": "the government", "KRA": "the Kenya Revenue Authority", "NTSA": "NTSA",
    "NHIF": "NHIF", "NSSF": "NSSF", "SHA": "the Social Health Authority", "KEBS": "KEBS",
    "CA": "the Communications Authority", "IEBC": "IEBC", "HELB": "HELB", "DCI": "the DCI",
}


def _squeezed(name: str, one: str) -> tuple[str, list[str]]:
    upper = name.upper().replace("1", one).translate(_LOOKALIKES).replace("&", "AND")
    words = [w for w in re.split(r"[^A-Z]+", upper) if w]
    return "".join(words), words


def imitation(name: str) -> str | None:
    """Whom `name` imitates (a sentence), or None."""
    for one in ("I", "L"):
        squeezed, words = _squeezed(name, one)
        for token, whom in _IMITATED_ANYWHERE.items():
            if token in squeezed:
                return whom
        for token, whom in _IMITATED_WORDS.items():
            if token in words or squeezed == token:
                return whom
    return None


def check_sender_id(name: str) -> str | None:
    """Why `name` cannot be requested, or None."""
    whom = imitation(name)
    if whom:
        return (f"'{name[:20]}' looks like {whom}; sender IDs that imitate M-PESA, "
                "Safaricom, banks or the government are refused.")
    if not _SHAPE.match(name or ""):
        return f"At most {MAX_LENGTH} letters, digits and spaces."
    if not re.search(r"[A-Za-z]", name):
        return "Needs at least one letter (a name of digits only is a phone number)."
    return None


@transactional
def request_sender_id(sender_id: str, category: str) -> SenderId:
    """Ask for `sender_id` in `category` for the current merchant (replacing an earlier
    request of that category): `pending` until the operator decides.

    Raises ValidationFailed naming `sender_id` when the name is refused."""
    name = " ".join(sender_id.split())
    problem = check_sender_id(name)
    if problem:
        raise ValidationFailed(f"sender_id: {problem}", fields={"sender_id": [problem]})
    category = SenderIdCategory(category)
    record = db.session.scalar(sa.select(SenderId).where(SenderId.category == category))
    if record is None:
        record = SenderId(category=category)
        db.session.add(record)
    elif record.sender_id == name and record.state != SenderIdState.REJECTED:
        return record  # the same request again changes nothing (an approval stays)
    record.sender_id, record.state = name, SenderIdState.PENDING
    record.reason, record.decided_at = None, None
    db.session.flush()
    return record


def sender_ids() -> list[SenderId]:
    """The current merchant's requests, transactional first."""
    return list(db.session.scalars(sa.select(SenderId).order_by(SenderId.category.desc())))


# --- the operator (`flask sender-ids`) --------------------------------------------------


def all_requests(state: str | None = None) -> list[dict[str, Any]]:
    """Every merchant's requests (all merchants: the operator's list), oldest first."""
    with all_merchants():
        query = (sa.select(SenderId, Merchant.email, Merchant.business_name)
                 .join(Merchant, Merchant.id == SenderId.merchant_id).order_by(SenderId.id))
        if state:
            query = query.where(SenderId.state == SenderIdState(state))
        return [{"merchant_id": r.merchant_id, "email": email, "business_name": business,
                 "sender_id": r.sender_id, "category": str(r.category), "state": str(r.state),
                 "reason": r.reason, "requested_at": r.updated_at}
                for r, email, business in db.session.execute(query).all()]


@transactional
def decide(merchant: str, *, approve: bool, category: str | None = None,
           reason: str | None = None) -> list[SenderId]:
    """Approve or reject the pending requests of `merchant` (its id or email), one
    category's or all. NotFound when there is nothing pending to decide."""
    merchant_id = _merchant_id(merchant)
    with tenant_context(merchant_id):
        query = sa.select(SenderId).where(SenderId.state == SenderIdState.PENDING)
        if category:
            query = query.where(SenderId.category == SenderIdCategory(category))
        records = list(db.session.scalars(query))
        if not records:
            raise NotFound(f"Merchant {merchant} has no pending sender ID"
                           + (f" for {category} texts." if category else "."))
        for record in records:
            record.state = SenderIdState.APPROVED if approve else SenderIdState.REJECTED
            record.reason = reason
            record.decided_at = utcnow()
        db.session.flush()
        return records


def _merchant_id(merchant: str) -> int:
    text = merchant.strip()
    condition = (Merchant.id == int(text)) if text.isdigit() and len(text) < 10 \
        else (Merchant.email == text.lower())
    found = db.session.scalar(sa.select(Merchant.id).where(condition))
    if found is None:
        raise NotFound(f"No merchant {merchant!r} (give its id or email).")
    return found
