"""Callback tokens never reach a log line: the app's own, gunicorn's access and error lines,
tracebacks included. (tests/e2e/test_callbacks_isolated.py reads the logs of a real run.)"""

from __future__ import annotations

import io
import logging

import pytest
from flask import Flask

from loyalty.logging_setup import CallbackTokenMask, init_app, mask_callback_tokens

TOKEN = "9f86d081884c7d659a2feaa0c55ad015"


def test_a_token_is_shown_by_its_last_four_characters():
    assert mask_callback_tokens(f"POST /hooks/{TOKEN}/c2b/confirmation HTTP/1.1") == \
        "POST /hooks/…d015/c2b/confirmation HTTP/1.1"
    assert mask_callback_tokens(f"http://h/hooks/{TOKEN}") == "http://h/hooks/…d015"
    assert mask_callback_tokens(f"/hooks/{TOKEN}?x=1 and /hooks/{TOKEN[::-1]}/stk") == \
        "/hooks/…d015?x=1 and /hooks/…68f9/stk"
    masked = mask_callback_tokens(f"/hooks/{TOKEN}/stk")
    assert mask_callback_tokens(masked) == masked  # masking twice changes nothing
    assert mask_callback_tokens("/api/v1/mpesa-channels/1") == "/api/v1/mpesa-channels/1"


@pytest.fixture
def output():
    """A logger writing through the mask, as the app's root handler does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(CallbackTokenMask())
    logger = logging.getLogger("tests.masking")
    logger.addHandler(handler)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_tokens_in_arguments_and_tracebacks_are_masked(output):
    logger, stream = output
    logger.warning("callback to %s failed", f"http://127.0.0.1:8001/hooks/{TOKEN}/c2b/confirmation")
    try:
        raise ConnectionError(f"HTTPConnectionPool: Max retries with url: /hooks/{TOKEN}/stk")
    except ConnectionError:
        logger.exception("emulator: callback job failed")
    text = stream.getvalue()
    assert TOKEN not in text
    assert "/hooks/…d015/c2b/confirmation" in text and "/hooks/…d015/stk" in text
    assert "Traceback" in text


def test_gunicorn_access_and_error_lines_are_masked():
    init_app(Flask(__name__))  # what create_app does in every gunicorn worker (idempotent)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    access, error = logging.getLogger("gunicorn.access"), logging.getLogger("gunicorn.error")
    for logger in (access, error):
        logger.addHandler(handler)
    try:
        # gunicorn's own calls: glogging.Logger.access() and handle_error().
        access.info('%(h)s "%(r)s" %(s)s', {"h": "127.0.0.1", "s": "200",
                                            "r": f"POST /hooks/{TOKEN}/c2b/confirmation HTTP/1.1"})
        error.error("Error handling request %s", f"/hooks/{TOKEN}/c2b/validation")
    finally:
        for logger in (access, error):
            logger.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        '127.0.0.1 "POST /hooks/…d015/c2b/confirmation HTTP/1.1" 200',
        "Error handling request /hooks/…d015/c2b/validation"]
