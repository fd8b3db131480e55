"""White-label branding (DESIGN.md section 13): a display name, two colours and a logo.

Colours are checked for contrast the way WCAG 2.x defines it, so whatever a merchant picks,
the text the UI puts on it (white or #111111, whichever reads better) stays legible: a
colour on which neither reaches AA's 4.5:1 is refused with the ratio it did reach. No custom
CSS: the colours become CSS custom properties in a stylesheet of their own
(`/brand/<public id>/theme.css`), so the strict CSP needs no inline style.

The logo is a stranger's file: its kind is read from its first bytes (never from its name
or Content-Type), it is decoded by Pillow under a pixel limit, and only the re-encoded PNG
(at most 256 px a side) is kept and served; the upload itself is never served back.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from typing import Any

import sqlalchemy as sa
from PIL import Image, ImageOps, UnidentifiedImageError

from loyalty.errors import DomainError, NotFound, ValidationFailed
from loyalty.extensions import db
from loyalty.models import Merchant
from loyalty.models.base import utcnow
from loyalty.tenancy import current_merchant_id
from loyalty.unit_of_work import transactional

MAX_LOGO_BYTES = 512 * 1024
LOGO_SIDE = 256
# A logo needs no more than a phone photo's pixels; past this Pillow would spend memory
# and time a small upload must not be able to buy (a "decompression bomb"). Pillow warns
# past MAX_IMAGE_PIXELS and refuses past twice that; both are refusals here.
MAX_LOGO_PIXELS = 4096 * 4096
Image.MAX_IMAGE_PIXELS = MAX_LOGO_PIXELS

AA_RATIO = 4.5
LIGHT_TEXT, DARK_TEXT = "#ffffff", "#111111"
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")

# What the first bytes say the file is; nothing else is believed (SVG, HTML, GIF, … are not
# on the list, so they are refused whatever they call themselves).
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
)


class PayloadTooLarge(DomainError):
    status, code, message = 413, "payload_too_large", "The file is too large."


class UnsupportedImage(DomainError):
    status, code, message = 415, "unsupported_media_type", "The file is not a PNG, JPEG or WebP image."


# --- colours (pure) ---------------------------------------------------------------------


def relative_luminance(color: str) -> float:
    """WCAG 2.x relative luminance of `#rrggbb`."""
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(color[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two colours, 1 to 21."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_on(color: str) -> tuple[str, float]:
    """The text colour that reads better on `color` (white or #111111) and its ratio."""
    light, dark = contrast_ratio(color, LIGHT_TEXT), contrast_ratio(color, DARK_TEXT)
    return (LIGHT_TEXT, light) if light >= dark else (DARK_TEXT, dark)


def contrast_problem(color: str) -> str | None:
    """Why `color` cannot carry text, or None when white or #111111 on it reaches AA."""
    _text, ratio = text_on(color)
    if ratio >= AA_RATIO:
        return None
    shown = int(ratio * 100) / 100  # rounded down: 4.499 must not read as 4.5
    return (f"Too little contrast: the best text colour on {color.lower()} reaches "
            f"{shown:.2f}:1, and WCAG AA needs {AA_RATIO}:1. Choose a darker or lighter colour.")


# --- branding ---------------------------------------------------------------------------


def _current() -> Merchant:
    merchant = db.session.get(Merchant, current_merchant_id())
    if merchant is None:
        raise NotFound("Merchant not found.")
    return merchant


def theme_url(merchant: Merchant) -> str:
    """The merchant's stylesheet, versioned by its colours (so it may be cached)."""
    return f"/brand/{merchant.public_id}/theme.css?v={theme_version(merchant)}"


def apply_branding(merchant: Merchant, changes: dict[str, Any]) -> None:
    """Set the fields of `changes` (display_name, primary_color, accent_color; None clears)
    on `merchant` (the caller's unit of work commits).

    Raises ValidationFailed naming `branding.<colour>` and its contrast ratio when no text
    colour reaches WCAG AA on it."""
    problems = {}
    for name in ("primary_color", "accent_color"):
        value = changes.get(name)
        if value is not None:
            problem = contrast_problem(value) if COLOR.match(value) else "Must be #rrggbb."
            if problem:
                problems[name] = [problem]
    if problems:
        raise ValidationFailed(" ".join(f"branding.{k}: {v[0]}" for k, v in problems.items()),
                               fields={"branding": problems})
    for name, value in changes.items():
        if name in ("primary_color", "accent_color") and value:
            value = value.lower()
        setattr(merchant, f"brand_{name}", value)


def theme_version(merchant: Merchant) -> str:
    """A short digest of the colours: the stylesheet's URL changes when they do."""
    text = f"{merchant.brand_primary_color}|{merchant.brand_accent_color}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def theme_css(public_id: str) -> tuple[str, str]:
    """The stylesheet of a merchant's colours as custom properties, and its version; empty
    (the UI's own colours apply) when none are set. NotFound for an unknown id."""
    merchant = _by_public_id(public_id)
    lines = []
    for name, color in (("primary", merchant.brand_primary_color),
                        ("accent", merchant.brand_accent_color)):
        if color and COLOR.match(color):  # only ever a checked #rrggbb reaches the CSS
            lines.append(f"  --brand-{name}: {color};")
            lines.append(f"  --brand-on-{name}: {text_on(color)[0]};")
    css = ":root {\n" + "\n".join(lines) + "\n}\n" if lines else "/* no brand colours */\n"
    return css, theme_version(merchant)


# --- the logo ---------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """PNG, JPEG or WEBP by the file's first bytes, else None."""
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def reencode_logo(data: bytes) -> bytes:
    """The upload as a PNG at most LOGO_SIDE px a side.

    Raises PayloadTooLarge past MAX_LOGO_BYTES, UnsupportedImage for anything that is not a
    PNG, JPEG or WebP by its first bytes, and ValidationFailed (field `logo`) for an image
    Pillow cannot decode or one with too many pixels."""
    if len(data) > MAX_LOGO_BYTES:
        raise PayloadTooLarge(f"The logo is {len(data) // 1024} KiB; at most "
                              f"{MAX_LOGO_BYTES // 1024} KiB.")
    kind = sniff(data)
    if kind is None:
        raise UnsupportedImage("The logo must be a PNG, JPEG or WebP image (judged by the "
                               "file's content; SVG and other kinds are not accepted).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as image:
                width, height = image.size
                if width * height > MAX_LOGO_PIXELS:
                    raise _refused(f"The image is {width}×{height} pixels; at most "
                                   f"{MAX_LOGO_PIXELS:,} pixels.")
                image.seek(0)  # an animated image: its first frame
                image.load()
                picture = ImageOps.exif_transpose(image)
                picture = picture.convert("RGBA" if _has_alpha(picture) else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _refused(f"The image has too many pixels (at most {MAX_LOGO_PIXELS:,}).") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise _refused(f"The file starts like a {kind} image but could not be read as "
                       "one.") from None
    picture.thumbnail((LOGO_SIDE, LOGO_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _refused(reason: str) -> ValidationFailed:
    return ValidationFailed(f"logo: {reason}", fields={"logo": [reason]})


@transactional
def set_logo(data: bytes) -> Merchant:
    """Keep the re-encoded logo of the current merchant (see reencode_logo for errors)."""
    png = reencode_logo(data)
    merchant = _current()
    merchant.logo_png = png
    merchant.logo_updated_at = utcnow()
    return merchant


@transactional
def remove_logo() -> Merchant:
    merchant = _current()
    merchant.logo_png = None
    merchant.logo_updated_at = None
    return merchant


def logo_png(public_id: str) -> tuple[bytes, str]:
    """A merchant's logo PNG and its version (for ETag); NotFound when there is none."""
    merchant = _by_public_id(public_id)
    if merchant.logo_png is None or merchant.logo_updated_at is None:
        raise NotFound("This merchant has no logo.")
    return merchant.logo_png, str(int(merchant.logo_updated_at.timestamp() * 1000))


def _by_public_id(public_id: str) -> Merchant:
    if not re.fullmatch(r"[0-9a-f]{16}", public_id or ""):
        raise NotFound("Not found.")
    # Merchants are the tenants themselves (not tenant-scoped): a public URL reads one
    # by its public id with no merchant signed in.
    merchant = db.session.scalar(sa.select(Merchant).where(Merchant.public_id == public_id,
                                                           Merchant.is_active.is_(True)))
    if merchant is None:
        raise NotFound("Not found.")
    return merchant
