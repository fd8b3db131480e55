"""A merchant's public brand files: its logo and its colours as a stylesheet.

Public (no sign-in): the URL's opaque public id names the merchant. A blueprint of its own,
apart from the pages, because these are files: cacheable (the pages are `no-store`), with
their exact Content-Type and `nosniff`, so a browser never reads a logo as anything but a
PNG nor the stylesheet as anything but CSS.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from loyalty.services import branding

bp = Blueprint("brand", __name__, url_prefix="/brand")

# The URLs the pages use carry a version (?v=), so a changed logo or colour is a new URL;
# an hour is for the unversioned ones.
CACHE = "public, max-age=3600"


def _file(body: bytes | str, mimetype: str, version: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.set_etag(version)
    response.headers["Cache-Control"] = CACHE
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Nothing in these files may run or load anything.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cross-Origin-Resource-Policy"] = "same-site"
    return response.make_conditional(request)


@bp.get("/<public_id>/logo.png")
def logo(public_id: str):
    png, version = branding.logo_png(public_id)
    return _file(png, "image/png", version)


@bp.get("/<public_id>/theme.css")
def theme(public_id: str):
    css, version = branding.theme_css(public_id)
    return _file(css, "text/css", version)


@bp.app_template_global("brand_theme_url")
def brand_theme_url(merchant) -> str:
    """The signed-in merchant's colour stylesheet, for the layout's <head>."""
    return branding.theme_url(merchant)
