"""The demo merchant's white-label look (issue 18: `make run`'s demo "shows branding").

A display name, two colours and a logo, set through the same services the Branding page
and `PATCH /merchants/me` use, so the contrast rule and the logo's re-encoding apply to the
demo as to anyone. The logo is drawn with Pillow at seed time: no binary in the repository.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from loyalty.models import Merchant
from loyalty.services import branding, merchants

# A dark blue top bar (white text on it) and yellow buttons (#111111 text on them): both
# pass WCAG AA, which apply_branding checks again on every seed.
BRANDING = {"display_name": "Acme Electronics", "primary_color": "#0b3d91",
            "accent_color": "#ffd33d"}


def logo_png(side: int = 128) -> bytes:
    """A small PNG: a yellow lightning bolt on the demo's blue (an electronics shop)."""
    image = Image.new("RGB", (side, side), BRANDING["primary_color"])
    bolt = [(0.58, 0.08), (0.25, 0.55), (0.47, 0.55), (0.38, 0.92), (0.75, 0.42),
            (0.53, 0.42), (0.62, 0.08)]
    ImageDraw.Draw(image).polygon([(x * side, y * side) for x, y in bolt],
                                  fill=BRANDING["accent_color"])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def apply() -> Merchant:
    """Give the current (demo) merchant its name, colours and logo; each seed puts them
    back as they were, as it does with the template's programs."""
    merchants.update_current_merchant({"branding": dict(BRANDING)})
    return branding.set_logo(logo_png())
