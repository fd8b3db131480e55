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
    # Africa's Talking's callback URLs, as its dashboard would hold them (sms_reports.py):
    # the base of `…/delivery` and `…/inbound`, or None when the platform takes none.
    sms_callback_base: str | None = None
    # The shortcode customers text (the `to` of an inbound SMS).
    sms_shortcode: str = ""

    @classmethod
    def build(cls, store: Store, sync_callbacks: bool = False,
              sms_callback_base: str | None = None, sms_shortcode: str = "") -> Emulator:
        state = EmulatorState(store)
        return cls(state=state, dispatcher=Dispatcher(sync=sync_callbacks),
                   deliverer=Deliverer(state), sms_callback_base=sms_callback_base,
                   sms_shortcode=sms_shortcode)

    def close(self) -> None:
        self.dispatcher.join(timeout=5)
        self.state.store.close()
