"""The form for a new rule test (A/B experiment), in a shop owner's words.

Two versions only on the web: A is the program as it is, B the changed rule; the API
takes more. Percentages are typed as people say them (5 for five percentage points).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Optional

from loyalty.web.forms import Length, WebForm, options

METHODS = options([("fixed", _l("Read once, on a date fixed now (simplest)")),
                   ("sequential", _l("Check four times, stop early if the answer is clear"))])


class ExperimentForm(WebForm):
    name = StringField(_l("Name of the test"), [InputRequired(), Length(max=100)],
                       description=_l("e.g. '1.5× points for new customers'"))
    program = SelectField(_l("Program"), choices=[])
    channel = SelectField(_l("Channel"), choices=[], default="",
                          description=_l("Only payments to this channel take part, or all."))
    multiplier = StringField(_l("Multiplier for B"), [Optional()],
                             render_kw={"inputmode": "decimal"},
                             description=_l("1.5 gives half as many points again."))
    points_per_unit = StringField(_l("Points for B"), [Optional()],
                                  render_kw={"inputmode": "numeric"})
    unit_amount = StringField(_l("for every KES (B)"), [Optional()],
                              render_kw={"inputmode": "decimal"})
    min_amount = StringField(_l("Minimum payment for B (KES)"), [Optional()],
                             render_kw={"inputmode": "decimal"})
    stamps_required = StringField(_l("Stamps for a reward (B)"), [Optional()],
                                  render_kw={"inputmode": "numeric"})
    share_b = StringField(_l("Share of new customers who get B (%)"), default="50",
                          render_kw={"inputmode": "numeric"})
    days = StringField(_l("Came back within (days)"), default="30",
                       render_kw={"inputmode": "numeric"},
                       description=_l("A customer counts as 'came back' if they pay "
                                      "again within this many days of their first payment."))
    effect = StringField(_l("Smallest change worth finding (% points)"), default="5",
                         render_kw={"inputmode": "decimal"},
                         description=_l("5 means, e.g., 30 customers in 100 coming back "
                                        "instead of 25."))
    method = SelectField(_l("How to read it"), choices=METHODS, default="fixed")
