"""The pure rules of white-label branding: contrast, logo files, sender names."""

import io
import struct
import zlib

import pytest
from PIL import Image

from loyalty.errors import ValidationFailed
from loyalty.services import branding
from loyalty.services.sender_ids import check_sender_id, imitation


def _image(kind: str, size=(800, 400), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30)).save(out, format=kind)
    return out.getvalue()


def test_contrast_follows_wcag_for_black_and_white():
    assert branding.contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert branding.contrast_ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize("color", ["#ff7f00", "#808080", "#0b5394", "#ffd33d", "#e60000"])
def test_a_colour_on_which_white_or_dark_text_reaches_aa_passes(color):
    assert branding.contrast_problem(color) is None


@pytest.mark.parametrize("color,ratio", [("#7a7a7a", "4.39:1"), ("#787878", "4.41:1")])
def test_a_colour_on_which_neither_text_reaches_aa_is_refused_with_its_ratio(color, ratio):
    # mid greys: white gives 4.29, #111111 gives 4.40 on #7a7a7a; neither is 4.5
    assert ratio in branding.contrast_problem(color)
    assert branding.text_on(color)[1] < 4.5


def test_the_text_colour_is_the_one_that_reads_better():
    assert branding.text_on("#116329")[0] == "#ffffff"
    assert branding.text_on("#ffd33d")[0] == "#111111"


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_good_images_are_reencoded_to_png_of_at_most_256_px(kind):
    png = branding.reencode_logo(_image(kind))
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as logo:
        assert logo.format == "PNG" and max(logo.size) == 256 and logo.size == (256, 128)


def test_transparency_is_kept():
    png = branding.reencode_logo(_image("PNG", (64, 64), "RGBA"))
    with Image.open(io.BytesIO(png)) as logo:
        assert logo.mode == "RGBA" and logo.size == (64, 64)


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(document.cookie)</script></svg>")


@pytest.mark.parametrize("body", [
    SVG, b"<html><script>alert(1)</script></html>", b"GIF89a" + b"\0" * 100, b"", b"%PDF-1.7"])
def test_anything_but_png_jpeg_webp_by_content_is_refused(body):
    with pytest.raises(branding.UnsupportedImage) as refused:
        branding.reencode_logo(body)
    assert refused.value.status == 415 and "PNG, JPEG or WebP" in refused.value.message


def test_a_png_signature_in_front_of_html_is_refused_as_unreadable():
    with pytest.raises(ValidationFailed) as refused:
        branding.reencode_logo(b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>")
    assert "could not be read" in refused.value.fields["logo"][0]


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims a huge size: a decompression bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(5000, 5000), (60000, 60000)])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(size):
    with pytest.raises(ValidationFailed) as refused:
        branding.reencode_logo(_png_header_only(*size))
    assert "pixels" in refused.value.fields["logo"][0]


def test_a_file_over_512_kib_is_refused_as_too_large():
    with pytest.raises(branding.PayloadTooLarge) as refused:
        branding.reencode_logo(b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024))
    assert refused.value.status == 413


@pytest.mark.parametrize("name", ["M-PESA", "MPESA", "m pesa", "MP3SA", "Safaricom", "SAFAR1COM",
                                  "KCB Bank", "KCB", "Equity", "eCitizen", "KRA", "GOK Alerts",
                                  "NTSA", "Mpesa Promo", "Bank 0f Ke"])
def test_names_imitating_mpesa_banks_or_government_are_refused(name):
    assert imitation(name)
    problem = check_sender_id(name)
    assert problem and "refused" in problem


@pytest.mark.parametrize("name", ["ACME SHOP", "Mama Njeri", "Kraft Cafe", "Kibanda 24", "SALONI"])
def test_ordinary_shop_names_pass(name):
    assert check_sender_id(name) is None


@pytest.mark.parametrize("name,why", [("ACME ELECTRONICS", "11"), ("ACME_SHOP", "letters"),
                                      ("12345", "letter")])
def test_shape_rules_name_the_reason(name, why):
    assert why in check_sender_id(name)
