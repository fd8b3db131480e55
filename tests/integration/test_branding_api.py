"""White-label over the API: branding, the logo and its public file, the theme."""

import io

import pytest
import responses
import sqlalchemy as sa
from PIL import Image

from loyalty.services import crediting, messages
from tests.conftest import auth
from tests.integration.conftest import AT, JOHN, SENT, c2b_body, make_shop
from tests.unit.test_branding_rules import _png_header_only


def _image(kind: str, size=(1024, 512)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (11, 83, 148)).save(out, format=kind)
    return out.getvalue()


MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@pytest.fixture
def shop(client, db_session):
    return make_shop(client, db_session)


def test_branding_is_set_with_patch_and_shown_on_the_merchant(shop):
    changed = shop.api("PATCH", "/merchants/me", json={"branding": {
        "display_name": "Acme Duka", "primary_color": "#0B5394", "accent_color": "#ffd33d"}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["branding"] == {
        "display_name": "Acme Duka", "primary_color": "#0b5394", "accent_color": "#ffd33d",
        "logo_url": None}
    # only the fields sent change
    shop.api("PATCH", "/merchants/me", json={"branding": {"accent_color": None}})
    assert shop.api("GET", "/merchants/me").get_json()["branding"]["primary_color"] == "#0b5394"


def test_a_colour_without_contrast_is_refused_naming_the_field_and_ratio(shop):
    refused = shop.api("PATCH", "/merchants/me", json={"branding": {"primary_color": "#7a7a7a"}})
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert "4.39:1" in error["fields"]["branding"]["primary_color"][0]
    assert "branding.primary_color" in error["message"]
    bad_shape = shop.api("PATCH", "/merchants/me", json={"branding": {"accent_color": "red"}})
    assert bad_shape.status_code == 422
    assert "#rrggbb" in bad_shape.get_json()["error"]["fields"]["branding"]["accent_color"][0]
    assert shop.api("GET", "/merchants/me").get_json()["branding"]["primary_color"] is None


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_a_logo_sent_as_the_body_is_reencoded_and_served_with_nosniff(shop, client, kind):
    uploaded = shop.api("PUT", "/merchants/me/logo", data=_image(kind), content_type=MIME[kind])
    assert uploaded.status_code == 200, uploaded.get_json()
    url = uploaded.get_json()["branding"]["logo_url"]
    served = client.get(url)
    assert served.status_code == 200 and served.mimetype == "image/png"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert "max-age" in served.headers["Cache-Control"] and served.headers["ETag"]
    with Image.open(io.BytesIO(served.data)) as logo:
        assert logo.format == "PNG" and logo.size == (256, 128)
    again = client.get(url, headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304


def test_a_logo_sent_as_a_multipart_field_is_accepted(shop):
    uploaded = shop.api("PUT", "/merchants/me/logo", content_type="multipart/form-data",
                        data={"logo": (io.BytesIO(_image("PNG", (300, 300))), "logo.png")})
    assert uploaded.status_code == 200, uploaded.get_json()
    assert uploaded.get_json()["branding"]["logo_url"]


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(document.cookie)</script></svg>")


@pytest.mark.parametrize("body,content_type,status", [
    (SVG, "image/svg+xml", 415),
    (SVG, "image/png", 415),  # what the file says it is does not count
    (b"<html><script>alert(1)</script></html>", "image/png", 415),
    (b"\x89PNG\r\n\x1a\n<html><script>alert(1)</script></html>", "image/png", 422),
])
def test_hostile_logos_are_refused_and_nothing_is_kept(shop, client, body, content_type, status):
    refused = shop.api("PUT", "/merchants/me/logo", data=body, content_type=content_type)
    assert refused.status_code == status, refused.get_json()
    assert refused.get_json()["error"]["message"]
    assert shop.api("GET", "/merchants/me").get_json()["branding"]["logo_url"] is None


def test_a_decompression_bomb_is_refused(shop):
    refused = shop.api("PUT", "/merchants/me/logo", data=_png_header_only(60000, 60000),
                       content_type="image/png")
    assert refused.status_code == 422
    assert "pixels" in refused.get_json()["error"]["fields"]["logo"][0]


def test_a_5_mb_file_is_refused_with_413_as_body_and_as_form(shop):
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024)
    assert shop.api("PUT", "/merchants/me/logo", data=big,
                    content_type="image/png").status_code == 413
    # the form built by hand: the test client would spool a big file to a temporary file
    # that it leaves open when the request is refused
    boundary = "x-boundary"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"logo\"; "
            f"filename=\"logo.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + big + \
        f"\r\n--{boundary}--\r\n".encode()
    as_form = shop.api("PUT", "/merchants/me/logo", data=form,
                       content_type=f"multipart/form-data; boundary={boundary}")
    assert as_form.status_code == 413


def test_a_form_part_without_a_readable_name_is_refused_not_a_crash(shop):
    boundary = "x-boundary"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"\r\n\r\n"
            f"junk\r\n--{boundary}--\r\n").encode()
    refused = shop.api("PUT", "/merchants/me/logo", data=form,
                       content_type=f"multipart/form-data; boundary={boundary}")
    assert refused.status_code in (400, 422), refused.get_data(as_text=True)
    assert refused.get_json()["error"]["message"]


def test_the_json_size_limit_still_holds_elsewhere(shop):
    huge = shop.api("PATCH", "/merchants/me", json={"owner_name": "x" * 200_000})
    assert huge.status_code == 413


def test_the_theme_stylesheet_holds_the_colours_as_custom_properties(shop, client):
    me = shop.api("PATCH", "/merchants/me", json={"branding": {
        "primary_color": "#0b5394", "accent_color": "#ffd33d"}}).get_json()
    css = client.get(f"/brand/{me['public_id']}/theme.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    text = css.get_data(as_text=True)
    assert "--brand-primary: #0b5394;" in text and "--brand-on-primary: #ffffff;" in text
    assert "--brand-accent: #ffd33d;" in text and "--brand-on-accent: #111111;" in text
    assert client.get("/brand/0000000000000000/theme.css").status_code == 404
    assert client.get("/brand/not-an-id/logo.png").status_code == 404
    assert client.get(f"/brand/{me['public_id']}/logo.png").status_code == 404  # none yet


def test_merchant_placeholder_renders_the_display_name(shop, db_session, gateway):
    shop.api("PATCH", "/merchants/me", json={"branding": {"display_name": "Acme Duka"}})
    shop.api("PATCH", "/programs/loyalty", json={
        "sms_template": "Asante {first_name}! {points} points at {merchant}."})
    shop.api("POST", "/customers", json={"phone": JOHN, "first_name": "John"})
    shop.hook("c2b/confirmation", c2b_body(bill_ref="X1"))
    gateway.add(responses.POST, f"{AT}/version1/messaging", json=SENT)
    crediting.credit_waiting()
    message_id = db_session.execute(sa.text("SELECT max(id) FROM sms_messages")).scalar()
    messages.send_batch([(shop.merchant_id, message_id)])
    assert "at+Acme+Duka." in gateway.calls[0].request.body


def test_the_logo_needs_an_api_key(client):
    assert client.put("/api/v1/merchants/me/logo", data=_image("PNG"), content_type="image/png",
                      headers=auth("mpl_not-a-key")).status_code == 401
