"""The Branding page's forms: the look, the logo, a sender ID, an own SMS account.

As everywhere in the web UI, the rules are the API's (schemas/branding.py and
services/branding.py, sender_ids.py, sms_accounts.py); these are fields and words only.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Optional

from loyalty.web.forms import Length, WebForm, options

# The UI's own colours (app.css: --green-dark for the top bar, --green for main buttons):
# what the pickers show while the merchant has chosen none.
STANDARD_COLORS = {"primary_color": "#116329", "accent_color": "#1a7f37"}


class BrandingForm(WebForm):
    display_name = StringField(
        _l("Name on your texts"), [Optional(), Length(max=60)],
        description=_l("Replaces {merchant} in your texts, e.g. \"Mama Njeri's Café\". "
                       "Empty: your business name."))
    primary_color = StringField(
        _l("Main colour"), [Optional()], render_kw={"type": "color"},
        description=_l("The top bar. Text on it must stay easy to read: very light or very "
                       "bright colours are refused."))
    accent_color = StringField(
        _l("Button colour"), [Optional()], render_kw={"type": "color"},
        description=_l("Main buttons, with the same rule."))
    # A colour picker always submits a colour (#000000 if untouched), so "none chosen" needs
    # a field of its own: ticked, no colour is stored and the UI's own colours apply.
    standard_colors = BooleanField(
        _l("Use the standard colours"),
        description=_l("Untick this to use the colours above."))


class LogoForm(WebForm):
    logo = FileField(_l("Logo"), [FileRequired(_l("Choose a picture."))], render_kw={
        "accept": "image/png,image/jpeg,image/webp"},
        description=_l("A PNG, JPEG or WebP picture up to 512 KB; shown at most 256 pixels wide."))


class SenderIdForm(WebForm):
    sender_id = StringField(
        _l("Sender name"), [InputRequired(), Length(max=11)], render_kw={"maxlength": 11},
        description=_l("Up to 11 letters, digits and spaces, e.g. ACME SHOP. Names that look "
                       "like M-PESA, Safaricom, a bank or the government are refused."))
    category = SelectField(_l("For"), choices=options([
        ("transactional", _l("Receipts (transactional)")),
        ("promotional", _l("Offers (promotional)"))]))


class SmsAccountForm(WebForm):
    username = StringField(_l("Africa's Talking username"), [InputRequired(), Length(max=100)],
                           render_kw={"autocomplete": "off"})
    api_key = PasswordField(_l("API key"), [InputRequired(), Length(min=8, max=200)],
                            render_kw={"autocomplete": "off"},
                            description=_l("Checked with Africa's Talking now, stored "
                                           "encrypted, never shown again."))
