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

    @classmethod
    def build(cls, store: Store, sync_callbacks: bool = False) -> Emulator:
        state = EmulatorState(store)
        return cls(state=state, dispatcher=Dispatcher(sync=sync_callbacks),
                   deliverer=Deliverer(state))

    def close(self) -> None:
        self.dispatcher.join(timeout=5)
        self.state.store.close()
