"""The channel forms: the add-channel wizard's fields, their hints in the Daraja portal's own
words, and the shapes checked before saving (whether Safaricom accepts the values is the
Verify step's job)."""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField, validators
from wtforms.validators import InputRequired, Optional, ValidationError

from loyalty.models import ChannelType, Environment, ValidationPolicy
from loyalty.web.forms import Length, WebForm, options

CHANNEL_TYPES = options([(ChannelType.PAYBILL.value, "PayBill"),
                         (ChannelType.TILL.value, _l("Till number")),
                         (ChannelType.BUYGOODS.value, _l("Buy Goods"))])
ENVIRONMENTS = options([(Environment.SANDBOX.value, _l("Sandbox (testing)")),
                        (Environment.PRODUCTION.value, _l("Production (real money)"))])
POLICIES = options([(ValidationPolicy.ACCEPT_ALL.value, _l("Accept every payment (recommended)")),
                    (ValidationPolicy.REJECT_UNKNOWN.value,
                     _l("Refuse payments whose account matches no rule"))])


# Safaricom's own sandbox test values (DARAJA.md, "Sandbox test data"): public, shared by
# every developer, so they may be filled in for anyone who asks.
SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _shape(pattern: str, message: str) -> validators.Regexp:
    return validators.Regexp(pattern, message=message)


# Shapes only, checked before saving: a copy that caught a space, a line break or half the
# value is the usual mistake; whether Safaricom accepts the values is the Verify step's job.
KEY_SHAPE = _shape(r"^[A-Za-z0-9_-]{10,100}$",
                   _l("Copy it again from your app's Keys: 10 to 100 letters and digits, "
                   "no spaces."))
PASSKEY_SHAPE = _shape(r"^[A-Za-z0-9]{32,128}$",
                       _l("Copy it again: a passkey is a long run of letters and digits "
                       "(the sandbox one has 64), no spaces."))


class ChannelForm(WebForm):
    name = StringField(_l("Channel name"), [InputRequired(), Length(max=100)],
                       description=_l("For you, e.g. 'Main PayBill' or 'Westlands till'."))
    shortcode = StringField(_l("Shortcode"), [InputRequired()],
                            description=_l("The PayBill or Till number customers pay to."),
                            render_kw={"inputmode": "numeric"})
    channel_type = SelectField(_l("Type"), choices=CHANNEL_TYPES)
    environment = SelectField(_l("Environment"), choices=ENVIRONMENTS)
    store_number = StringField(_l("Store (head office) number"), [Optional()],
                               description=_l("Till and Buy Goods only: the Store number (or Head "
                                           "Office number) your Till was taken live with; "
                                           "M-Pesa Express uses it as BusinessShortCode."),
                               render_kw={"inputmode": "numeric"})
    # Not a secret (Safaricom shows it beside the app's name): a text input, kept after an
    # error, so the merchant can compare it with the portal.
    consumer_key = StringField(_l("Consumer key"), [Optional(), KEY_SHAPE], filters=[_strip],
                               description=_l("Daraja portal → My Apps → your app → Keys."),
                               render_kw={"autocomplete": "off", "spellcheck": "false"})
    consumer_secret = PasswordField(_l("Consumer secret"), [Optional(), KEY_SHAPE], filters=[_strip],
                                    description=_l("Beside the consumer key. Stored encrypted; never shown again."),
                                    render_kw={"autocomplete": "off"})
    passkey = PasswordField(_l("M-Pesa Express passkey"), [Optional(), PASSKEY_SHAPE],
                            filters=[_strip],
                            description=_l("Optional: only for prompting customers to pay (STK "
                                           "push). Stored encrypted; never shown again."),
                            render_kw={"autocomplete": "off"})

    auto_activate = BooleanField(
        _l("Activate by itself"), default=True,
        description=_l("As soon as Safaricom confirms your details and the payment URLs are "
                       "registered, the channel starts earning points. If you pause it, it "
                       "stays paused until you activate it again."))
    notify_by_sms = BooleanField(
        _l("Text me about it"), default=False,
        description=_l("An SMS to your own phone when the channel activates itself or fails "
                       "its check with Safaricom (you see both here anyway)."))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # A Till's M-Pesa Express prompt is addressed to its Store number, not the Till.
        if (self.channel_type.data in (ChannelType.TILL.value, ChannelType.BUYGOODS.value)
                and (self.passkey.data or "").strip()
                and not (self.store_number.data or "").strip()):
            self.store_number.errors = list(self.store_number.errors) + [
                _l("Needed with a passkey for a Till: the Store (or Head Office) number your "
                   "Till was taken live with.")]
            valid = False
        return valid


class ChannelEditForm(ChannelForm):
    validation_policy = SelectField(_l("Payments with an unknown account"), choices=POLICIES)
    is_primary = BooleanField(_l("Primary channel"))
    initiator_name = StringField(_l("API operator (initiator) name"), [Optional(), Length(max=100)],
                                 description=_l("Optional: only to reverse payments and check the "
                                 "balance from here. On the M-PESA Org portal: Business "
                                 "Administrator → Operators → add an operator with access "
                                 "channel 'API' and the roles 'Org Reversals Initiator' and "
                                 "'Balance Query ORG API'."), render_kw={"autocomplete": "off"})
    initiator_password = PasswordField(_l("API operator password"), [Optional()],
                                       description=_l("Set by your Business Manager. Stored encrypted; "
                                                      "never shown again."),
                                       render_kw={"autocomplete": "off"})


class UrlsForm(WebForm):
    """Registering C2B URLs; blank means the platform's own URLs (the usual choice)."""

    validation_url = StringField(_l("Validation URL"), [Optional()], render_kw={"type": "url"})
    confirmation_url = StringField(_l("Confirmation URL"), [Optional()], render_kw={"type": "url"})


MAX_LOOK_BACK_HOURS = 48  # Pull Transactions keeps 48 hours (services/reconciliation/windows.py)


class PullRegisterForm(WebForm):
    nominated_number = StringField(
        _l("Nominated phone number"), [InputRequired()], render_kw={"type": "tel"},
        description=_l("The Safaricom phone on the business number's M-Pesa registration "
                    "(KYC) details, e.g. 0722 000 111; not the business number itself."))


class ReconcileForm(WebForm):
    hours = StringField(_l("Look back (hours)"), default="24", render_kw={"inputmode": "numeric"},
                        description=_l("From 1 to 48: Safaricom keeps its list of payments for "
                                    "48 hours."))

    def validate_hours(self, field) -> None:
        text = (field.data or "").strip()
        if not re.fullmatch(r"[0-9]{1,2}", text) or not 1 <= int(text) <= MAX_LOOK_BACK_HOURS:
            raise ValidationError(_l("Enter a whole number of hours from 1 to 48: Safaricom "
                                  "keeps its list of payments for 48 hours."))


class ChannelImportForm(WebForm):
    """A file of channels, as Download writes it (the API's export), to add all at once."""

    file = FileField(_l("Channels file"), [FileRequired(_l("Choose the file to upload."))],
                     description=_l("A .json file like the one Download gives you (up to 64 KB). "
                                    "Credentials are never in it: add them to each channel "
                                    "afterwards."), render_kw={"accept": ".json,application/json"})
