"""The web UI's forms: fields, labels and hints only.

WTForms renders the fields and checks the CSRF token; the rules that matter (phone numbers,
shortcodes, program codes, amounts) are checked by the same marshmallow schemas and services
the API uses (see formtools.load), so a form and the API can never disagree. The channel
forms, with their Daraja portal hints, are in channel_forms.py.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    validators,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import EqualTo, InputRequired, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from loyalty.models import BusinessType, PaymentStatus
from loyalty.schemas.base import (
    NOT_A_CHOICE,
    NOT_A_DATE,
    REQUIRED,
    too_long,
    too_short,
)

# WTForms' own messages in the words the API's schemas use (schemas/base.py), so one
# mistake reads the same whichever of the two found it.
WTFORMS_WORDING = {
    "This field is required.": REQUIRED,
    "Not a valid choice.": NOT_A_CHOICE,
    "Invalid Choice: could not coerce.": NOT_A_CHOICE,
    "Not a valid date value.": NOT_A_DATE,
}


class _Wording:
    """A WTForms translations object that only rewords: the pages translate every error
    where they show it (web/i18n.py, the `say` filter), WTForms' and the schemas' alike."""

    def gettext(self, message: str) -> str:
        return WTFORMS_WORDING.get(message, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.gettext(singular if n == 1 else plural)


class _WordingMeta:
    def get_translations(self, form):
        return _Wording()


class WebForm(FlaskForm):
    """Every form of the web UI (CSRF from Flask-WTF, wording from WTFORMS_WORDING)."""

    class Meta(_WordingMeta):
        pass


class Length(validators.Length):
    """WTForms' Length, saying which way the text is off, in the schemas' words."""

    def __call__(self, form, field):
        length = len(field.data or "")
        if self.min != -1 and length < self.min:
            raise ValidationError(REQUIRED if not length else too_short(self.min))
        if self.max != -1 and length > self.max:
            raise ValidationError(too_long(self.max))


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as select options."""
    return [SelectChoice(str(value), label) for value, label in pairs]


# Each label spelled out (not `value.title()`) so it can be translated.
BUSINESS_TYPE_LABELS = {
    BusinessType.RETAIL: _l("Retail"), BusinessType.RESTAURANT: _l("Restaurant"),
    BusinessType.SERVICES: _l("Services"), BusinessType.HOSPITALITY: _l("Hospitality"),
    BusinessType.OTHER: _l("Other"),
}
STATUS_LABELS = {
    PaymentStatus.RECEIVED: _l("Received"), PaymentStatus.CREDITED: _l("Credited"),
    PaymentStatus.UNATTRIBUTED: _l("Unattributed"), PaymentStatus.SKIPPED: _l("Skipped"),
    PaymentStatus.FAILED: _l("Failed"), PaymentStatus.REVERSED: _l("Reversed"),
}
BUSINESS_TYPES = options((t.value, BUSINESS_TYPE_LABELS.get(t, t.value.title()))
                         for t in BusinessType)
STATUSES = options([("", _l("Any status"))] + [(s.value, STATUS_LABELS.get(s, s.value.title()))
                                               for s in PaymentStatus])


class SignupForm(WebForm):
    business_name = StringField(_l("Business name"), [InputRequired(), Length(max=200)])
    owner_name = StringField(_l("Your name"), [InputRequired(), Length(max=200)])
    email = StringField(_l("Email"), [InputRequired(), Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "email"})
    phone = StringField(_l("Phone"), [InputRequired()], description=_l("e.g. 0712 345 678"),
                        render_kw={"type": "tel", "autocomplete": "tel"})
    business_type = SelectField(_l("Type of business"), choices=BUSINESS_TYPES)
    password = PasswordField(_l("Password"), [InputRequired(), Length(min=8, max=128)],
                             description=_l("At least 8 characters."),
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the password"),
                            [InputRequired(), EqualTo("password", _l("The passwords differ."))],
                            render_kw={"autocomplete": "new-password"})


class LoginForm(WebForm):
    email = StringField(_l("Email"), [InputRequired()],
                        render_kw={"type": "email", "autocomplete": "username"})
    password = PasswordField(_l("Password"), [InputRequired()],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me logged in on this device"))


class ActionForm(WebForm):
    """A button that changes something (log out, verify, activate…): only the CSRF token."""


class MappingRowForm(Form):
    Meta = _WordingMeta

    pattern = StringField(_l("Account reference"), [Optional()],
                          description=_l("VIP* (prefix), GOLD001 (exact) or default"))
    program = SelectField(_l("Program"), choices=[])


class MappingForm(WebForm):
    rows = FieldList(FormField(MappingRowForm))


class DryRunForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False  # a GET that changes nothing

    account = StringField(_l("Account reference"), [Optional()], description=_l("e.g. VIP001"))
    amount = StringField(_l("Amount (KES)"), [Optional()], render_kw={"inputmode": "decimal"})


class ProgramForm(WebForm):
    code = StringField(_l("Code"), description=_l("Lower-case letters, digits, - or _, e.g. 'vip'. "
                       "Account rules refer to it; it cannot change later."))
    name = StringField(_l("Name"), [InputRequired(), Length(max=100)],
                       description=_l("Appears in the SMS, e.g. 'VIP'."))
    # Read in a row: "[1] points for every KES [100]".
    points_per_unit = StringField(_l("Points"), default="1", render_kw={"inputmode": "numeric"})
    unit_amount = StringField(_l("for every KES"), default="100", render_kw={"inputmode": "decimal"})
    multiplier = StringField(_l("Multiplier"), default="1", render_kw={"inputmode": "decimal"},
                             description=_l("2 doubles the points (VIP)."))
    min_amount = StringField(_l("Minimum payment (KES)"), default="0",
                             render_kw={"inputmode": "decimal"})
    stamps_required = StringField(_l("Stamps for a reward"), [Optional()],
                                  description=_l("Leave empty for a points-only program."),
                                  render_kw={"inputmode": "numeric"})
    stamp_reward = StringField(_l("Reward"), [Optional()], description=_l("e.g. 'free delivery'"))
    points_expiry_days = StringField(_l("Points expire after (days)"), [Optional()],
                                     render_kw={"inputmode": "numeric"})
    sms_template = TextAreaField(_l("Text of the receipt"), [Optional()],
                                 description=_l("Leave empty for the default. Placeholders: "
                                 "{first_name} {points} {balance} {program_name} "
                                 "{stamps_left} {reward} {merchant}"))
    sms_on_reversal = BooleanField(
        _l("Text the customer when a payment is reversed"),
        description=_l("A transactional notice of the points taken back, e.g. “Hi John, your "
                    "payment … was reversed: 100 VIP points were taken back.”"))


class QuickProgramForm(WebForm):
    """A program created from the account-rules page: the essentials, the rest defaults
    (the full form on the Programs page edits the receipt text, stamps and expiry)."""

    code = StringField(_l("Code"), [InputRequired()], description=_l("Short, e.g. vip."))
    name = StringField(_l("Name"), [InputRequired(), Length(max=100)], description=_l("e.g. VIP"))
    points_per_unit = StringField(_l("Points"), [InputRequired()], default="1",
                                  render_kw={"inputmode": "numeric"})
    unit_amount = StringField(_l("For every KES"), [InputRequired()], default="100",
                              render_kw={"inputmode": "decimal"})


class FindCustomerForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False

    phone = StringField(_l("Phone"), [Optional()], render_kw={"type": "tel"})


# The languages' own names, as the footer's language switch shows them (web/i18n.py).
TEXT_LANGUAGES = (("en", "English"), ("sw", "Kiswahili"))


class CustomerForm(WebForm):
    phone = StringField(_l("Phone"), [InputRequired()], render_kw={"type": "tel"})
    first_name = StringField(_l("First name"), [Optional(), Length(max=100)])
    last_name = StringField(_l("Last name"), [Optional(), Length(max=100)])
    sms_opt_out = BooleanField(_l("Do not text this customer"),
                               description=_l("Tick when the customer asked for no SMS receipts."))
    marketing_consent = BooleanField(
        _l("The customer agreed to offers and reminders by SMS"),
        description=_l("Only with their express yes: paying by M-Pesa is not consent."))
    language = SelectField(_l("Language of their texts"),
                           choices=options([("", _l("Your default (Settings)")),
                                            *TEXT_LANGUAGES]),
                           default="")


class CustomerEditForm(CustomerForm):
    """The enrol form's fields; on a known customer, opting out also cancels queued texts."""

    sms_opt_out = BooleanField(_l("Do not text this customer"),
                               description=_l("Cancels texts still waiting to be sent."))


class EraseForm(WebForm):
    confirm = StringField(_l("Type ERASE to confirm"), [InputRequired()])


class AdjustForm(WebForm):
    program = SelectField(_l("Program"), choices=[])
    points = StringField(_l("Points"), [InputRequired()], render_kw={"inputmode": "numeric"},
                         description=_l("Positive adds points, negative takes them away (-50)."))
    reason = StringField(_l("Why"), [InputRequired(), Length(max=200)],
                         description=_l("Shown in the customer's ledger, e.g. 'Birthday bonus'."))
    # One key per rendered form: a double-click or a resent form adjusts once.
    idempotency_key = HiddenField()


class ReversalAmountForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False  # a GET that changes nothing: it shows what a reversal would take back

    amount = StringField(_l("Amount to reverse (KES)"), [Optional()],
                         render_kw={"inputmode": "decimal"},
                         description=_l("The whole payment unless you change it."))


class ReversalForm(WebForm):
    """Reverse with M-Pesa, or mark as reversed (two on one page: each has a prefix)."""

    amount = HiddenField()
    reason = StringField(_l("Why"), [InputRequired(), Length(min=2, max=100)],
                         description=_l("e.g. 'Paid twice' (2 to 100 characters)."))
    idempotency_key = HiddenField()


class RedeemForm(WebForm):
    program = SelectField(_l("Program"), choices=[])
    points = StringField(_l("Points"), [InputRequired()], render_kw={"inputmode": "numeric"})
    description = StringField(_l("What for"), [Optional(), Length(max=200)])
    # One key per rendered form: a double-click or a resent form redeems once.
    idempotency_key = HiddenField()


class RewardForm(WebForm):
    """The button that hands over one waiting stamp-card reward (one per program)."""

    # One key per rendered form, as RedeemForm's: a double-click hands over one reward.
    idempotency_key = HiddenField()


class TransactionFilterForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False

    # default "": a plain visit (no query string) is "all", not a choice to refuse.
    channel = SelectField(_l("Channel"), choices=[], default="")
    status = SelectField(_l("Status"), choices=STATUSES, default="")
    # The same query names as the API's `from` and `to` (reserved words in Python).
    since = DateField(_l("From"), [Optional()], name="from")
    until = DateField(_l("To"), [Optional()], name="to")


class CallbackLogFilterForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False

    channel = SelectField(_l("Channel"), choices=[], default="")
    kind = SelectField(_l("What it was"), choices=[], default="")


class AttachForm(WebForm):
    phone = StringField(_l("Payer's phone"), [InputRequired()], render_kw={"type": "tel"})


class AnalyticsForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False

    # The same query names as the API's `from` and `to` (reserved words in Python).
    since = DateField(_l("From"), [Optional()], name="from")
    until = DateField(_l("To"), [Optional()], name="to")


class ApiKeyForm(WebForm):
    name = StringField(_l("Name"), [InputRequired(), Length(max=100)],
                       description=_l("Where the key is used, e.g. 'Till app'."))


EVENT_LABELS = {
    "payment.received": _l("Payment received: Safaricom's confirmation, as Safaricom sent it"),
    "payment.credited": _l("Payment credited: the points or stamp it earned"),
    "payment.reversed": _l("Payment reversed: the points taken back"),
    "channel.status_changed": _l("Channel status changed (activated, paused…)"),
    "sms.delivery_failed": _l("A text to a customer failed"),
}


class WebhookForm(WebForm):
    url = StringField(_l("URL"), [InputRequired(), Length(max=2048)], render_kw={"type": "url"},
                      description=_l("Your system's address; https:// on a public host."))
    events = SelectMultipleField(_l("Events"), choices=options(EVENT_LABELS.items()),
                                 widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput())
    channel_id = SelectField(_l("Channel"), description=_l("Only this channel's payments, or all."))
    description = StringField(_l("Description"), [Optional(), Length(max=200)])


class RelayForm(WebForm):
    """The channel setup's offer: relay payments to the merchant's own URL instead."""

    url = HiddenField()


class SettingsForm(WebForm):
    business_name = StringField(_l("Business name"), [InputRequired(), Length(max=200)],
                                description=_l("Your customers see it in their texts."))
    owner_name = StringField(_l("Your name"), [InputRequired(), Length(max=200)])
    phone = StringField(_l("Phone"), [InputRequired()], description=_l("e.g. 0712 345 678"),
                        render_kw={"type": "tel", "autocomplete": "tel"})
    sms_test_numbers = TextAreaField(
        _l("SMS test numbers"), [Optional()],
        description=_l("Up to 5 phones, one per line. A sandbox channel's payments are texted "
                    "only to your own phone and these."),
        render_kw={"rows": 5})
    sms_language = SelectField(
        _l("Language of texts"), choices=options(TEXT_LANGUAGES),
        description=_l("For customers who have not chosen a language of their own."))
    sms_keyword = StringField(
        _l("STOP keyword"), [Optional(), Length(max=20)],
        description=_l("Customers who text STOP and this word (e.g. STOP MBOGA) stop only your "
                       "texts. Leave it empty for none."))


NEW_PASSWORD_HINT = _l("At least 8 characters.")


def _new_password() -> tuple[PasswordField, PasswordField]:
    return (PasswordField(_l("New password"), [InputRequired(), Length(min=8, max=128)],
                          description=NEW_PASSWORD_HINT,
                          render_kw={"autocomplete": "new-password"}),
            PasswordField(_l("Repeat the new password"),
                          [InputRequired(), EqualTo("new_password", _l("The passwords differ."))],
                          render_kw={"autocomplete": "new-password"}))


class PasswordChangeForm(WebForm):
    current_password = PasswordField(_l("Current password"), [InputRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password, confirm = _new_password()


class ForgotPasswordForm(WebForm):
    email = StringField(_l("Email"), [InputRequired(), Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "username"})


class ResetPasswordForm(WebForm):
    email = StringField(_l("Email"), [InputRequired(), Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "username"})
    code = StringField(_l("Code"), [InputRequired()], description=_l("The six digits we texted you."),
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})
    new_password, confirm = _new_password()
