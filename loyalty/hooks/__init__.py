"""Callback blueprints: Safaricom's under /hooks/<token>, Africa's Talking's under /hooks/sms."""

from loyalty.hooks.sms import bp as sms_bp
from loyalty.hooks.views import bp

__all__ = ["bp", "sms_bp"]
