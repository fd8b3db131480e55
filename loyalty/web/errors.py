"""HTML error pages for the web UI: the `web` blueprint's own error handlers.

Flask prefers a blueprint's handlers to the app's for requests routed to it, so the pages
get HTML while every other path keeps the JSON body of api/errors.py. A URL that matches
no route belongs to no blueprint, and gets JSON. Importing this module registers them.
"""

from __future__ import annotations

import logging

from flask import Response, make_response, render_template
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException

from loyalty import ratelimits
from loyalty.api.errors import SERVER_FAULT, http_message, log_unexpected
from loyalty.errors import DomainError
from loyalty.web.blueprint import bp

log = logging.getLogger(__name__)

TITLES = {400: "Something is wrong with that request", 401: "Please log in",
          404: "Not found", 405: "Not allowed", 409: "That cannot be done right now",
          413: "Too much data", 422: "Please check your input",
          429: "Too many attempts", 500: "Something went wrong", 503: "Temporarily unavailable"}


def error_page(status: int, message: str, error: Exception | None = None):
    """The page for an error status; `message` is the same sentence the API would send."""
    if isinstance(error, CSRFError):
        # The usual cause is a page left open past the token's lifetime, not an attack.
        message = ("This form has expired or was sent from another site. Go back, reload "
                   "the page and try again.")
    title = TITLES.get(status, "Something went wrong")
    try:
        return render_template("web/error.html", status=status, title=title,
                               message=message), status
    except Exception:  # the page itself failed (e.g. a broken template): still answer
        log.exception("could not render the error page")
        return Response(f"{status} {escape(title)}: {escape(message)}", status=status,
                        mimetype="text/plain")


@bp.errorhandler(DomainError)
def _domain_error_page(error: DomainError):
    return error_page(error.status, error.message, error)


@bp.errorhandler(RateLimitExceeded)
def _too_many_page(error: RateLimitExceeded):
    message, seconds = ratelimits.refusal(error)
    response = make_response(error_page(429, message, error))
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.errorhandler(HTTPException)
def _http_error_page(error: HTTPException):
    return error_page(error.code or 500, http_message(error), error)


@bp.errorhandler(Exception)
def _unexpected_error_page(error: Exception):
    log_unexpected(error)
    return error_page(500, SERVER_FAULT, error)
