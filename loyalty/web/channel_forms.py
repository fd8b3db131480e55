"""The channel forms: the add-channel wizard's fields, their hints in the Daraja portal's own
words, and the shapes checked before saving (whether Safaricom accepts the values is the
Verify step's job)."""

from __future__ import annotations

import re

from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, PasswordField, SelectField, StringField, validators
from wtforms.validators import InputRequired, Optional, ValidationError

from loyalty.models import ChannelType, Environment, ValidationPolicy
from loyalty.web.forms import Length, WebForm, options

CHANNEL_TYPES = options([(ChannelType.PAYBILL.value, "PayBill"),
                         (ChannelType.TILL.value, "Till number"),
                         (ChannelType.BUYGOODS.value, "Buy Goods")])
ENVIRONMENTS = options([(Environment.SANDBOX.value, "Sandbox (testing)"),
                        (Environment.PRODUCTION.value, "Production (real money)")])
POLICIES = options([(ValidationPolicy.ACCEPT_ALL.value, "Accept every payment (recommended)"),
                    (ValidationPolicy.REJECT_UNKNOWN.value,
                     "Refuse payments whose account matches no rule")])


SECRET_HINT = "Stored encrypted; never shown again."
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
                   "Copy it again from your app's Keys: 10 to 100 letters and digits, "
                   "no spaces.")
PASSKEY_SHAPE = _shape(r"^[A-Za-z0-9]{32,128}$",
                       "Copy it again: a passkey is a long run of letters and digits "
                       "(the sandbox one has 64), no spaces.")


class ChannelForm(WebForm):
    name = StringField("Channel name", [InputRequired(), Length(max=100)],
                       description="For you, e.g. 'Main PayBill' or 'Westlands till'.")
    shortcode = StringField("Shortcode", [InputRequired()],
                            description="The PayBill or Till number customers pay to.",
                            render_kw={"inputmode": "numeric"})
    channel_type = SelectField("Type", choices=CHANNEL_TYPES)
    environment = SelectField("Environment", choices=ENVIRONMENTS)
    store_number = StringField("Store (head office) number", [Optional()],
                               description="Till and Buy Goods only: the Store number (or Head "
                                           "Office number) your Till was taken live with; "
                                           "M-Pesa Express uses it as BusinessShortCode.",
                               render_kw={"inputmode": "numeric"})
    # Not a secret (Safaricom shows it beside the app's name): a text input, kept after an
    # error, so the merchant can compare it with the portal.
    consumer_key = StringField("Consumer key", [Optional(), KEY_SHAPE], filters=[_strip],
                               description="Daraja portal → My Apps → your app → Keys.",
                               render_kw={"autocomplete": "off", "spellcheck": "false"})
    consumer_secret = PasswordField("Consumer secret", [Optional(), KEY_SHAPE], filters=[_strip],
                                    description="Beside the consumer key. " + SECRET_HINT,
                                    render_kw={"autocomplete": "off"})
    passkey = PasswordField("M-Pesa Express passkey", [Optional(), PASSKEY_SHAPE],
                            filters=[_strip],
                            description="Optional: only for prompting customers to pay (STK "
                                        "push). " + SECRET_HINT,
                            render_kw={"autocomplete": "off"})

    auto_activate = BooleanField(
        "Activate by itself", default=True,
        description="As soon as Safaricom confirms your details and the payment URLs are "
                    "registered, the channel starts earning points. If you pause it, it "
                    "stays paused until you activate it again.")
    notify_by_sms = BooleanField(
        "Text me about it", default=False,
        description="An SMS to your own phone when the channel activates itself or fails "
                    "its check with Safaricom (you see both here anyway).")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # A Till's M-Pesa Express prompt is addressed to its Store number, not the Till.
        if (self.channel_type.data in (ChannelType.TILL.value, ChannelType.BUYGOODS.value)
                and (self.passkey.data or "").strip()
                and not (self.store_number.data or "").strip()):
            self.store_number.errors = list(self.store_number.errors) + [
                "Needed with a passkey for a Till: the Store (or Head Office) number your "
                "Till was taken live with."]
            valid = False
        return valid


class ChannelEditForm(ChannelForm):
    validation_policy = SelectField("Payments with an unknown account", choices=POLICIES)
    is_primary = BooleanField("Primary channel")
    initiator_name = StringField("API operator (initiator) name", [Optional(), Length(max=100)],
                                 description="Optional: only to reverse payments and check the "
                                 "balance from here. On the M-PESA Org portal: Business "
                                 "Administrator → Operators → add an operator with access "
                                 "channel 'API' and the roles 'Org Reversals Initiator' and "
                                 "'Balance Query ORG API'.", render_kw={"autocomplete": "off"})
    initiator_password = PasswordField("API operator password", [Optional()],
                                       description="Set by your Business Manager. " + SECRET_HINT,
                                       render_kw={"autocomplete": "off"})


class UrlsForm(WebForm):
    """Registering C2B URLs; blank means the platform's own URLs (the usual choice)."""

    validation_url = StringField("Validation URL", [Optional()], render_kw={"type": "url"})
    confirmation_url = StringField("Confirmation URL", [Optional()], render_kw={"type": "url"})


MAX_LOOK_BACK_HOURS = 48  # Pull Transactions keeps 48 hours (services/reconciliation/windows.py)


class PullRegisterForm(WebForm):
    nominated_number = StringField(
        "Nominated phone number", [InputRequired()], render_kw={"type": "tel"},
        description="The Safaricom phone on the business number's M-Pesa registration "
                    "(KYC) details, e.g. 0722 000 111; not the business number itself.")


class ReconcileForm(WebForm):
    hours = StringField("Look back (hours)", default="24", render_kw={"inputmode": "numeric"},
                        description="From 1 to 48: Safaricom keeps its list of payments for "
                                    "48 hours.")

    def validate_hours(self, field) -> None:
        text = (field.data or "").strip()
        if not re.fullmatch(r"[0-9]{1,2}", text) or not 1 <= int(text) <= MAX_LOOK_BACK_HOURS:
            raise ValidationError("Enter a whole number of hours from 1 to 48: Safaricom "
                                  "keeps its list of payments for 48 hours.")


class ChannelImportForm(WebForm):
    """A file of channels, as Download writes it (the API's export), to add all at once."""

    file = FileField("Channels file", [FileRequired("Choose the file to upload.")],
                     description="A .json file like the one Download gives you (up to 64 KB). "
                                 "Credentials are never in it: add them to each channel "
                                 "afterwards.", render_kw={"accept": ".json,application/json"})
