"""Async results (`/hooks/<token>/result/<kind>`, `/timeout/<kind>`) applied to what asked.

The one place that says which handler takes which kind of request: a result is matched to
its request by ConversationID / OriginatorConversationID, or by the request id its URL
names (async_requests.find), handed to the handler of the request's kind, and recorded on
the request. A new kind plugs in by adding its handler to HANDLERS. Whatever happens, the
body itself is kept in the callback log by the caller (the hooks blueprint, the spool
replay); the note returned here says why nothing was applied.

A queue-timeout notice is not an answer: the request is marked timed out and its handler
says what that means (a reversal fails), but a result that still comes afterwards is
applied like any other: it is what M-Pesa did. A request no answer will come for (its
worker died before Safaricom acknowledged it, or neither result nor timeout followed the
acknowledgement) is given up by beat the same way (`give_up_unanswered`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

from loyalty.daraja.callbacks import AsyncResult, CallbackParseError, parse_result
from loyalty.models import AsyncKind, AsyncRequest, AsyncState
from loyalty.models.base import utcnow
from loyalty.services import account_balance, async_requests, reversals, stk_receipts
from loyalty.services.async_requests import ResultMismatch
from loyalty.services.ingest import ChannelRoute, parse_body
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import transactional, unit_of_work

log = logging.getLogger(__name__)

# A request in one of these states still takes a result.
ANSWERABLE = (AsyncState.PENDING, AsyncState.TIMED_OUT)


@dataclass(frozen=True)
class Handler:
    """What a kind of request does with its result (and with a queue-timeout notice).
    Each returns a note for the callback log when the result changed nothing; on_result
    sees the request before the result is recorded on it (its state says whether the
    queue had timed out), and raises ResultMismatch when the result is not its own."""

    on_result: Callable[[AsyncRequest, AsyncResult, dict[str, Any]], str | None]
    on_timeout: Callable[[AsyncRequest], str | None] | None = None
    # No answer came in time (give_up_unanswered); on_timeout's when not given.
    on_unanswered: Callable[[AsyncRequest], str | None] | None = None


HANDLERS: dict[AsyncKind, Handler] = {
    AsyncKind.BALANCE: Handler(account_balance.on_result, account_balance.on_timeout,
                               account_balance.on_unanswered),
    AsyncKind.STATUS: Handler(stk_receipts.on_status_result),
    AsyncKind.REVERSAL: Handler(reversals.on_result, reversals.on_timeout,
                                reversals.on_unanswered),
}
# Recorded on a request given up for want of an answer (its result_desc).
NOT_ACKNOWLEDGED = ("Given up: Safaricom never acknowledged the request (the worker sending "
                    "it stopped) and no result came.")
NOT_ANSWERED = "Given up: Safaricom acknowledged the request but sent no result and no timeout."
SWEEP_LIMIT = 200


@transactional
def apply_result(route: ChannelRoute, raw: bytes, *, kind: str | None = None,
                 ref: int | None = None) -> str | None:
    """A result body (posted to `/result/<kind>[/<ref>]`): handled by its request's kind's
    handler and recorded on the request. BadCallback when the body is not a result
    envelope; else the note for the log (None when it was applied)."""
    payload, result = parse_body(parse_result, raw)
    with tenant_context(route.merchant_id):
        asked, note = _answerable(route, result, kind, ref)
        if asked is None:
            return note
        if result.result_type == 1:
            return "More messages follow (ResultType 1): waiting for the final one."
        handler = HANDLERS.get(asked.kind)
        try:
            note = handler.on_result(asked, result, payload) if handler else None
        except ResultMismatch as exc:
            return str(exc)  # not this request's result: it keeps waiting for its own
        except CallbackParseError as exc:
            note = f"The result could not be applied: {exc}"
        async_requests.finish(asked, result)
        return note


@transactional
def apply_timeout(route: ChannelRoute, raw: bytes, *, kind: str | None = None,
                  ref: int | None = None) -> str | None:
    """A queue-timeout notice (its shape is undocumented: DARAJA.md 8): the request it
    names, by its ids or by `ref`, is marked timed out. Never refused; the note says what
    was (not) done."""
    ids = ("", "")
    try:
        result = parse_result(json.loads(raw))
        ids = (result.conversation_id, result.originator_conversation_id)
    except (ValueError, UnicodeDecodeError, CallbackParseError) as exc:
        if ref is None:
            return f"A timeout notice we cannot match to a request ({exc}); kept for review."
    with tenant_context(route.merchant_id):
        asked = async_requests.find(route.channel_id, *ids, kind=kind_of(kind), ref=ref)
        if asked is None:
            return _unmatched(*ids)
        if asked.state != AsyncState.PENDING:
            return _answered(asked)
        asked.state = AsyncState.TIMED_OUT
        handler = HANDLERS.get(asked.kind)
        return handler.on_timeout(asked) if handler and handler.on_timeout else None


def give_up_unanswered(*, unacknowledged_hours: float, unanswered_hours: float,
                       limit: int = SWEEP_LIMIT) -> int:
    """Beat (its task commits per request): every merchant's requests no answer will come
    for are marked timed out and handed to their kind's handler (a reversal fails with what
    to check), each in its own transaction so one that cannot be given up holds up no other.
    A result that still comes is applied like one after a queue timeout. How many."""
    now = utcnow()
    with unit_of_work():
        found = async_requests.unanswered(
            unacknowledged_before=now - timedelta(hours=unacknowledged_hours),
            unanswered_before=now - timedelta(hours=unanswered_hours), limit=limit)
    given_up = 0
    for merchant_id, request_id in found:
        try:
            given_up += _give_up(merchant_id, request_id)
        except Exception:  # logged and retried next run; the others still go
            log.exception("async request %s could not be given up", request_id)
    return given_up


@transactional
def _give_up(merchant_id: int, request_id: int) -> bool:
    with tenant_context(merchant_id):
        asked = async_requests.locked(request_id)
        if asked is None or asked.state != AsyncState.PENDING:
            return False  # answered since it was listed
        acknowledged = bool(asked.conversation_id or asked.originator_conversation_id)
        asked.state = AsyncState.TIMED_OUT
        asked.result_desc = NOT_ANSWERED if acknowledged else NOT_ACKNOWLEDGED
        handler = HANDLERS.get(asked.kind)
        step = handler and (handler.on_unanswered or handler.on_timeout)
        note = step(asked) if step else None
        if note:
            log.info("async request %s given up: %s", request_id, note)
        return True


def _answerable(route: ChannelRoute, result: AsyncResult, kind: str | None,
                ref: int | None) -> tuple[AsyncRequest | None, str | None]:
    asked = async_requests.find(route.channel_id, result.conversation_id,
                                result.originator_conversation_id, kind=kind_of(kind), ref=ref)
    if asked is None:
        return None, _unmatched(result.conversation_id, result.originator_conversation_id)
    if asked.state not in ANSWERABLE:
        return None, _answered(asked)
    return asked, None


def _answered(asked: AsyncRequest) -> str:
    return (f"The {asked.kind.value} request {asked.id} was answered already "
            f"({asked.state.value}); kept, not applied again.")


def _unmatched(conversation_id: str, originator_id: str) -> str:
    return (f"No request of this channel has ConversationID {conversation_id or '-'} "
            f"/ OriginatorConversationID {originator_id or '-'}; kept, not applied.")


def kind_of(kind: str | None) -> AsyncKind | None:
    """The AsyncKind a URL's `<kind>` names, None for anything else."""
    try:
        return AsyncKind(kind) if kind else None
    except ValueError:
        return None
