"""The web UI's pages, one small module per area; importing them attaches their routes."""

from loyalty.web.views import (  # noqa: F401
    account,
    analytics,
    api_keys,
    branding,
    callback_log,
    channel_transfer,
    channels,
    customers,
    dashboard,
    experiments,
    language,
    mapping,
    passwords,
    payments,
    programs,
    reconciliation,
    settings,
    setup_templates,
    webhooks,
)
