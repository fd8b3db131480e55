"""The form for a new rule test (A/B experiment), in a shop owner's words.

Two versions only on the web: A is the program as it is, B the changed rule; the API
takes more. Percentages are typed as people say them (5 for five percentage points).
"""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Optional

from loyalty.web.forms import Length, WebForm, options

METHODS = options([("fixed", "Read once, on a date fixed now (simplest)"),
                   ("sequential", "Check four times, stop early if the answer is clear")])


class ExperimentForm(WebForm):
    name = StringField("Name of the test", [InputRequired(), Length(max=100)],
                       description="e.g. '1.5× points for new customers'")
    program = SelectField("Program", choices=[])
    channel = SelectField("Channel", choices=[], default="",
                          description="Only payments to this channel take part, or all.")
    multiplier = StringField("Multiplier for B", [Optional()],
                             render_kw={"inputmode": "decimal"},
                             description="1.5 gives half as many points again.")
    points_per_unit = StringField("Points for B", [Optional()],
                                  render_kw={"inputmode": "numeric"})
    unit_amount = StringField("for every KES (B)", [Optional()],
                              render_kw={"inputmode": "decimal"})
    min_amount = StringField("Minimum payment for B (KES)", [Optional()],
                             render_kw={"inputmode": "decimal"})
    stamps_required = StringField("Stamps for a reward (B)", [Optional()],
                                  render_kw={"inputmode": "numeric"})
    share_b = StringField("Share of new customers who get B (%)", default="50",
                          render_kw={"inputmode": "numeric"})
    days = StringField("Came back within (days)", default="30",
                       render_kw={"inputmode": "numeric"},
                       description="A customer counts as 'came back' if they pay again "
                                   "within this many days of their first payment.")
    effect = StringField("Smallest change worth finding (% points)", default="5",
                         render_kw={"inputmode": "decimal"},
                         description="5 means, e.g., 30% of customers coming back "
                                     "instead of 25%.")
    method = SelectField("How to read it", choices=METHODS, default="fixed")
