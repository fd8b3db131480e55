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

    @classmethod
    def build(cls, store: Store, sync_callbacks: bool = False,
              public_urls_only: bool = False) -> Emulator:
        state = EmulatorState(store)
        return cls(state=state, dispatcher=Dispatcher(sync=sync_callbacks),
                   deliverer=Deliverer(state), public_urls_only=public_urls_only)

    def public_urls(self, grant: dict) -> bool:
        """Whether Safaricom's production URL rules (https, a public host) apply to a call
        made with this token's grant."""
        return self.public_urls_only or grant.get("environment") == "production"

    def close(self) -> None:
        self.dispatcher.join(timeout=5)
        self.state.store.close()
