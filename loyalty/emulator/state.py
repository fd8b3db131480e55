"""What the emulator remembers, named in Safaricom's terms, on top of a `Store`.

Views and flows talk to this class, never to raw store keys, so the key layout lives in one
place. Built-in defaults (the demo app, the public sandbox shortcode 174379 and its passkey)
are constants merged in on read: a reset never loses them and they cost nothing to store.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from loyalty.emulator.store import Store

SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
PRODUCTS = ("c2b_v1", "c2b_v2", "stk", "balance", "status", "pull", "reversal")
ENVIRONMENTS = ("sandbox", "production")

# The brief gives the demo app C2B v1+v2 and STK and lets it query balance and status (and
# pull transactions, and reverse payments) too; listing every product says exactly that.
DEMO_APP: dict[str, Any] = {
    "consumer_key": "demo-consumer-key",
    "consumer_secret": "demo-consumer-secret",
    "products": list(PRODUCTS),
    "shortcodes": ["174379", "600000"],
    "environment": "sandbox",
    "invalidate_previous_token": True,
    "token_ttl": 3599,
    "builtin": True,
}
BUILTIN_STK_SHORTCODES: dict[str, dict[str, Any]] = {
    "174379": {"shortcode": "174379", "kind": "paybill", "passkey": SANDBOX_PASSKEY, "tills": []},
}
DEFAULT_SETTINGS: dict[str, Any] = {
    "stk_delay": 1.0,          # seconds between the push and the customer's answer
    "stk_c2b_echo": False,     # also send STK receipts to the C2B ConfirmationURL (DARAJA.md 4.6)
    "callback_timeout": 5.0,   # seconds the emulator waits for the platform's callback answer
    "pull_page_size": 100,     # rows per Pull Transactions page (Safaricom publishes none)
    "drop_confirmations": False,  # lose every C2B confirmation (Safaricom does not retry)
    "sms_latency_ms": 0.0,     # every SMS send waits this long before answering
    "sms_error_rate": 0.0,     # share of SMS sends answered 503 (0 to 1)
    "daraja_latency_ms": 0.0,  # every Daraja call waits this long before answering
    "daraja_error_rate": 0.0,  # share of Daraja calls answered with a spike arrest (0 to 1)
    "sms_delivery": "delivered",  # delivery reports say Success, Failed, or none ("off")
    "sms_failure_reason": "DeliveryFailure",  # a Failed report's reason (SMS.md 3.2)
    "sms_delivery_delay": 1.0,  # seconds between the send's answer and its report
}
PULL_KEEP_SECONDS = 7 * 86400  # rows are served for 48 h; kept a little longer


def public_app(app: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in app.items() if k != "consumer_secret"}


class EmulatorState:
    def __init__(self, store: Store) -> None:
        self.store = store

    # Apps and tokens -------------------------------------------------------------------
    def app(self, consumer_key: str) -> dict[str, Any] | None:
        stored = self.store.hget("apps", consumer_key)
        if stored is not None:
            return stored
        return dict(DEMO_APP) if consumer_key == DEMO_APP["consumer_key"] else None

    def apps(self) -> list[dict[str, Any]]:
        stored = self.store.hgetall("apps")
        merged = {DEMO_APP["consumer_key"]: dict(DEMO_APP), **stored}
        return [public_app(app) for app in merged.values()]

    def save_app(self, app: dict[str, Any]) -> None:
        self.store.hset("apps", app["consumer_key"], app)

    def mint_token(self, app: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(24)
        # The token carries the products the app had when it was minted (DARAJA.md 2).
        grant = {k: app[k] for k in ("consumer_key", "products", "shortcodes", "environment")}
        self.store.put(f"token:{token}", grant, ttl=float(app["token_ttl"]) + 1)
        previous = self.store.hget("app_tokens", app["consumer_key"])
        self.store.hset("app_tokens", app["consumer_key"], token)
        if previous and app.get("invalidate_previous_token", True):
            self.store.delete(f"token:{previous}")
        return token

    def grant(self, token: str) -> dict[str, Any] | None:
        return self.store.get(f"token:{token}") if token else None

    def count_oauth(self, consumer_key: str) -> None:
        self.store.hincr("oauth_calls", consumer_key)

    # C2B registrations and validation ----------------------------------------------------
    def registration(self, shortcode: str) -> dict[str, Any] | None:
        return self.store.hget("registrations", str(shortcode))

    def save_registration(self, record: dict[str, Any]) -> None:
        self.store.hset("registrations", str(record["ShortCode"]), record)

    def registrations(self) -> list[dict[str, Any]]:
        return sorted(self.store.hgetall("registrations").values(), key=lambda r: r["ShortCode"])

    def delete_registration(self, shortcode: str) -> None:
        self.store.hdel("registrations", str(shortcode))

    def validation_enabled(self, shortcode: str) -> bool:
        flags = self.validation_flags()
        return bool(flags.get(str(shortcode), flags.get("*", False)))

    def validation_flags(self) -> dict[str, bool]:
        return self.store.hgetall("validation")

    def set_validation(self, shortcode: str, enabled: bool) -> None:
        self.store.hset("validation", str(shortcode), bool(enabled))

    # STK shortcodes, outcomes, requests ------------------------------------------------------
    def stk_shortcode(self, shortcode: str) -> dict[str, Any] | None:
        stored = self.store.hget("stk_shortcodes", str(shortcode))
        return stored if stored is not None else BUILTIN_STK_SHORTCODES.get(str(shortcode))

    def save_stk_shortcode(self, record: dict[str, Any]) -> None:
        self.store.hset("stk_shortcodes", record["shortcode"], record)

    def stk_outcome(self, phone: str) -> str:
        outcomes = self.store.hgetall("stk_outcomes")
        return outcomes.get(phone) or outcomes.get("*") or "success"

    def set_stk_outcome(self, phone: str | None, outcome: str) -> None:
        self.store.hset("stk_outcomes", phone or "*", outcome)

    def save_stk(self, record: dict[str, Any]) -> None:
        self.store.put(f"stk:{record['CheckoutRequestID']}", record, ttl=86400)

    def stk(self, checkout_request_id: str) -> dict[str, Any] | None:
        return self.store.get(f"stk:{checkout_request_id}")

    # Receipts and balances (what Transaction Status and Account Balance report) ----------
    def save_receipt(self, record: dict[str, Any]) -> None:
        self.store.put(f"receipt:{record['receipt']}", record, ttl=7 * 86400)

    def receipt(self, receipt: str) -> dict[str, Any] | None:
        return self.store.get(f"receipt:{receipt}")

    def credit(self, shortcode: str, cents: int) -> int:
        return self.store.hincr("balances", str(shortcode), cents)

    def balance_cents(self, shortcode: str) -> int:
        return int(self.store.hgetall("balances").get(str(shortcode), 0))

    # Pull Transactions and lost confirmations ----------------------------------------------
    def pull_registration(self, shortcode: str) -> dict[str, Any] | None:
        return self.store.hget("pull_registrations", str(shortcode))

    def save_pull_registration(self, record: dict[str, Any]) -> None:
        self.store.hset("pull_registrations", str(record["ShortCode"]), record)

    def pull_registrations(self) -> list[dict[str, Any]]:
        return sorted(self.store.hgetall("pull_registrations").values(),
                      key=lambda r: r["ShortCode"])

    def add_pull_rows(self, shortcode: str, rows: list[tuple[float, dict[str, Any]]]) -> None:
        """Rows (epoch seconds, Pull row) of completed payments to `shortcode`."""
        name = f"pull_rows:{shortcode}"
        self.store.zadd(name, {json.dumps(row, sort_keys=True): at for at, row in rows})
        self.store.zprune(name, time.time() - PULL_KEEP_SECONDS)

    def pull_rows(self, shortcode: str, low: float, high: float, offset: int,
                  count: int) -> list[dict[str, Any]]:
        found = self.store.zrange(f"pull_rows:{shortcode}", low, high, offset, count)
        return [json.loads(member) for member in found]

    def arm_dropped_confirmations(self, count: int) -> None:
        self.store.put("drop_confirmations", int(count))

    def drop_confirmation(self) -> bool:
        """True when this confirmation is to be lost: the switch is on, or one of the next
        `count` armed by the control API is taken."""
        return bool(self.settings()["drop_confirmations"]) or self.store.take("drop_confirmations")

    def dropped_confirmations_armed(self) -> int:
        return int(self.store.get("drop_confirmations") or 0)

    def claim_reversal(self, receipt: str) -> bool:
        """True for the first reversal of a receipt (one atomic count per receipt, shared
        by every process); later ones find it reversed already."""
        return self.store.hincr("reversed_receipts", str(receipt)) == 1

    def release_reversal(self, receipt: str) -> None:
        """A claimed reversal that failed after all: the receipt can be reversed again."""
        self.store.hdel("reversed_receipts", str(receipt))

    # Settings -----------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {**DEFAULT_SETTINGS, **(self.store.get("settings") or {})}

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        merged = {**(self.store.get("settings") or {}), **changes}
        self.store.put("settings", merged)
        return self.settings()

    # Deliveries and SMS -------------------------------------------------------------------
    def record_delivery(self, record: dict[str, Any]) -> None:
        self.store.push("deliveries", record, limit=500)

    def deliveries(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.store.recent("deliveries", limit)

    def record_sms(self, record: dict[str, Any]) -> None:
        self.store.push("sms_inbox", record, limit=1000)

    def inbox(self, limit: int | None = None) -> list[dict[str, Any]]:
        return self.store.recent("sms_inbox", limit)

    def sms_settings(self) -> dict[str, Any]:
        return {"api_key": None, "username": None, "statuses": {},
                **(self.store.get("sms_settings") or {})}

    def update_sms_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        self.store.put("sms_settings", {**self.sms_settings(), **changes})
        return self.sms_settings()

    # Fault injection ------------------------------------------------------------------------
    def add_fault(self, rule: dict[str, Any]) -> dict[str, Any]:
        # Sortable ids keep the rules in the order they were added.
        rule = {**rule, "id": f"{time.time_ns():020d}-{secrets.token_hex(3)}"}
        self.store.hset("faults", rule["id"], rule)
        if not rule.get("forever"):
            self.store.put(f"fault:{rule['id']}", int(rule.get("count", 1)))
        return rule

    def faults(self) -> list[dict[str, Any]]:
        rules = sorted(self.store.hgetall("faults").values(), key=lambda r: r["id"])
        for rule in rules:
            if not rule.get("forever"):
                rule["remaining"] = int(self.store.get(f"fault:{rule['id']}") or 0)
        return rules

    def clear_faults(self) -> None:
        for rule in self.store.hgetall("faults").values():
            self.store.delete(f"fault:{rule['id']}")
        self.store.delete("faults")

    def due_faults(self, target: str, path: str) -> list[dict[str, Any]]:
        """Consume and return the rules that fire on this call, oldest first."""
        fired = []
        for rule in sorted(self.store.hgetall("faults").values(), key=lambda r: r["id"]):
            if rule["target"] != target or rule.get("path") not in (None, "*", path):
                continue
            if rule.get("forever") or self.store.take(f"fault:{rule['id']}"):
                fired.append(rule)
            elif not rule.get("forever"):
                self.store.hdel("faults", rule["id"])  # used up
                self.store.delete(f"fault:{rule['id']}")
        return fired

    # Whole state ------------------------------------------------------------------------------
    def reset(self) -> None:
        self.store.clear()

    def snapshot(self, limit: int = 100) -> dict[str, Any]:
        shortcodes = {**BUILTIN_STK_SHORTCODES, **self.store.hgetall("stk_shortcodes")}
        return {
            "apps": self.apps(),
            "registrations": {r["ShortCode"]: r for r in self.registrations()},
            "validation": self.validation_flags(),
            "stk_shortcodes": {code: {k: v for k, v in rec.items() if k != "passkey"}
                               for code, rec in shortcodes.items()},
            "stk_outcomes": self.store.hgetall("stk_outcomes"),
            "settings": self.settings(),
            "oauth_calls": self.store.hgetall("oauth_calls"),
            "balances": {k: int(v) / 100 for k, v in self.store.hgetall("balances").items()},
            "faults": self.faults(),
            "pull_registrations": {r["ShortCode"]: r for r in self.pull_registrations()},
            "drop_confirmations": {"always": bool(self.settings()["drop_confirmations"]),
                                   "next": self.dropped_confirmations_armed()},
            "callback_deliveries": self.deliveries(limit),
            "sms_inbox": self.inbox(limit),
        }
