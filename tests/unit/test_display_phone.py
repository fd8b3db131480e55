"""Phones are shown the way Kenyans write them."""

import pytest

from loyalty.phones import display_phone


@pytest.mark.parametrize(("stored", "shown"), [
    ("254712345678", "0712 345 678"), ("254110123456", "0110 123 456"),
    ("2547 ***** 678", "2547 ***** 678"), (None, ""), ("", "")])
def test_a_stored_phone_reads_as_a_kenyan_writes_it(stored, shown):
    assert display_phone(stored) == shown
