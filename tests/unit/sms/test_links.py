"""Links in a text (sms/links.py): what a phone would make tappable, and nothing else."""

import pytest

from loyalty.sms.links import find_link
from loyalty.sms.templates import DEFAULT_POINTS_TEMPLATE, DEFAULT_STAMPS_TEMPLATE


@pytest.mark.parametrize("text, link", [
    ("Claim at http://example.com/win now", "http://example.com/win"),
    ("HTTPS://EXAMPLE.COM", "HTTPS://EXAMPLE.COM"),
    ("see www.acme-shop.co.ke", "www.acme-shop.co.ke"),
    ("Pay at example.co.ke/x today", "example.co.ke/x"),
    ("bit.ly/3xYz", "bit.ly/3xYz"),
    ("go to 196.201.214.200 now", "196.201.214.200"),
    ("ｅｘａｍｐｌｅ．ｃｏｍ", "example.com"),  # full-width look-alikes
])
def test_links_in_any_form_are_found(text, link):
    assert find_link(text) == link


@pytest.mark.parametrize("text", [
    DEFAULT_POINTS_TEMPLATE, DEFAULT_STAMPS_TEMPLATE,
    "Hi John! You earned 100 VIP points. Total: 2,847 points.",
    "Paid KES 1,234.50. Thanks!", "J.K. Doe, e.g. this", "", None,
])
def test_ordinary_receipts_have_none(text):
    assert find_link(text) is None
