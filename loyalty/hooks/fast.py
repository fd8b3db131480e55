"""The hot path: a C2B confirmation for a known channel, answered without Flask's dispatch.

Every payment is one POST to /hooks/<token>/c2b/confirmation, and on a busy day they are
most of the web tier's work. This WSGI middleware, in front of the Flask app, takes the
common case — the channel's route is cached in this process, the body is a well-formed
confirmation of that channel — and stores it with the very same `ingest.store_c2b` (one
INSERT, the crediting nudge after its commit), in an app context but without a request
context, URL routing, before/after-request hooks or a Response object. In bench/ that was
about 0.25 ms of CPU per confirmation, half of what the view cost in-process.

A token not cached in this process is looked up here (only known channels are cached);
anything else goes to the Flask view unchanged (the body is handed on): an unknown token
(the view answers 404 and counts the stranger; a stranger's body is never read), a body that is not a confirmation of that channel — the same strict field
checks, `ingest.parse_confirmation` (the view keeps it in the callback log and answers the
error), a database error (the view tries again: the INSERT is idempotent, and the view
keeps the body if it fails again), a source-IP policy other than "off" (the view applies
it), an oversized or chunked body.
"""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any, Callable, Iterable

from loyalty import metrics
from loyalty.errors import NotFound
from loyalty.services import ingest

log = logging.getLogger(__name__)

PREFIX, SUFFIX = "/hooks/", "/c2b/confirmation"
# Set in the WSGI environ when this path found the token unknown (hooks/views.py).
UNKNOWN_TOKEN = "loyalty.unknown_token"
_ACCEPTED = (json.dumps({"ResultCode": 0, "ResultDesc": "Accepted"}, separators=(",", ":"))
             + "\n").encode()


class FastConfirmations:
    """WSGI middleware: `app.wsgi_app = FastConfirmations(app, app.wsgi_app)`."""

    def __init__(self, app, downstream: Callable) -> None:
        self.app = app
        self.downstream = downstream
        self.max_body = app.config["MAX_CONTENT_LENGTH"]

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        token = self._token(environ)
        if token is not None:
            body = self._answer(environ, token)
            if body is not None:
                request_id = (environ.get("HTTP_X_REQUEST_ID", "")[:64]
                              or uuid.uuid4().hex[:12])
                start_response("200 OK", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body))),
                                          ("X-Request-ID", request_id)])
                return [body]
        return self.downstream(environ, start_response)

    def _token(self, environ: dict[str, Any]) -> str | None:
        if environ.get("REQUEST_METHOD") != "POST":
            return None
        path = environ.get("PATH_INFO", "")
        if not (path.startswith(PREFIX) and path.endswith(SUFFIX)):
            return None
        token = path[len(PREFIX):-len(SUFFIX)]
        return token if token and "/" not in token else None

    def _answer(self, environ: dict[str, Any], token: str) -> bytes | None:
        """The answer's body when the confirmation was stored here, else None (after
        putting the body back for the Flask view)."""
        if self.app.config["CALLBACK_IP_POLICY"] != "off":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            return None
        if not 0 <= length <= self.max_body:
            return None
        with self.app.app_context():
            route = ingest.cached_route(token) or self._look_up(environ, token)
            if route is None:
                return None
            raw = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(raw)  # for the view, if it comes to that
            try:
                confirmation = ingest.parse_confirmation(route, raw)
            except ingest.BadCallback:
                return None  # the view logs the body and answers why
            try:
                ingest.store_confirmation(route, confirmation)
            except Exception as exc:  # the view tries again and answers the error (idempotent)
                log.warning("confirmation fast path: %s; handing it to the view",
                            type(exc).__name__)
                return None
        metrics.CALLBACKS.labels(kind="c2b_confirmation", outcome="accepted").inc()
        return _ACCEPTED

    @staticmethod
    def _look_up(environ: dict[str, Any], token: str) -> ingest.ChannelRoute | None:
        """A token this process has not cached: looked up here (one indexed read) rather
        than left to the view. With tens of thousands of channels most confirmations find
        their channel's route uncached — each channel pays rarely, and a route is fresh for
        ROUTE_CACHE_SECONDS only — and the view's dispatch on every miss put the callback
        p99 at twice the 30-channel figure (bench/README.md, scale). An unknown token is
        marked for the view, which answers 404 without asking the database again."""
        try:
            return ingest.route_for(token)
        except NotFound:
            environ[UNKNOWN_TOKEN] = token
        except Exception as exc:  # the view looks again and keeps the body if it must
            log.warning("confirmation fast path: %s looking up a route", type(exc).__name__)
        return None
