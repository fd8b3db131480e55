"""Segment counts, which decide what each SMS costs the merchant."""

from __future__ import annotations

import pytest

from loyalty.sms.segments import encoding, segment_count


def test_160_plain_characters_fit_one_sms_and_161_need_two():
    assert segment_count("a" * 160) == 1
    assert segment_count("a" * 161) == 2


def test_empty_text_is_zero_segments():
    assert segment_count("") == 0
    assert encoding("") == "GSM-7"


@pytest.mark.parametrize("char", list("^{}\\[~]|€") + ["\f"])
def test_extension_characters_count_double(char):
    assert encoding(char) == "GSM-7"
    assert segment_count("a" * 158 + char) == 1
    assert segment_count("a" * 159 + char) == 2


def test_swahili_and_english_receipts_stay_gsm7():
    text = ("Habari John! Umepata pointi 100 za VIP. Jumla: 2,847. Asante! "
            "You earned 100 VIP points. Total: 2,847 points.")
    assert encoding(text) == "GSM-7"
    assert segment_count(text) == 1


def test_gsm_accents_stay_gsm7_but_other_accents_switch_to_ucs2():
    assert encoding("Café Ñoño à ü £5 ¥ §") == "GSM-7"
    assert encoding("Crème brûlée") == "UCS-2"  # û is not in GSM 03.38


def test_curly_apostrophe_switches_to_ucs2():
    # Phones and word processors type ’ instead of ': the SMS then holds 70, not 160.
    text = "Thanks! You’ve earned " + "x" * 60
    assert encoding(text) == "UCS-2"
    assert segment_count(text) == 2


def test_emoji_message_is_ucs2_and_each_emoji_takes_two_units():
    assert encoding("Asante 🎉") == "UCS-2"
    assert segment_count("🎉" * 35) == 1
    assert segment_count("a" + "🎉" * 35) == 2


def test_gsm7_multipart_boundaries_at_153_per_part():
    assert segment_count("a" * 306) == 2
    assert segment_count("a" * 307) == 3
    assert segment_count("a" * 459) == 3
    assert segment_count("a" * 460) == 4


def test_ucs2_boundaries_at_70_then_67_per_part():
    assert segment_count("ж" * 70) == 1
    assert segment_count("ж" * 71) == 2
    assert segment_count("ж" * 134) == 2
    assert segment_count("ж" * 135) == 3


def test_an_escaped_character_is_not_split_across_parts():
    # 152 + 2 + 152 = 306 units, but € cannot straddle parts 1 and 2: three parts.
    assert segment_count("a" * 152 + "€" + "a" * 152) == 3


def test_an_emoji_is_not_split_across_parts():
    # 66 + 2 + 66 = 134 code units, but the emoji cannot straddle parts 1 and 2.
    assert segment_count("ж" * 66 + "🎉" + "ж" * 66) == 3
