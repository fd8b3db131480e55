"""The whole platform as separate processes, driven over HTTP like production.

`start_stack(...)` migrates a scratch PostgreSQL database, then starts gunicorn (with the
emulator mounted, playing Safaricom and Africa's Talking), a Celery worker and beat, all on
loopback and connected as an ordinary database role (so under row-level security, as in
production), and stops every one of them on the way out, also when the test fails. `Stack`
holds what a test needs: HTTP helpers for the API, the emulator and the callbacks, SQL
for the exact counts, and the processes themselves (to kill a worker, say).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa
from flask_migrate import upgrade
from sqlalchemy.pool import NullPool

from loyalty.db.row_security import switch as switch_row_security
from loyalty.extensions import db
from tests import processes
from tests.conftest import make_test_app

DEMO_KEY, DEMO_SECRET = "demo-consumer-key", "demo-consumer-secret"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
SHORTCODE = "174379"
EAT = timezone(timedelta(hours=3))


def msisdn(phone: str) -> str:
    """0712345678 -> 254712345678 (the tests only use well-formed Kenyan numbers)."""
    digits = phone.lstrip("+")
    return "254" + digits[1:] if digits.startswith("0") else digits


def phone_hash(phone: str) -> str:
    return hashlib.sha256(msisdn(phone).encode()).hexdigest()


def c2b_confirmation(trans_id: str, *, amount: str = "5000.00", bill_ref: str = "VIP001",
                     phone: str = "0712345678", shortcode: str = SHORTCODE,
                     first_name: str = "John") -> dict[str, Any]:
    """A confirmation body as Safaricom sends it (DARAJA.md 4.4): hashed MSISDN, EAT time."""
    return {
        "TransactionType": "Pay Bill", "TransID": trans_id,
        "TransTime": datetime.now(EAT).strftime("%Y%m%d%H%M%S"), "TransAmount": amount,
        "BusinessShortCode": shortcode, "BillRefNumber": bill_ref, "InvoiceNumber": "",
        "OrgAccountBalance": "", "ThirdPartyTransID": "", "MSISDN": phone_hash(phone),
        "FirstName": first_name, "MiddleName": "", "LastName": "",
    }


def receipt(number: int, prefix: str = "E2E") -> str:
    """An M-Pesa-looking receipt: 10 upper-case alphanumerics, unique per number."""
    return f"{prefix}{number:0{10 - len(prefix)}d}"


@dataclass
class Stack:
    base: str
    env: dict[str, str]
    tmp: Path
    database_url: str
    engine: sa.Engine
    procs: dict[str, processes.Process]
    exits: ExitStack
    http: requests.Session = field(default_factory=requests.Session)
    hooks_base: str | None = None  # the `hooks` process, when the stack runs one

    # --- processes ----------------------------------------------------------------------
    def start_worker(self, name: str = "worker", concurrency: int = 2) -> processes.Process:
        worker = self.exits.enter_context(processes.running(
            name, processes.celery_worker_args(concurrency=concurrency), self.env, self.tmp))
        self.procs["worker"] = worker
        processes.wait_for_log(worker, "ready.", timeout=60)
        return worker

    def logs(self) -> str:
        """Every process's output, tail first, for assertion messages."""
        parts = []
        for path in sorted(self.tmp.glob("*.log")):
            text = path.read_text(errors="replace")
            parts.append(f"----- {path.name} (last 3000 chars) -----\n{text[-3000:]}")
        return "\n".join(parts)

    # --- HTTP -----------------------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base + path

    def api(self, method: str, path: str, key: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if key:
            headers["Authorization"] = f"Bearer {key}"
        kwargs.setdefault("timeout", 40)
        return self.http.request(method, self.url("/api/v1" + path), headers=headers, **kwargs)

    def emulator(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.url("/_emulator" + path), **kwargs)

    def control(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.emulator("POST", "/control/" + path, json=body)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def inbox(self, phone: str | None = None) -> list[dict[str, Any]]:
        params = {"to": phone} if phone else {}
        response = self.emulator("GET", "/sms/inbox", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def deliveries(self) -> list[dict[str, Any]]:
        response = self.emulator("GET", "/state", params={"limit": "500"})
        assert response.status_code == 200, response.text
        return response.json()["callback_deliveries"]

    def daraja_token(self, key: str = DEMO_KEY, secret: str = DEMO_SECRET) -> str:
        response = self.http.get(self.url("/_emulator/daraja/oauth/v1/generate"),
                                 params={"grant_type": "client_credentials"},
                                 auth=(key, secret), timeout=10)
        assert response.status_code == 200, response.text
        return response.json()["access_token"]

    def simulate_c2b(self, *, amount: int, bill_ref: str, phone: str,
                     trans_id: str | None = None, shortcode: str = SHORTCODE) -> None:
        """A customer pays, through Daraja's own C2B simulate (the emulator's TransID
        extension forces the receipt number when a test needs a duplicate)."""
        body = {"ShortCode": int(shortcode), "CommandID": "CustomerPayBillOnline",
                "Amount": amount, "Msisdn": int(msisdn(phone)), "BillRefNumber": bill_ref}
        if trans_id:
            body["TransID"] = trans_id
        response = self.http.post(self.url("/_emulator/daraja/mpesa/c2b/v1/simulate"), json=body,
                                  headers={"Authorization": f"Bearer {self.daraja_token()}"},
                                  timeout=10)
        assert response.status_code == 200 and response.json()["ResponseCode"] == "0", response.text

    def hook(self, token: str, path: str, body: dict[str, Any]) -> requests.Response:
        """A callback as Safaricom sends it: to the `hooks` process when there is one."""
        base = self.hooks_base or self.base
        return self.http.post(f"{base}/hooks/{token}/{path}", json=body, timeout=10)

    # --- database ---------------------------------------------------------------------------
    def scalar(self, query: str, **params) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(query), params).scalar()

    def rows(self, query: str, **params) -> list[sa.Row]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(query), params))

    def wait(self, predicate, timeout: float = 30, message: str = "condition"):
        try:
            return processes.wait_until(predicate, timeout=timeout, interval=0.2,
                                        message=message)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    # --- a merchant, onboarded over the API --------------------------------------------------
    def onboard(self, *, business_name: str = "Acme Electronics",
                passkey: bool = True, initiator: bool = False) -> Shop:
        """Register, add the VIP and delivery programs, add a sandbox PayBill with the
        emulator's demo app (and an API operator with `initiator`), verify, register URLs
        and activate: the merchant's own steps."""
        registered = self.api("POST", "/merchants", json={
            "business_name": business_name, "owner_name": "John Doe",
            "email": f"owner-{uuid.uuid4().hex[:8]}@acme.example", "phone": "0722000111",
            "business_type": "RETAIL", "password": "correct horse battery"})
        assert registered.status_code == 201, registered.text
        key = registered.json()["api_key"]
        for program in ({"code": "vip", "name": "VIP", "multiplier": "2"},
                        {"code": "delivery", "name": "Delivery", "points_per_unit": 0,
                         "stamps_required": 5, "stamp_reward": "free delivery"}):
            created = self.api("POST", "/programs", key, json=program)
            assert created.status_code == 201, created.text
        body = {"name": "Main PayBill", "shortcode": SHORTCODE, "channel_type": "paybill",
                "consumer_key": DEMO_KEY, "consumer_secret": DEMO_SECRET,
                "account_mapping": {"default": "loyalty", "VIP*": "vip",
                                    "DELIVERY": "delivery"}}
        if passkey:
            body["passkey"] = SANDBOX_PASSKEY
        if initiator:
            body.update(initiator_name="testapi", initiator_password="Safaricom999!*!")
        channel = self.api("POST", "/mpesa-channels", key, json=body)
        assert channel.status_code == 201, channel.text
        channel_id = channel.json()["id"]
        shop = Shop(self, key, channel_id, token=self.scalar(
            "SELECT callback_token FROM mpesa_channels WHERE id = :id", id=channel_id))
        verified = shop.api("POST", f"/mpesa-channels/{channel_id}/verify?wait=10")
        assert verified.status_code == 200 and verified.json()["verified"], \
            f"{verified.text}\n{self.logs()}"
        registered = shop.api("POST", f"/mpesa-channels/{channel_id}/register-urls?wait=10",
                              json={})
        assert registered.status_code == 200 and registered.json()["registered"], \
            f"{registered.text}\n{self.logs()}"
        active = shop.api("POST", f"/mpesa-channels/{channel_id}/activate")
        assert active.status_code == 200 and active.json()["status"] == "active", active.text
        return shop


@dataclass
class Shop:
    stack: Stack
    key: str
    channel_id: int
    token: str

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.stack.api(method, path, self.key, **kwargs)

    def channel(self) -> dict[str, Any]:
        response = self.api("GET", f"/mpesa-channels/{self.channel_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def transactions(self, **params) -> list[dict[str, Any]]:
        response = self.api("GET", "/transactions", params={"limit": 200, **params})
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def customer(self, phone: str) -> dict[str, Any]:
        found = self.api("GET", "/customers", params={"phone": phone})
        assert found.status_code == 200, found.text
        [customer] = found.json()["items"]
        detail = self.api("GET", f"/customers/{customer['id']}")
        assert detail.status_code == 200, detail.text
        return detail.json()

    def balance(self, phone: str, program: str) -> int:
        balances = {b["program"]: b for b in self.customer(phone)["balances"]}
        return balances[program]["points"] if program in balances else 0


@contextmanager
def start_stack(database_url: str, redis_url: str, redis_prefix: str, tmp: Path, *,
                worker: bool = True, beat: bool = True, hooks: bool = False,
                row_security: bool = False, **settings: str) -> Iterator[Stack]:
    """Migrate `database_url`, then run gunicorn (+ emulator), a worker and beat on it;
    with `hooks`, also the Procfile's `hooks` process, which the callback URLs point at;
    with `row_security`, under PostgreSQL's row-level security (DB_ROW_SECURITY=on and
    `flask row-security on`, the opt-in).

    Every run gets a Redis key prefix of its own under the session's prefix, so the
    emulator's state and the Celery queues of one test never leak into the next."""
    prefix = f"{redis_prefix}e2e-{uuid.uuid4().hex[:8]}:"
    app = make_test_app(database_url, prefix)
    with app.app_context():
        upgrade()
        if row_security:
            with db.engine.begin() as connection:
                switch_row_security(connection, True)
            settings["DB_ROW_SECURITY"] = "on"
    with ordinary_role(database_url) as app_url, _started(
            database_url, app_url, redis_url, prefix, tmp, worker=worker, beat=beat,
            hooks=hooks, **settings) as stack:
        yield stack


@contextmanager
def ordinary_role(database_url: str) -> Iterator[str]:
    """The database's URL for an ordinary role with the app's privileges, as in production,
    so the processes run under row-level security (PostgreSQL exempts superusers)."""
    role = f"loyalty_e2e_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN NOSUPERUSER NOBYPASSRLS'))
        conn.execute(sa.text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA '
                             f'public TO "{role}"'))
        conn.execute(sa.text(f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO "{role}"'))
    try:
        yield database_url.replace("//postgres@", f"//{role}@", 1)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE usename = :r"), {"r": role})
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
            conn.execute(sa.text(f'DROP ROLE "{role}"'))
        admin.dispose()


@contextmanager
def _started(database_url: str, app_url: str, redis_url: str, prefix: str, tmp: Path, *,
             worker: bool, beat: bool, hooks: bool, **settings: str) -> Iterator[Stack]:
    port, hooks_port = processes.free_port(), processes.free_port()
    base = f"http://127.0.0.1:{port}"
    hooks_base = f"http://127.0.0.1:{hooks_port}" if hooks else None
    if hooks_base:
        settings.setdefault("CALLBACK_BASE_URL", hooks_base)
    env = processes.app_environment(app_url, redis_url, prefix, **{
        "DARAJA_EMULATOR": "1",
        "DARAJA_SANDBOX_URL": f"{base}/_emulator/daraja",
        "AT_BASE_URL": f"{base}/_emulator/sms",
        "SMS_BACKEND": "africastalking",
        "AT_API_KEY": "e2e",
        "PUBLIC_BASE_URL": base,
        "SWEEP_INTERVAL": "2",
        "SMS_SWEEP_AGE": "2",
        "SMS_CLAIM_SECONDS": "3",
        # Like `make run`: the stack's sandbox channels text the payers the tests invent.
        "SANDBOX_SMS_POLICY": "open",
        **settings,
    })
    engine = sa.create_engine(database_url, poolclass=NullPool)
    with ExitStack() as exits:
        exits.callback(engine.dispose)
        web = exits.enter_context(processes.running(
            "web", processes.gunicorn_args(port), env, tmp))
        stack = Stack(base=base, env=env, tmp=tmp, database_url=database_url, engine=engine,
                      procs={"web": web}, exits=exits, hooks_base=hooks_base)
        exits.callback(stack.http.close)
        if hooks_base:
            stack.procs["hooks"] = exits.enter_context(processes.running(
                "hooks", processes.gunicorn_args(hooks_port, app=processes.HOOKS_APP), env, tmp))
        processes.wait_for_http(f"{base}/healthz", web, timeout=60)
        if hooks_base:
            processes.wait_for_http(f"{hooks_base}/healthz", stack.procs["hooks"], timeout=60)
        if beat:
            stack.procs["beat"] = exits.enter_context(processes.running(
                "beat", processes.celery_beat_args(tmp / "celerybeat-schedule"), env, tmp))
        if worker:
            stack.start_worker()
        yield stack


def wait_seconds(seconds: float) -> None:
    """A deliberate pause, to show that something does NOT happen (a second SMS)."""
    time.sleep(seconds)
