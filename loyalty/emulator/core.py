"""The emulator object kept in `app.extensions["emulator"]`.

It holds no Flask state, so callback threads use it without an app context.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.emulator.callbacks import Deliverer, Dispatcher
from loyalty.emulator.state import EmulatorState
from loyalty.emulator.store import Store


@dataclass
class Emulator:
    state: EmulatorState
    dispatcher: Dispatcher
    deliverer: Deliverer
    # Callback URLs must be https and public for every app, not only production ones: the
    # emulator stands in for Safaricom in front of a production-config platform.
    public_urls_only: bool = False
    # Africa's Talking's callback URLs, as its dashboard would hold them (sms_reports.py):
    # the base of `…/delivery` and `…/inbound`, or None when the platform takes none.
    sms_callback_base: str | None = None
    # The shortcode customers text (the `to` of an inbound SMS).
    sms_shortcode: str = ""

    @classmethod
    def build(cls, store: Store, sync_callbacks: bool = False, public_urls_only: bool = False,
              sms_callback_base: str | None = None, sms_shortcode: str = "") -> Emulator:
        state = EmulatorState(store)
        return cls(state=state, dispatcher=Dispatcher(sync=sync_callbacks),
                   deliverer=Deliverer(state), public_urls_only=public_urls_only,
                   sms_callback_base=sms_callback_base, sms_shortcode=sms_shortcode)

    def public_urls(self, grant: dict) -> bool:
        """Whether Safaricom's production URL rules (https, a public host) apply to a call
        made with this token's grant."""
        return self.public_urls_only or grant.get("environment") == "production"

    def close(self) -> None:
        self.dispatcher.join(timeout=5)
        self.state.store.close()
