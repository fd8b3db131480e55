"""The web UI's forms: fields, labels and hints only.

WTForms renders the fields and checks the CSRF token; the rules that matter (phone numbers,
shortcodes, program codes, amounts) are checked by the same marshmallow schemas and services
the API uses (see formtools.load), so a form and the API can never disagree. The channel
forms, with their Daraja portal hints, are in channel_forms.py.
"""

from __future__ import annotations

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
    """A WTForms translations object that only rewords (the UI is in English)."""

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


BUSINESS_TYPES = options((t.value, t.value.title()) for t in BusinessType)
STATUSES = options([("", "Any status")] + [(s.value, s.value.title()) for s in PaymentStatus])


class SignupForm(WebForm):
    business_name = StringField("Business name", [InputRequired(), Length(max=200)])
    owner_name = StringField("Your name", [InputRequired(), Length(max=200)])
    email = StringField("Email", [InputRequired(), Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "email"})
    phone = StringField("Phone", [InputRequired()], description="e.g. 0712 345 678",
                        render_kw={"type": "tel", "autocomplete": "tel"})
    business_type = SelectField("Type of business", choices=BUSINESS_TYPES)
    password = PasswordField("Password", [InputRequired(), Length(min=8, max=128)],
                             description="At least 8 characters.",
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat the password",
                            [InputRequired(), EqualTo("password", "The passwords differ.")],
                            render_kw={"autocomplete": "new-password"})


class LoginForm(WebForm):
    email = StringField("Email", [InputRequired()],
                        render_kw={"type": "email", "autocomplete": "username"})
    password = PasswordField("Password", [InputRequired()],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me logged in on this device")


class ActionForm(WebForm):
    """A button that changes something (log out, verify, activate…): only the CSRF token."""


class MappingRowForm(Form):
    Meta = _WordingMeta

    pattern = StringField("Account reference", [Optional()],
                          description="VIP* (prefix), GOLD001 (exact) or default")
    program = SelectField("Program", choices=[])


class MappingForm(WebForm):
    rows = FieldList(FormField(MappingRowForm))


class DryRunForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False  # a GET that changes nothing

    account = StringField("Account reference", [Optional()], description="e.g. VIP001")
    amount = StringField("Amount (KES)", [Optional()], render_kw={"inputmode": "decimal"})


class ProgramForm(WebForm):
    code = StringField("Code", description="Lower-case letters, digits, - or _, e.g. 'vip'. "
                       "Account rules refer to it; it cannot change later.")
    name = StringField("Name", [InputRequired(), Length(max=100)],
                       description="Appears in the SMS, e.g. 'VIP'.")
    # Read in a row: "[1] points for every KES [100]".
    points_per_unit = StringField("Points", default="1", render_kw={"inputmode": "numeric"})
    unit_amount = StringField("for every KES", default="100", render_kw={"inputmode": "decimal"})
    multiplier = StringField("Multiplier", default="1", render_kw={"inputmode": "decimal"},
                             description="2 doubles the points (VIP).")
    min_amount = StringField("Minimum payment (KES)", default="0",
                             render_kw={"inputmode": "decimal"})
    stamps_required = StringField("Stamps for a reward", [Optional()],
                                  description="Leave empty for a points-only program.",
                                  render_kw={"inputmode": "numeric"})
    stamp_reward = StringField("Reward", [Optional()], description="e.g. 'free delivery'")
    points_expiry_days = StringField("Points expire after (days)", [Optional()],
                                     render_kw={"inputmode": "numeric"})
    sms_template = TextAreaField("Text of the receipt", [Optional()],
                                 description="Leave empty for the default. Placeholders: "
                                 "{first_name} {points} {balance} {program_name} "
                                 "{stamps_left} {reward} {merchant}")
    sms_on_reversal = BooleanField(
        "Text the customer when a payment is reversed",
        description="A transactional notice of the points taken back, e.g. “Hi John, your "
                    "payment … was reversed: 100 VIP points were taken back.”")


class QuickProgramForm(WebForm):
    """A program created from the account-rules page: the essentials, the rest defaults
    (the full form on the Programs page edits the receipt text, stamps and expiry)."""

    code = StringField("Code", [InputRequired()], description="Short, e.g. vip.")
    name = StringField("Name", [InputRequired(), Length(max=100)], description="e.g. VIP")
    points_per_unit = StringField("Points", [InputRequired()], default="1",
                                  render_kw={"inputmode": "numeric"})
    unit_amount = StringField("For every KES", [InputRequired()], default="100",
                              render_kw={"inputmode": "decimal"})


class FindCustomerForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False

    phone = StringField("Phone", [Optional()], render_kw={"type": "tel"})


class CustomerForm(WebForm):
    phone = StringField("Phone", [InputRequired()], render_kw={"type": "tel"})
    first_name = StringField("First name", [Optional(), Length(max=100)])
    last_name = StringField("Last name", [Optional(), Length(max=100)])
    sms_opt_out = BooleanField("Do not text this customer",
                               description="Tick when the customer asked for no SMS receipts.")
    marketing_consent = BooleanField(
        "The customer agreed to offers and reminders by SMS",
        description="Only with their express yes: paying by M-Pesa is not consent.")


class CustomerEditForm(CustomerForm):
    """The enrol form's fields; on a known customer, opting out also cancels queued texts."""

    sms_opt_out = BooleanField("Do not text this customer",
                               description="Cancels texts still waiting to be sent.")


class EraseForm(WebForm):
    confirm = StringField("Type ERASE to confirm", [InputRequired()])


class AdjustForm(WebForm):
    program = SelectField("Program", choices=[])
    points = StringField("Points", [InputRequired()], render_kw={"inputmode": "numeric"},
                         description="Positive adds points, negative takes them away (-50).")
    reason = StringField("Why", [InputRequired(), Length(max=200)],
                         description="Shown in the customer's ledger, e.g. 'Birthday bonus'.")
    # One key per rendered form: a double-click or a resent form adjusts once.
    idempotency_key = HiddenField()


class ReversalAmountForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False  # a GET that changes nothing: it shows what a reversal would take back

    amount = StringField("Amount to reverse (KES)", [Optional()],
                         render_kw={"inputmode": "decimal"},
                         description="The whole payment unless you change it.")


class ReversalForm(WebForm):
    """Reverse with M-Pesa, or mark as reversed (two on one page: each has a prefix)."""

    amount = HiddenField()
    reason = StringField("Why", [InputRequired(), Length(min=2, max=100)],
                         description="e.g. 'Paid twice' (2 to 100 characters).")
    idempotency_key = HiddenField()


class RedeemForm(WebForm):
    program = SelectField("Program", choices=[])
    points = StringField("Points", [InputRequired()], render_kw={"inputmode": "numeric"})
    description = StringField("What for", [Optional(), Length(max=200)])
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
    channel = SelectField("Channel", choices=[], default="")
    status = SelectField("Status", choices=STATUSES, default="")
    # The same query names as the API's `from` and `to` (reserved words in Python).
    since = DateField("From", [Optional()], name="from")
    until = DateField("To", [Optional()], name="to")


class CallbackLogFilterForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False

    channel = SelectField("Channel", choices=[], default="")
    kind = SelectField("What it was", choices=[], default="")


class AttachForm(WebForm):
    phone = StringField("Payer's phone", [InputRequired()], render_kw={"type": "tel"})


class AnalyticsForm(WebForm):
    class Meta(WebForm.Meta):
        csrf = False

    # The same query names as the API's `from` and `to` (reserved words in Python).
    since = DateField("From", [Optional()], name="from")
    until = DateField("To", [Optional()], name="to")


class ApiKeyForm(WebForm):
    name = StringField("Name", [InputRequired(), Length(max=100)],
                       description="Where the key is used, e.g. 'Till app'.")


EVENT_LABELS = {
    "payment.received": "Payment received: Safaricom's confirmation, as Safaricom sent it",
    "payment.credited": "Payment credited: the points or stamp it earned",
    "payment.reversed": "Payment reversed: the points taken back",
    "channel.status_changed": "Channel status changed (activated, paused…)",
    "sms.delivery_failed": "A text to a customer failed",
}


class WebhookForm(WebForm):
    url = StringField("URL", [InputRequired(), Length(max=2048)], render_kw={"type": "url"},
                      description="Your system's address; https:// on a public host.")
    events = SelectMultipleField("Events", choices=options(EVENT_LABELS.items()),
                                 widget=ListWidget(prefix_label=False),
                                 option_widget=CheckboxInput())
    channel_id = SelectField("Channel", description="Only this channel's payments, or all.")
    description = StringField("Description", [Optional(), Length(max=200)])


class RelayForm(WebForm):
    """The channel setup's offer: relay payments to the merchant's own URL instead."""

    url = HiddenField()


class SettingsForm(WebForm):
    business_name = StringField("Business name", [InputRequired(), Length(max=200)],
                                description="Your customers see it in their texts.")
    owner_name = StringField("Your name", [InputRequired(), Length(max=200)])
    phone = StringField("Phone", [InputRequired()], description="e.g. 0712 345 678",
                        render_kw={"type": "tel", "autocomplete": "tel"})
    sms_test_numbers = TextAreaField(
        "SMS test numbers", [Optional()],
        description="Up to 5 phones, one per line. A sandbox channel's payments are texted "
                    "only to your own phone and these.",
        render_kw={"rows": 5})


NEW_PASSWORD_HINT = "At least 8 characters."


def _new_password() -> tuple[PasswordField, PasswordField]:
    return (PasswordField("New password", [InputRequired(), Length(min=8, max=128)],
                          description=NEW_PASSWORD_HINT,
                          render_kw={"autocomplete": "new-password"}),
            PasswordField("Repeat the new password",
                          [InputRequired(), EqualTo("new_password", "The passwords differ.")],
                          render_kw={"autocomplete": "new-password"}))


class PasswordChangeForm(WebForm):
    current_password = PasswordField("Current password", [InputRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password, confirm = _new_password()


class ForgotPasswordForm(WebForm):
    email = StringField("Email", [InputRequired(), Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "username"})


class ResetPasswordForm(WebForm):
    email = StringField("Email", [InputRequired(), Length(max=254)],
                        render_kw={"type": "email", "autocomplete": "username"})
    code = StringField("Code", [InputRequired()], description="The six digits we texted you.",
                       render_kw={"inputmode": "numeric", "autocomplete": "one-time-code"})
    new_password, confirm = _new_password()
