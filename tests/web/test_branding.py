"""The Branding page: name and colours (refused without contrast), the logo, a sender name,
and the tokens applied to every page through the theme stylesheet (no inline style)."""

import io
import re

import responses
from PIL import Image

from tests.integration.conftest import AT, gateway  # noqa: F401
from tests.web.conftest import text

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (600, 300), (11, 83, 148)).save(out, format="PNG")
    return out.getvalue()


def test_colours_are_saved_and_every_page_links_the_theme_without_inline_style(client, shop):
    saved = client.post("/settings/branding", data={
        "display_name": "Acme Duka", "primary_color": "#0b5394", "accent_color": "#ffd33d"})
    assert saved.status_code == 302
    page = client.get("/dashboard")
    html = page.get_data(as_text=True)
    theme = re.search(r'<link rel="stylesheet" href="(/brand/[0-9a-f]{16}/theme\.css\?v=\w+)">',
                      html).group(1)
    assert "Acme Duka" in text(page)
    assert "style=" not in html and "<style" not in html
    assert "style-src 'self'" in page.headers["Content-Security-Policy"]
    css = client.get(theme).get_data(as_text=True)
    assert "--brand-primary: #0b5394;" in css and "--brand-on-accent: #111111;" in css


def test_a_colour_without_contrast_is_shown_next_to_its_field_with_the_ratio(client, shop):
    refused = client.post("/settings/branding", data={
        "display_name": "", "primary_color": "#7a7a7a", "accent_color": "#1a7f37"})
    assert refused.status_code == 422
    assert "4.39:1" in text(refused) and 'aria-invalid="true"' in refused.get_data(as_text=True)


def test_a_logo_is_uploaded_and_shown_and_an_svg_refused(client, shop):
    refused = client.post("/settings/branding/logo", content_type="multipart/form-data",
                          data={"logo": (io.BytesIO(SVG), "logo.png")})
    assert refused.status_code == 422 and "SVG" in text(refused)
    saved = client.post("/settings/branding/logo", content_type="multipart/form-data",
                        data={"logo": (io.BytesIO(_png()), "logo.png")})
    assert saved.status_code == 302
    html = client.get("/settings/branding").get_data(as_text=True)
    logo = re.search(r'src="(/brand/[0-9a-f]{16}/logo\.png\?v=\d+)"', html).group(1)
    served = client.get(logo)
    assert served.mimetype == "image/png" and served.headers["X-Content-Type-Options"] == "nosniff"


def test_a_sender_name_is_requested_and_its_state_shown(client, shop):
    refused = client.post("/settings/sender-id", data={"sender_id": "M-PESA",
                                                       "category": "transactional"})
    assert refused.status_code == 422 and "looks like M-PESA" in text(refused)
    assert client.post("/settings/sender-id", data={
        "sender_id": "ACME SHOP", "category": "transactional"}).status_code == 302
    page = text(client.get("/settings/branding"))
    assert "ACME SHOP for receipts: pending" in page


def test_an_own_sms_account_is_kept_only_once_africas_talking_accepts_it(
        client, shop, gateway):  # noqa: F811
    key = "atsk_own-merchant-key-0123456789"
    form = {"username": "acmeduka", "api_key": key}
    gateway.add(responses.GET, f"{AT}/version1/user", status=401,
                body="The supplied authentication is invalid")
    refused = client.post("/settings/sms-account", data=form)
    assert refused.status_code == 422
    assert "did not accept this username and API key" in text(refused)
    assert key not in refused.get_data(as_text=True)
    assert "through the platform's account" in text(client.get("/settings/branding"))

    gateway.add(responses.GET, f"{AT}/version1/user", json={"UserData": {"balance": "KES 10"}})
    saved = client.post("/settings/sms-account", data=form, follow_redirects=True)
    page = text(saved)
    assert "Your texts now go through your own Africa's Talking account." in page
    assert "through your Africa's Talking account acmeduka" in page
    assert key not in saved.get_data(as_text=True)


def _theme(client) -> str:
    html = client.get("/dashboard").get_data(as_text=True)
    url = re.search(r'href="(/brand/[0-9a-f]{16}/theme\.css\?v=\w+)"', html).group(1)
    return client.get(url).get_data(as_text=True)


def _standard_box_ticked(client) -> bool:
    box = re.search(r"<input[^>]*name=\"standard_colors\"[^>]*>",
                    client.get("/settings/branding").get_data(as_text=True)).group(0)
    return "checked" in box


def test_saving_a_name_alone_chooses_no_colour_and_the_box_brings_the_standard_ones_back(
        client, shop):
    # What a browser sends when only the name was typed: the pickers' shown colours, box ticked.
    assert _standard_box_ticked(client)
    untouched = {"primary_color": "#116329", "accent_color": "#1a7f37"}
    assert client.post("/settings/branding", data={
        "display_name": "Acme Duka", **untouched, "standard_colors": "y"}).status_code == 302
    assert "--brand-" not in _theme(client) and _standard_box_ticked(client)
    # Unticked but the pickers untouched: still no colour of the merchant's.
    assert client.post("/settings/branding", data={
        "display_name": "Acme Duka", **untouched}).status_code == 302
    assert "--brand-" not in _theme(client)

    # A colour chosen (box unticked) is kept; saving the name again keeps it and still
    # chooses no button colour.
    assert client.post("/settings/branding", data={
        "display_name": "Acme Duka", "primary_color": "#0b5394",
        "accent_color": "#1a7f37"}).status_code == 302
    assert client.post("/settings/branding", data={
        "display_name": "Acme Duka Ltd", "primary_color": "#0b5394",
        "accent_color": "#1a7f37"}).status_code == 302
    css = _theme(client)
    assert "--brand-primary: #0b5394;" in css and "--brand-accent" not in css
    assert not _standard_box_ticked(client)
    assert "Acme Duka Ltd" in text(client.get("/dashboard"))

    # Ticking the box is the way back, whatever the pickers say.
    assert client.post("/settings/branding", data={
        "display_name": "Acme Duka Ltd", "primary_color": "#0b5394", "accent_color": "#000000",
        "standard_colors": "y"}).status_code == 302
    assert "--brand-" not in _theme(client) and _standard_box_ticked(client)


def test_branding_is_in_the_main_menu_and_marked_there_on_its_page(client, shop):
    html = client.get("/settings/branding").get_data(as_text=True)
    nav = re.search(r'<nav aria-label="Main">(.*?)</nav>', html, re.S).group(1)
    assert re.search(r'<a href="/settings/branding"\s+aria-current="page">Branding</a>', nav), nav
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert re.search(r'<a href="/settings/branding"\s+>Branding</a>',
                     re.search(r'<nav aria-label="Main">(.*?)</nav>', dashboard, re.S).group(1))
