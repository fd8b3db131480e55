"""A bounded property-based fuzz run of the whole REST API against its own OpenAPI document.

Schemathesis generates requests for every operation of /api/v1/openapi.json — valid ones
(positive) and ones that break the schema (negative) — and sends them through the WSGI app
to the test PostgreSQL database (integer overflow only shows there). No answer may be a
5xx, and every 4xx must carry the one error body. Each operation runs once with generated
path parameters and once with the ids of real resources, so the handlers behind the 404
are reached too.

Hypothesis runs derandomized (the same examples on every run and in CI) and without
shrinking, at FUZZ_EXAMPLES examples per operation, mode and path variant (default 12:
about 2,000 requests, well under a minute); set FUZZ_EXAMPLES higher for a longer hunt.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest
import responses
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

from tests.conftest import auth
from tests.integration.conftest import AT, c2b_body, make_shop

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, database=None, deadline=None,
                         phases=[Phase.explicit, Phase.generate],
                         suppress_health_check=list(HealthCheck))


@dataclass
class World:
    """Real resources of one merchant, and spare ones for the DELETE operations."""

    key: str
    ids: dict[str, object]
    spare: dict[str, object]
    statuses: dict[int, int] = field(default_factory=dict)


@pytest.fixture(autouse=True)
def _rate_limits_out_of_the_way(app, monkeypatch):
    """Two thousand requests with one key in about a minute: past RATE_LIMIT_API_KEY they
    would be answered 429 before their handlers (the limits have their own tests)."""
    for name in [name for name in app.config if name.startswith("RATE_LIMIT_")]:
        monkeypatch.setitem(app.config, name, "1000000 per minute")


@pytest.fixture(autouse=True)
def _africas_talking_answers(gateway):
    """Africa's Talking up, as it usually is: checking a merchant's own account (PUT
    /merchants/me/sms-provider) gets its user data, so the handler runs to the end; its
    answer when AT is down (503) has its own test."""
    gateway.assert_all_requests_are_fired = False
    gateway.add(responses.GET, f"{AT}/version1/user", json={"UserData": {"balance": "KES 10"}})


@pytest.fixture
def world(client, db_session) -> World:
    shop = make_shop(client, db_session, programs=[{"code": "vip", "name": "VIP"},
                                                   {"code": "spare", "name": "Spare"}])
    shop.hook("c2b/confirmation", c2b_body(trans_id="FUZZ000001"))
    payment = shop.api("GET", "/transactions").get_json()["items"][0]
    customer = shop.api("POST", "/customers", json={"phone": "0712000111"}).get_json()
    spare_key = shop.api("POST", "/api-keys", json={"name": "spare"}).get_json()
    spare_channel = shop.api("POST", "/mpesa-channels", json={
        "name": "Spare", "shortcode": "600999", "channel_type": "paybill"}).get_json()
    return World(key=shop.key,
                 ids={"channel_id": shop.channel["id"], "code": "vip", "customer_id": customer["id"],
                      "payment_id": payment["id"], "key_id": spare_key["id"]},
                 spare={"channel_id": spare_channel["id"], "code": "spare",
                        "key_id": spare_key["id"]})


def _error_body_problem(response) -> str | None:
    """Why a 4xx answer does not carry the app's one error body, else None."""
    try:
        body = response.json()
    except ValueError:
        return "not JSON"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("code"), str) \
            or not isinstance(error.get("message"), str) or not error["message"]:
        return f"not the error body: {str(body)[:120]}"
    if response.status_code == 422 and not isinstance(error.get("fields"), dict):
        return "a 422 without fields"
    return None


def _fuzz(operation, mode, world: World, path_parameters: dict, failures: list) -> None:
    @FUZZ_SETTINGS
    @given(operation.as_strategy(generation_mode=mode, path_parameters=path_parameters or None))
    def run(case):
        response = case.call(headers=auth(world.key))
        status = response.status_code
        world.statuses[status] = world.statuses.get(status, 0) + 1
        problem = None
        if status >= 500:
            problem = f"{status}: {response.text[:160]}"
        elif status >= 400:
            problem = _error_body_problem(response)
        if problem:
            failures.append(f"{operation.label} [{mode.value}] path={case.path_parameters} "
                            f"query={case.query} body={case.body!r:.200} -> {problem}")

    run()


def test_no_generated_request_gets_a_5xx_and_every_4xx_has_the_error_body(app, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every operation of the document, none skipped (a string bound once made four unreadable).
    document = app.test_client().get("/api/v1/openapi.json").get_json()
    assert len(operations) == sum(method in ("get", "post", "put", "patch", "delete")
                                  for item in document["paths"].values() for method in item)
    assert len(operations) > 45
    for operation in operations:
        names = [parameter.name for parameter in operation.path_parameters]
        own = world.spare if operation.method.upper() == "DELETE" else world.ids
        variants = [{}]
        if names and all(name in own for name in names):
            variants.append({name: own[name] for name in names})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in variants:
                _fuzz(operation, mode, world, path_parameters, failures)
    assert failures == [], "\n".join(failures[:40])
    # The run reached the handlers, not only the doors: successes and refusals both.
    assert sum(count for status, count in world.statuses.items() if status < 300) > 100
    assert world.statuses.get(422, 0) > 100
    assert 429 not in world.statuses
