"""The `web` blueprint and what every page request goes through.

Signed-out visitors reach only the public endpoints; everyone else is sent to log in. For a
signed-in merchant the tenant is set for the whole request, exactly as an API key sets it
for the API, so every service call is scoped to that merchant and another merchant's ids
are simply not found (404).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import Blueprint, g, request
from flask_babel import gettext as _
from flask_login import current_user

from loyalty.extensions import login_manager
from loyalty.phones import display_phone
from loyalty.services.payments import EAT
from loyalty.tenancy import reset_current_merchant, set_current_merchant
from loyalty.web.i18n import local_months

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

PUBLIC_ENDPOINTS = {"web.login", "web.signup", "web.static", "web.index",
                    "web.forgot_password", "web.reset_password", "web.language"}

# Pages load only our own stylesheet and script: no CDN, no inline code to inject into.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; "
                           "script-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                           "base-uri 'none'")


@bp.before_request
def _require_login_and_scope_tenant():
    if not current_user.is_authenticated:
        if request.endpoint in PUBLIC_ENDPOINTS:
            return None
        return login_manager.unauthorized()
    g.web_tenant_token = set_current_merchant(current_user.id)
    return None


@bp.teardown_request
def _forget_tenant(exc):
    token = g.pop("web_tenant_token", None)
    if token is not None:
        reset_current_merchant(token)


@bp.after_request
def _security_headers(response):
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "web.static":
        # Pages show balances and one-time API keys: never keep them in a shared cache.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.app_template_filter("kes")
def kes(value) -> str:
    """KES 5,000 or KES 1,234.50: whole shillings without decimals."""
    if value is None:
        return "–"
    amount = Decimal(value)
    if amount == amount.to_integral_value():
        return f"KES {int(amount):,}"
    return f"KES {amount:,.2f}"


@bp.app_template_filter("phone")
def phone(value: str | None) -> str:
    """254712345678 -> 0712 345 678, the way a Kenyan reads and types a number."""
    return display_phone(value) or "–"


@bp.app_template_filter("num")
def num(value) -> str:
    return "–" if value is None else f"{int(value):,}"


@bp.app_template_filter("eat")
def eat(value: datetime | None, fmt: str = "%d %b %Y, %H:%M") -> str:
    """A stored UTC time as Nairobi wall-clock time (DESIGN.md: convert only for display)."""
    return local_months(value.astimezone(EAT).strftime(fmt)) if value else "–"


@bp.app_template_filter("ago")
def ago(value) -> str:
    """A duration as '3 days' or '5 hours'."""
    if value is None:
        return "–"
    hours = int(value.total_seconds() // 3600)
    if hours >= 48:
        return f"{hours // 24} days"
    if hours >= 1:
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{max(int(value.total_seconds() // 60), 1)} minutes"


CHANNEL_KINDS = {"paybill": "PayBill", "till": "Till", "buygoods": "Buy Goods"}


@bp.app_template_filter("kind")
def kind(channel) -> str:
    """'PayBill 174379', 'Till 123456' as merchants write them."""
    return f"{CHANNEL_KINDS.get(channel.channel_type.value, channel.channel_type.value)} " \
           f"{channel.shortcode}"


@bp.app_template_filter("dec")
def dec(value) -> str:
    """A Decimal without trailing zeros or exponent: 2.00 -> 2, 2.50 -> 2.5, 10 -> 10."""
    return "–" if value is None else f"{Decimal(value).normalize():f}"


@bp.app_template_filter("earning")
def earning(program) -> str:
    """A program's rule as one sentence: '1 point for every KES 100', '2 points for every
    KES 100 (double points), on payments of KES 50 or more'."""
    return earning_rule(program.points_per_unit, program.unit_amount, program.multiplier,
                        program.min_amount)


def earning_rule(points_per_unit, unit_amount, multiplier, min_amount=None) -> str:
    points = Decimal(points_per_unit or 0) * Decimal(multiplier if multiplier is not None else 1)
    if points <= 0:
        return _("No points (stamps only)") if points_per_unit == 0 else _("No points")
    # In the page's language (web/i18n.py); "points" is singular only for exactly 1.
    sentence = (_("%(points)s point for every %(amount)s", points=dec(points),
                  amount=kes(unit_amount)) if points == 1 else
                _("%(points)s points for every %(amount)s", points=dec(points),
                  amount=kes(unit_amount)))
    factor = Decimal(multiplier if multiplier is not None else 1)
    if factor == 2:
        sentence += " " + _("(double points)")
    elif factor != 1:
        sentence += f" ({dec(points_per_unit)} × {dec(factor)})"
    if min_amount:
        sentence += ", " + _("on payments of %(amount)s or more", amount=kes(min_amount))
    return sentence
