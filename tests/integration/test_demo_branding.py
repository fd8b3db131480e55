"""`make run`'s demo merchant shows branding (issue 18): what `flask demo seed` applies
gives it a display name, colours that pass the contrast rule and a logo, all served the way
any merchant's are."""

import io

from PIL import Image

from loyalty.demo import brand
from loyalty.services import branding
from loyalty.tenancy import tenant_context
from tests.conftest import auth, register_merchant


def test_the_demo_look_is_a_name_contrasting_colours_and_a_served_logo(client, db_session):
    merchant, key = register_merchant(client)
    with tenant_context(merchant["id"]):
        brand.apply()
        brand.apply()  # every seed puts it back: twice is the same look
    shown = client.get("/api/v1/merchants/me", headers=auth(key)).get_json()["branding"]
    assert (shown["display_name"], shown["primary_color"], shown["accent_color"]) == (
        "Acme Electronics", "#0b3d91", "#ffd33d")
    for color in (shown["primary_color"], shown["accent_color"]):
        assert branding.contrast_problem(color) is None, color

    logo = client.get(shown["logo_url"])
    assert logo.status_code == 200 and logo.mimetype == "image/png"
    with Image.open(io.BytesIO(logo.data)) as picture:
        assert picture.size == (128, 128)
        # Not a blank square: the bolt is drawn in the accent colour on the primary.
        colours = {rgb for _, rgb in picture.convert("RGB").getcolors(128 * 128)}
        assert {(0x0b, 0x3d, 0x91), (0xff, 0xd3, 0x3d)} <= colours

    theme = client.get(f"/brand/{shown['logo_url'].split('/')[2]}/theme.css").get_data(
        as_text=True)
    assert "--brand-primary: #0b3d91;" in theme and "--brand-on-accent: #111111;" in theme
