"""Async results (`/hooks/<token>/result/<kind>`, `/timeout/<kind>`) applied to what asked.

The one place that says which handler takes which kind of request: a result is matched to
its request by ConversationID / OriginatorConversationID (async_requests.find), recorded
on it, and handed to the handler of the request's kind. A new kind (the reversal) plugs in
by adding its handler to HANDLERS. Whatever happens, the body itself is kept in the
callback log by the hooks blueprint; the note returned here says why nothing was applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from loyalty.daraja.callbacks import AsyncResult, CallbackParseError, parse_result
from loyalty.models import AsyncKind, AsyncRequest, AsyncState
from loyalty.services import account_balance, async_requests, stk_receipts
from loyalty.services.ingest import ChannelRoute, parse_body
from loyalty.tenancy import tenant_context
from loyalty.unit_of_work import transactional


@dataclass(frozen=True)
class Handler:
    """What a kind of request does with its result (and with a queue-timeout notice).
    Each returns a note for the callback log when the result changed nothing."""

    on_result: Callable[[AsyncRequest, AsyncResult, dict[str, Any]], str | None]
    on_timeout: Callable[[AsyncRequest], str | None] | None = None


HANDLERS: dict[AsyncKind, Handler] = {
    AsyncKind.BALANCE: Handler(account_balance.on_result, account_balance.on_timeout),
    AsyncKind.STATUS: Handler(stk_receipts.on_status_result),
}


@transactional
def apply_result(route: ChannelRoute, raw: bytes) -> str | None:
    """A result body: recorded on the request that asked and handled by its kind's
    handler. BadCallback when the body is not a result envelope; else the note for the log
    (None when it was applied)."""
    payload, result = parse_body(parse_result, raw)
    with tenant_context(route.merchant_id):
        asked, note = _pending_request(route, result.conversation_id,
                                       result.originator_conversation_id)
        if asked is None:
            return note
        async_requests.finish(asked, result)
        handler = HANDLERS.get(asked.kind)
        try:
            return handler.on_result(asked, result, payload) if handler else None
        except CallbackParseError as exc:
            return f"The result could not be applied: {exc}"


@transactional
def apply_timeout(route: ChannelRoute, raw: bytes) -> str | None:
    """A queue-timeout notice (its shape is undocumented: DARAJA.md 8): the request it
    names is marked timed out. Never refused; the note says what was (not) done."""
    try:
        payload = json.loads(raw)
        result = parse_result(payload)
    except (ValueError, UnicodeDecodeError, CallbackParseError) as exc:
        return f"A timeout notice we cannot match to a request ({exc}); kept for review."
    with tenant_context(route.merchant_id):
        asked, note = _pending_request(route, result.conversation_id,
                                       result.originator_conversation_id)
        if asked is None:
            return note
        asked.state = AsyncState.TIMED_OUT
        handler = HANDLERS.get(asked.kind)
        return handler.on_timeout(asked) if handler and handler.on_timeout else None


def _pending_request(route: ChannelRoute, conversation_id: str,
                     originator_id: str) -> tuple[AsyncRequest | None, str | None]:
    asked = async_requests.find(route.channel_id, conversation_id, originator_id)
    if asked is None:
        return None, (f"No request of this channel has ConversationID {conversation_id or '-'} "
                      f"/ OriginatorConversationID {originator_id or '-'}; kept, not applied.")
    if asked.state != AsyncState.PENDING:
        return None, (f"The {asked.kind.value} request {asked.id} was answered already "
                      f"({asked.state.value}); kept, not applied again.")
    return asked, None

