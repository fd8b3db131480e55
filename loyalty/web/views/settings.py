"""Settings: the business profile, the SMS test numbers, language and STOP keyword, and
today's SMS allowance."""

from __future__ import annotations

import re

from flask import flash, redirect, url_for
from flask_babel import gettext as _

from loyalty.errors import Conflict
from loyalty.phones import display_phone
from loyalty.schemas.merchants import MerchantUpdateSchema
from loyalty.services import merchants, sms_allowance
from loyalty.web.blueprint import bp
from loyalty.web.forms import SettingsForm
from loyalty.web.formtools import checked, page, values

PROFILE_FIELDS = ("business_name", "owner_name", "phone", "sms_language")


@bp.route("/settings", methods=["GET", "POST"])
def settings():
    merchant = merchants.get_current_merchant()
    form = SettingsForm(obj=merchant)
    if not form.is_submitted():  # phones as Kenyans write them: 0712 345 678
        form.phone.data = display_phone(merchant.phone)
        form.sms_test_numbers.data = "\n".join(map(display_phone, merchant.sms_test_numbers or ()))
    data = checked(form, MerchantUpdateSchema(), lambda: {
        **values(form, PROFILE_FIELDS),
        **values(form, ("sms_keyword",), blank="none"),  # emptied: no keyword
        "sms_test_numbers": [n for n in re.split(r"[\n,;]+", form.sms_test_numbers.data or "")
                             if n.strip()]})
    if data is not None:
        try:
            merchants.update_current_merchant(data)
        except Conflict as error:  # the keyword is another merchant's (STOP <keyword>)
            form.sms_keyword.errors = [error.message]
            return page("web/settings.html", form, status=409,
                        allowance=sms_allowance.current_allowance())
        flash(_("Settings saved."), "success")
        return redirect(url_for("web.settings"))
    return page("web/settings.html", form, allowance=sms_allowance.current_allowance())
