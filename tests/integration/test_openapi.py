"""The OpenAPI document is one a developer (and a client generator) can trust (issue 15).

The document names, for every operation, what a generator needs (summary, description,
operationId, the errors it can answer); every operation called with a bad key, a missing
object and a malformed body answers a status the document declares, with a body its schema
accepts; every operation that can refuse with a 409 declares it; and a Python client
generated from the document by openapi-python-client makes a round trip through the app.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema_rs  # schemathesis's validator (requirements pin schemathesis)
import pytest

from tests.conftest import auth
from tests.integration.conftest import make_shop

DOC = "/api/v1/openapi.json"
METHODS = ("get", "post", "put", "patch", "delete")
# The seed's flow, each with a request (or answer) example (SEED.md).
SEED_EXAMPLES = [("post", "/api/v1/merchants"), ("post", "/api/v1/mpesa-channels"),
                 ("post", "/api/v1/mpesa-channels/{channel_id}/register-urls"),
                 ("post", "/api/v1/programs"), ("post", "/api/v1/customers"),
                 ("post", "/api/v1/mpesa-channels/{channel_id}/stk-push"),
                 ("post", "/api/v1/customers/{customer_id}/redemptions")]


@pytest.fixture
def document(client) -> dict:
    response = client.get(DOC)
    assert response.status_code == 200
    return response.get_json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(document: dict, node):
    """`node` with every $ref replaced by what it points at (the document has no cycles)."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            return resolve(document, target)
        return {key: resolve(document, value) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve(document, value) for value in node]
    return node


def _numbers_bounds_and_money(node, where: str, problems: list[str]) -> None:
    if isinstance(node, dict):
        for key in ("minimum", "maximum"):
            if key in node and not isinstance(node[key], (int, float)):
                problems.append(f"{where}: {key} is {node[key]!r}, not a number")
        if node.get("format") == "decimal" and node.get("type") != "string":
            problems.append(f"{where}: money is not a decimal string")
        for key, value in node.items():
            _numbers_bounds_and_money(value, f"{where}/{key}", problems)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _numbers_bounds_and_money(value, f"{where}/{index}", problems)


def test_every_operation_says_what_a_client_generator_needs(document):
    assert document["servers"] and document["servers"][0]["url"]
    conventions = document["info"]["description"]
    for topic in ("Errors", "Lists", "Money", "Phones", "Idempotency", "Content-Type"):
        assert topic in conventions, topic
    error = resolve(document, {"$ref": "#/components/schemas/Error"})
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "fields"}
    problems: list[str] = []
    seen_ids: set[str] = set()
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        for key in ("summary", "description", "operationId"):
            if not operation.get(key):
                problems.append(f"{where}: no {key}")
        if operation.get("operationId") in seen_ids:
            problems.append(f"{where}: operationId {operation['operationId']} twice")
        seen_ids.add(operation.get("operationId"))
        expected = set()
        if operation.get("security") != []:
            expected |= {"401", "429"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "415", "422"}
        if operation.get("parameters"):
            expected.add("422")
        responses = operation["responses"]
        for status in sorted(expected - set(responses)):
            problems.append(f"{where}: {status} not declared")
        for status, response in responses.items():
            if status[0] in "45":
                schema = response if "$ref" in response else response["content"][
                    "application/json"]["schema"]
                if resolve(document, schema) is None or not _is_error(document, response):
                    problems.append(f"{where}: {status} is not the error body")
    _numbers_bounds_and_money(document, "", problems)
    assert problems == [], "\n".join(problems)
    for method, path in SEED_EXAMPLES:
        body = document["paths"][path][method]["requestBody"]["content"]["application/json"]
        assert body.get("example"), f"{method.upper()} {path} has no example"


def _is_error(document, response) -> bool:
    schema = resolve(document, response)["content"]["application/json"]["schema"]
    return "error" in schema.get("properties", {})


PHONES_THE_SERVER_TAKES = ("0712345678", "+254712345678", "254712345678", "712345678",
                          "0110123456", "0712 345 678", "0712-345-678", "(0712) 345-678",
                          "+254 (0) 712 345 678", "(+254) 712 345678")


def test_every_collection_is_a_page_and_the_input_rules_are_in_the_schema(client, db_session,
                                                                         document):
    # One list shape: no operation answers a bare array, and a list of `items` is a page,
    # `{items, next_cursor}` (the reconciliation runs add their `totals`).
    problems = []
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            content = resolve(document, response).get("content", {}).get("application/json")
            schema = content["schema"] if content else {}
            where = f"{method.upper()} {path} {status}"
            if schema.get("type") == "array":
                problems.append(f"{where}: a bare array")
            elif "items" in schema.get("properties", {}):
                if not {"items", "next_cursor"} <= set(schema["properties"]):
                    problems.append(f"{where}: items without next_cursor")
    assert problems == [], "\n".join(problems)
    # The rules the server applies are in the schema, where a generated client shows them.
    schemas = document["components"]["schemas"]
    phone = resolve(document, schemas["CustomerCreate"])["properties"]["phone"]
    assert "+254712345678" in phone["description"]
    for written in PHONES_THE_SERVER_TAKES:  # a client checking the pattern refuses none
        assert re.fullmatch(phone["pattern"], written), written
    mapping = resolve(document, schemas["ChannelCreate"])["properties"]["account_mapping"]
    assert "`default`" in mapping["description"] and "`VIP*`" in mapping["description"]
    shop = make_shop(client, db_session)
    for written in PHONES_THE_SERVER_TAKES[5:]:
        enrolled = shop.api("POST", "/customers", json={"phone": written})
        assert enrolled.status_code in (200, 201), (written, enrolled.get_json())
        assert enrolled.get_json()["phone"] == "254712345678"


# --- the contract, operation by operation -------------------------------------------------------


def _path_with(path: str, value_for) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(value_for(m.group(1))), path)


def _example(operation) -> object:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    return content.get("example", {})


def _check(document, path, method, operation, response, expected: set[str]) -> str | None:
    where = f"{method.upper()} {path}"
    status = str(response.status_code)
    if status not in expected:
        return f"{where}: {status} where {sorted(expected)} was expected: {response.text[:200]}"
    declared = operation["responses"].get(status)
    if declared is None:
        return f"{where}: {status} is not in the document"
    schema = resolve(document, declared)["content"]["application/json"]["schema"]
    try:
        jsonschema_rs.validate(schema, response.get_json())
    except jsonschema_rs.ValidationError as exc:
        return f"{where}: the {status} body does not match the document: {exc.message}"
    return None


def test_bad_keys_missing_objects_and_malformed_bodies_answer_as_documented(client, db_session,
                                                                           document):
    shop = make_shop(client, db_session)
    problems: list[str] = []
    not_found = 0
    for path, method, operation in operations(document):
        keyed = operation.get("security") != []
        has_body = "requestBody" in operation
        if keyed:
            response = client.open(_path_with(path, lambda name: 1), method=method,
                                   headers={"Authorization": "Bearer mpl_not-a-key"},
                                   json=_example(operation) if has_body else None)
            problems.append(_check(document, path, method, operation, response, {"401"}))
        if "{" in path:
            missing = _path_with(path, lambda name: "no-such-program" if name == "code"
                                 else 2**31 - 1)
            response = client.open(missing, method=method, headers=auth(shop.key),
                                   json=_example(operation) if has_body else None)
            problems.append(_check(document, path, method, operation, response, {"404"}))
            not_found += response.status_code == 404
        if has_body:
            target = _path_with(path, lambda name: "loyalty" if name == "code"
                                else shop.channel["id"])
            headers = auth(shop.key) if keyed else {}
            broken = client.open(target, method=method, headers=headers, data='{"phone": ',
                                 content_type="application/json")
            problems.append(_check(document, path, method, operation, broken, {"400"}))
            as_form = client.open(target, method=method, headers=headers, data="phone=0712345678",
                                  content_type="application/x-www-form-urlencoded")
            problems.append(_check(document, path, method, operation, as_form, {"415"}))
    problems = [problem for problem in problems if problem]
    assert problems == [], "\n".join(problems)
    assert not_found > 20


# Every operation whose service refuses with a Conflict (grep `Conflict(` in loyalty/services):
# a client generator only knows the 409 exists if the document says so (@conflict).
CONFLICTS = [
    ("post", "/api/v1/merchants"), ("patch", "/api/v1/merchants/me"),
    ("post", "/api/v1/programs"), ("patch", "/api/v1/programs/{code}"),
    ("delete", "/api/v1/programs/{code}"),
    ("post", "/api/v1/mpesa-channels"), ("patch", "/api/v1/mpesa-channels/{channel_id}"),
    ("post", "/api/v1/mpesa-channels/{channel_id}/verify"),
    ("post", "/api/v1/mpesa-channels/{channel_id}/register-urls"),
    ("post", "/api/v1/mpesa-channels/{channel_id}/activate"),
    ("post", "/api/v1/mpesa-channels/{channel_id}/pull/register"),
    ("post", "/api/v1/mpesa-channels/{channel_id}/reconcile"),
    ("post", "/api/v1/mpesa-channels/{channel_id}/stk-push"),
    ("patch", "/api/v1/customers/{customer_id}"),
    ("post", "/api/v1/customers/{customer_id}/redemptions"),
    ("post", "/api/v1/customers/{customer_id}/adjustments"),
    ("post", "/api/v1/transactions/{payment_id}/attribute"),
    ("post", "/api/v1/transactions/{payment_id}/reverse"),
    ("post", "/api/v1/transactions/{payment_id}/mark-reversed"),
    ("post", "/api/v1/experiments/{experiment_id}/start"),
    ("post", "/api/v1/experiments/{experiment_id}/stop"),
    ("post", "/api/v1/experiments/{experiment_id}/promote"),
    ("post", "/api/v1/setup-templates/{key}/apply"),
    ("post", "/api/v1/callback-log/{entry_id}/replay"),
    ("post", "/api/v1/webhook-endpoints"),
    ("post", "/api/v1/webhook-endpoints/{endpoint_id}/test"),
    ("post", "/api/v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/replay"),
]


def test_every_operation_that_can_refuse_with_a_409_declares_it(client, db_session, document):
    missing = [f"{method.upper()} {path}" for method, path in CONFLICTS
               if "409" not in document["paths"][path][method]["responses"]]
    assert missing == [], "409 not declared: " + ", ".join(missing)
    # One of them for real: a taken SMS keyword answers the documented 409 and error body.
    first, second = make_shop(client, db_session), make_shop(client, db_session,
                                                             business_name="Second Shop")
    assert first.api("PATCH", "/merchants/me", json={"sms_keyword": "acme"}).status_code == 200
    taken = second.api("PATCH", "/merchants/me", json={"sms_keyword": "ACME"})
    operation = document["paths"]["/api/v1/merchants/me"]["patch"]
    assert _check(document, "/api/v1/merchants/me", "patch", operation, taken, {"409"}) is None
    assert taken.get_json()["error"]["code"] == "sms_keyword_taken"


# --- a generated client --------------------------------------------------------------------------

GENERATOR_CONFIG = {"project_name_override": "loyalty-client",
                    "package_name_override": "loyalty_client", "post_hooks": []}


def test_a_generated_python_client_makes_a_round_trip(app, client, db_session, document,
                                                     tmp_path):
    (tmp_path / "openapi.json").write_text(json.dumps(document))
    (tmp_path / "config.json").write_text(json.dumps(GENERATOR_CONFIG))
    generator = Path(sys.executable).parent / "openapi-python-client"
    done = subprocess.run([str(generator), "generate", "--path", "openapi.json", "--config",
                           "config.json", "--meta", "none", "--output-path", "loyalty_client"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Warning" not in done.stdout, done.stdout  # every operation and schema generated
    sys.path.insert(0, str(tmp_path))
    try:
        _round_trip(app, make_shop(client, db_session))
    finally:
        sys.path.remove(str(tmp_path))
        for name in [name for name in sys.modules if name.startswith("loyalty_client")]:
            del sys.modules[name]


def _round_trip(app, shop) -> None:
    from loyalty_client import AuthenticatedClient
    from loyalty_client.api.programs import programs_create, programs_get, programs_list_programs
    from loyalty_client.models import Error, Program, ProgramCreate

    api = AuthenticatedClient(base_url="http://localhost", token=shop.key,
                              httpx_args={"transport": httpx.WSGITransport(app=app)})
    created = programs_create.sync(client=api, body=ProgramCreate(
        code="gold", name="Gold", multiplier="2", unit_amount="100.00"))
    assert isinstance(created, Program)
    assert (created.code, created.multiplier, created.unit_amount) == ("gold", "2", "100.00")
    page = programs_list_programs.sync(client=api, limit=10)
    assert [program.code for program in page.items] == ["loyalty", "gold"]
    assert page.next_cursor is None
    missing = programs_get.sync_detailed(client=api, code="nope")
    assert missing.status_code == 404 and isinstance(missing.parsed, Error)
    assert missing.parsed.error.code == "not_found"
