"""Merchant passwords: change one, or reset it with a code texted to the merchant's phone.

Either way the merchant's `session_version` goes up, which ends every web session and
remember-me cookie issued before (web/auth.py; the page that changed it logs in again
at once), and any reset code still outstanding is dropped. API keys are credentials of
their own and are not touched: their page shows when each was last used.

A reset never tells a stranger whether an email is registered. The request is always
accepted and the code is made and texted by a task (`accounts.send_password_reset`), so
even the answer's timing is the same for a registered email and an unknown one; a wrong
email, a wrong code and an expired one are refused in the same words. A code is six
digits, lives RESET_CODE_MINUTES and allows RESET_CODE_TRIES tries, each counted before
the code is compared, in one statement, so guesses sent at the same time cannot get more.
Only an HMAC of the code is stored (crypto.reset_code_digest), and the text's body in the
outbox is masked once it is sent (messages.py). The text goes through the outbox
like any other, to the merchant's own phone, and is no customer's text: no quota, no
sandbox rule applies to it.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from werkzeug.security import check_password_hash, generate_password_hash

from loyalty import background, crypto
from loyalty.background import TaskName
from loyalty.errors import ValidationFailed
from loyalty.extensions import db
from loyalty.models import Merchant, PasswordReset, SmsMessage
from loyalty.models.base import utcnow
from loyalty.models.messages import PASSWORD_RESET
from loyalty.services.merchants import get_current_merchant
from loyalty.sms.segments import encoding, segment_count
from loyalty.tenancy import current_merchant_id, tenant_context
from loyalty.unit_of_work import transactional

RESET_CODE_MINUTES = 10
RESET_CODE_TRIES = 5

WRONG_PASSWORD = "The current password is not right."
WRONG_CODE = "The code is not right, or it has expired. Ask for a new code if you need one."
RESET_TEXT = ("M-Pesa Loyalty: your password reset code is {code}. It works for {minutes} "
              "minutes. Never share it; if you did not ask for it, ignore this text.")


@transactional
def change_password(current_password: str, new_password: str) -> Merchant:
    """The current merchant's new password, given its current one (422 naming
    `current_password` otherwise). Ends every session issued before."""
    merchant = _locked(get_current_merchant().id)
    if not check_password_hash(merchant.password_hash, current_password):
        raise ValidationFailed(WRONG_PASSWORD, fields={"current_password": [WRONG_PASSWORD]})
    _replace_password(merchant, new_password)
    return merchant


def _locked(merchant_id: int) -> Merchant:
    """The merchant row, locked: two changes at once raise the version twice, not once."""
    return db.session.scalar(sa.select(Merchant).where(Merchant.id == merchant_id)
                             .with_for_update().execution_options(populate_existing=True))


def _replace_password(merchant: Merchant, new_password: str) -> None:
    merchant.password_hash = generate_password_hash(new_password)
    merchant.session_version += 1
    with tenant_context(merchant.id):
        db.session.execute(sa.delete(PasswordReset))  # an outstanding code is void now


# --- reset by a texted code ------------------------------------------------------------------


@transactional
def request_reset(email: str) -> None:
    """Accept a reset request for any email; the task texts a code only to a registered,
    active merchant's phone."""
    background.enqueue(TaskName.SEND_PASSWORD_RESET, email.strip().lower())


@transactional
def send_reset_code(email: str) -> bool:
    """Worker: a new code for the merchant with this email (replacing any earlier one),
    texted to its phone through the outbox; False for an email nobody active has."""
    merchant = _active_merchant(email)
    if merchant is None:
        return False
    with tenant_context(merchant.id):
        code, salt = crypto.new_reset_code()
        db.session.execute(sa.delete(PasswordReset))
        db.session.add(PasswordReset(
            code_hash=crypto.reset_code_digest(code, salt=salt, merchant_id=merchant.id),
            salt=salt, expires_at=utcnow() + timedelta(minutes=RESET_CODE_MINUTES)))
        body = RESET_TEXT.format(code=code, minutes=RESET_CODE_MINUTES)
        text = SmsMessage(purpose=PASSWORD_RESET, recipient=merchant.phone,
                          recipient_form="plain", body=body, encoding=encoding(body),
                          segments=segment_count(body))
        db.session.add(text)
        db.session.flush()
        background.enqueue(TaskName.SEND_SMS_BATCH, [[merchant.id, text.id]])
    return True


def confirm_reset(email: str, code: str, new_password: str) -> Merchant:
    """Set a new password with the texted code; ends every session issued before.
    ValidationFailed (naming `code`) for a wrong, expired or used-up code or an unknown
    email alike."""
    merchant = _try_code(email, code, new_password)
    if merchant is None:
        raise ValidationFailed(WRONG_CODE, fields={"code": [WRONG_CODE]})
    return merchant


@transactional
def _try_code(email: str, code: str, new_password: str) -> Merchant | None:
    """The merchant whose password was reset, or None; a try is committed either way."""
    merchant = _active_merchant(email)
    if merchant is None:
        return None
    with tenant_context(merchant.id):
        # Count the try first, only while the code is live and has tries left: one
        # statement, so concurrent guesses are counted one by one and none gets a sixth.
        row = db.session.execute(
            sa.update(PasswordReset)
            .where(PasswordReset.attempts < RESET_CODE_TRIES, PasswordReset.expires_at > utcnow())
            .values(attempts=PasswordReset.attempts + 1)
            .returning(PasswordReset.code_hash, PasswordReset.salt)
            .execution_options(synchronize_session=False)).first()
        if row is None:
            return None
        expected = crypto.reset_code_digest(code, salt=row.salt, merchant_id=current_merchant_id())
        if not crypto.constant_time_equals(expected, row.code_hash):
            return None
        merchant = _locked(merchant.id)
        _replace_password(merchant, new_password)
        return merchant


def _active_merchant(email: str) -> Merchant | None:
    return db.session.scalar(sa.select(Merchant).where(
        Merchant.email == email.strip().lower(), Merchant.is_active.is_(True)))
