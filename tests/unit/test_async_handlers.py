"""Every kind of async request has its handler, in the one place that maps them: a result
of any kind (a reversal's too) is applied, and the kinds whose queue timeout means something
to the merchant say so."""

from loyalty.models import AsyncKind
from loyalty.services import account_balance, async_results, reversals


def test_every_kind_of_request_has_a_handler():
    assert set(async_results.HANDLERS) == set(AsyncKind)


def test_a_reversal_result_and_its_timeout_go_to_the_reversal_handlers():
    handler = async_results.HANDLERS[AsyncKind.REVERSAL]
    assert (handler.on_result, handler.on_timeout) == (reversals.on_result, reversals.on_timeout)
    balance = async_results.HANDLERS[AsyncKind.BALANCE]
    assert balance.on_timeout is account_balance.on_timeout


def test_the_kind_in_a_result_url_is_read_strictly():
    assert async_results.kind_of("reversal") is AsyncKind.REVERSAL
    assert async_results.kind_of("nonsense") is None and async_results.kind_of(None) is None
