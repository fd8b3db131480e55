"""How many SMS a text costs: GSM 03.38 (7-bit) or UCS-2 encoding, and the segment count.

Africa's Talking bills per segment, so merchants see this number next to their template.
Rules (3GPP TS 23.038 / 23.040):
- GSM-7 when every character is in the basic table (1 unit) or the extension table (2 units:
  an escape plus the character); otherwise the whole message goes as UCS-2.
- One SMS holds 160 GSM units or 70 UCS-2 code units. A longer text is split into parts of 153
  units / 67 code units (the rest carries the concatenation header).
- A part never ends between an escape and its character, nor between the two halves of a
  UTF-16 surrogate pair (emoji count 2 code units), as gateways split that way too; so the
  count is a greedy packing, not just a division.
- An empty text is 0 segments: there is nothing to send (the caller skips it).
"""

from __future__ import annotations

from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67


def encoding(text: str) -> Encoding:
    """Return the encoding a gateway must use for `text`."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        return "GSM-7"
    return "UCS-2"


def first_unicode_character(text: str) -> str | None:
    """The first character that forces the whole text into UCS-2 (an emoji, a curly
    apostrophe), or None when the text is GSM-7."""
    return next((ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENSION), None)


def segment_count(text: str) -> int:
    """Return how many SMS parts `text` is sent (and billed) as; 0 for an empty text."""
    if not text:
        return 0
    if encoding(text) == "GSM-7":
        sizes = [2 if ch in GSM7_EXTENSION else 1 for ch in text]
        single, part = SINGLE_GSM7, PART_GSM7
    else:
        sizes = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
        single, part = SINGLE_UCS2, PART_UCS2
    if sum(sizes) <= single:
        return 1
    return _pack(sizes, part)


def _pack(sizes: list[int], capacity: int) -> int:
    """Count parts when each character's units must stay together in one part."""
    parts, used = 1, 0
    for size in sizes:
        if used + size > capacity:
            parts, used = parts + 1, 0
        used += size
    return parts
