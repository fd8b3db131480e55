"""Reconciliation with Pull Transactions: registration, runs, what a run recovers and what
it leaves alone, with Daraja mocked at the HTTP edge."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import responses
import sqlalchemy as sa

from loyalty.services import crediting, reconciliation
from loyalty.services.reconciliation import runs
from loyalty.tenancy import all_merchants, tenant_context
from loyalty.unit_of_work import unit_of_work
from tests.integration.conftest import EAT, JOHN, c2b_body, make_shop

DARAJA = "https://sandbox.daraja.test"
OAUTH = f"{DARAJA}/oauth/v1/generate"
REGISTER = f"{DARAJA}/pulltransactions/v1/register"
QUERY = f"{DARAJA}/pulltransactions/v1/query"


def row(trans_id, amount="500.00", kind="c2b-pay-bill-debit", when=None, **extra):
    moment = when or datetime.now(UTC) - timedelta(hours=1)
    return {"transactionId": trans_id, "trxDate": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "msisdn": int(JOHN), "sender": "JOHN", "transactiontype": kind,
            "billreference": "VIP001", "amount": amount, "organizationname": "Acme", **extra}


def page(*rows):
    if not rows:
        return {"ResponseRefID": "r-0", "ResponseCode": "1001", "ResponseMessage": "No records",
                "Response": [[]]}
    return {"ResponseRefID": "r-1", "ResponseCode": "1000", "ResponseMessage": "Success",
            "Response": [list(rows)]}


@pytest.fixture
def daraja():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, OAUTH, json={"access_token": "tok-pull", "expires_in": "3599"})
        yield mock


@pytest.fixture
def pulled(acme, db_session):
    """acme's channel, registered for Pull."""
    db_session.execute(sa.text("UPDATE mpesa_channels SET pull_state = 'done', "
                               "pull_nominated_number = '254722000111' WHERE id = :id"),
                       {"id": acme.channel["id"]})
    return acme


def serve(daraja, *pages):
    for body in pages:
        daraja.add(responses.POST, QUERY, json=body)


def start_and_run(shop, **window):
    with tenant_context(shop.merchant_id):
        run = reconciliation.start_reconciliation(shop.channel["id"], **window)
        reconciliation.reconcile(run.id)
        return reconciliation.get_run(run.id)


def counts(run):
    return {name: getattr(run, name) for name in (
        "rows_seen", "already_known", "recovered", "ignored", "skipped")}


# --- registration ------------------------------------------------------------------------


def test_pull_registration_is_queued_then_recorded(acme, daraja, db_session):
    answer = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/pull/register",
                      json={"nominated_number": "0722 000 111"})
    assert answer.status_code == 202
    assert answer.get_json()["pull"]["state"] == "pending"
    assert answer.get_json()["pull"]["nominated_number"] == "254722000111"
    daraja.add(responses.POST, REGISTER, json={"ResponseRefID": "x", "Response Status": "1001",
                                               "ResponseDescription": "Already registered"})
    with tenant_context(acme.merchant_id):
        reconciliation.register_pull(acme.channel["id"])
    sent = json.loads(daraja.calls[-1].request.body)
    assert sent["NominatedNumber"] == "254722000111" and sent["ShortCode"] == "174379"
    assert sent["CallBackURL"].endswith("/result/pull")
    pull = acme.api("GET", f"/mpesa-channels/{acme.channel['id']}").get_json()["pull"]
    assert pull["state"] == "registered" and pull["registered_at"] and pull["error"] is None


def test_a_refused_registration_says_why(acme, daraja, db_session):
    with tenant_context(acme.merchant_id), unit_of_work():
        reconciliation.request_pull_registration(acme.channel["id"], "254722000111")
    daraja.add(responses.POST, REGISTER, status=400, json={
        "requestId": "1", "errorCode": "400.001", "errorMessage": "Invalid ShortCode"})
    with tenant_context(acme.merchant_id):
        reconciliation.register_pull(acme.channel["id"])
    pull = acme.api("GET", f"/mpesa-channels/{acme.channel['id']}").get_json()["pull"]
    assert pull["state"] == "failed" and "Invalid ShortCode" in pull["error"]["message"]


@pytest.mark.parametrize("number", ["174379", "", "0201234567"])
def test_the_nominated_number_must_be_a_mobile_number(acme, number):
    answer = acme.api("POST", f"/mpesa-channels/{acme.channel['id']}/pull/register",
                      json={"nominated_number": number})
    assert answer.status_code == 422
    assert "nominated_number" in answer.get_json()["error"]["fields"]


def test_changing_the_shortcode_forgets_the_pull_registration(pulled, db_session):
    pulled.api("PATCH", f"/mpesa-channels/{pulled.channel['id']}", json={"shortcode": "600111"})
    pull = pulled.api("GET", f"/mpesa-channels/{pulled.channel['id']}").get_json()["pull"]
    assert pull["state"] == "not_registered"


# --- windows -----------------------------------------------------------------------------


def _reconcile(shop, body=None, query=""):
    return shop.api("POST", f"/mpesa-channels/{shop.channel['id']}/reconcile{query}",
                    json=body if body is not None else {})


@pytest.mark.parametrize("hours_back, hours_long, field", [
    (72, 72, "to"),       # a 72 h window
    (49, 48.5, "to"),     # over 48 h
    (-1, 0.5, "to"),      # in the future
    (60, 2, "from"),      # older than Safaricom keeps
    (2, -1, "from"),      # ends before it starts
])
def test_windows_pull_cannot_answer_are_422(pulled, hours_back, hours_long, field):
    now = datetime.now(UTC)
    since = now - timedelta(hours=hours_back)
    answer = _reconcile(pulled, {"from": since.isoformat(),
                                 "to": (since + timedelta(hours=hours_long)).isoformat()})
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]


def test_reconcile_needs_a_pull_registration(acme):
    answer = _reconcile(acme)
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "pull_not_registered"


def test_reconcile_defaults_to_the_last_24_hours_and_queues_a_run(pulled, db_session):
    answer = _reconcile(pulled)
    assert answer.status_code == 202
    run = answer.get_json()["run"]
    span = datetime.fromisoformat(run["window_to"]) - datetime.fromisoformat(run["window_from"])
    assert span == timedelta(hours=24)
    assert run["state"] == "running" and run["channel_id"] == pulled.channel["id"]
    again = _reconcile(pulled)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "reconciliation_running"


# --- runs --------------------------------------------------------------------------------


def test_a_run_recovers_the_missed_payment_and_leaves_the_known_one_alone(pulled, daraja,
                                                                         db_session):
    pulled.hook("c2b/confirmation", c2b_body(trans_id="KNOWN00001", amount="300.00"))
    serve(daraja, page(row("KNOWN00001", "300.00"), row("LOST000001", "5000.00"),
                       row("B2C0000001", kind="b2c-payment"),
                       row("NOAMOUNT01", amount=None)),
          page())
    run = start_and_run(pulled)
    assert run.state.value == "done" and run.error is None
    assert counts(run) == {"rows_seen": 4, "already_known": 1, "recovered": 1, "ignored": 1,
                           "skipped": 1}
    assert run.skipped_reasons == {"missing amount": 1}
    offsets = [json.loads(call.request.body)["OffSetValue"] for call in daraja.calls
               if call.request.url == QUERY]
    assert offsets == [0, 4]
    known = db_session.execute(sa.text(
        "SELECT source, first_name, amount FROM payments WHERE trans_id = 'KNOWN00001'")).one()
    assert (known.source, known.first_name, str(known.amount)) == ("c2b", "John", "300.00")
    assert crediting.credit_waiting() == 2
    lost = pulled.api("GET", "/transactions").get_json()["items"][0]
    assert (lost["trans_id"], lost["source"], lost["status"], lost["points"]) == (
        "LOST000001", "pull", "credited", 100)
    texts = db_session.execute(sa.text(
        "SELECT p.trans_id, s.recipient FROM sms_messages s JOIN payments p ON p.id = s.payment_id "
        "ORDER BY s.id")).all()
    assert [t.trans_id for t in texts] == ["KNOWN00001", "LOST000001"]
    assert texts[1].recipient == JOHN  # a plain number in the Pull row: texted at the phone
    channel = pulled.api("GET", f"/mpesa-channels/{pulled.channel['id']}").get_json()
    assert channel["pull"]["last_run_at"] is not None


def test_the_late_callback_for_a_recovered_receipt_is_a_duplicate(pulled, daraja, db_session):
    serve(daraja, page(row("LOST000002")), page())
    start_and_run(pulled)
    answer = pulled.hook("c2b/confirmation", c2b_body(trans_id="LOST000002", amount="500.00"))
    assert answer.status_code == 200 and answer.get_json()["ResultDesc"] == "Accepted"
    assert db_session.execute(sa.text("SELECT count(*), min(source) FROM payments")).one() == (
        1, "pull")


def test_a_page_sent_twice_stops_the_run_instead_of_looping(pulled, daraja, db_session):
    same = page(row("LOOP000001"), row("LOOP000002"))
    serve(daraja, same, same, same)
    run = start_and_run(pulled)
    assert run.state.value == "failed" and "same 2 rows again at offset 2" in run.error
    assert (run.rows_seen, run.recovered) == (2, 2)
    assert db_session.execute(sa.text("SELECT count(*) FROM payments")).scalar() == 2
    channel = pulled.api("GET", f"/mpesa-channels/{pulled.channel['id']}").get_json()
    assert "same 2 rows" in channel["pull"]["error"]["message"]


def test_pull_errors_end_the_run_failed_with_safaricoms_words(pulled, daraja, db_session,
                                                              monkeypatch):
    monkeypatch.setattr(runs, "PAGE_RETRIES", (0, 0))
    serve(daraja, page(row("ERR0000001")))
    for _ in range(3):
        daraja.add(responses.POST, QUERY, status=500, json={
            "requestId": "1", "errorCode": "500", "errorMessage": "Failed to retrieve transactions."})
    run = start_and_run(pulled)
    assert run.state.value == "failed"
    assert "offset 1" in run.error and "Failed to retrieve transactions" in run.error
    assert run.recovered == 1  # what was read before the error is kept


def test_a_page_that_fails_once_is_asked_for_again(pulled, daraja, monkeypatch):
    monkeypatch.setattr(runs, "PAGE_RETRIES", (0, 0))
    daraja.add(responses.POST, QUERY, status=503, body="<html><title>Busy</title></html>")
    serve(daraja, page(row("RETRY00001")), page())
    run = start_and_run(pulled)
    assert run.state.value == "done" and run.recovered == 1


def test_an_invalid_shortcode_fails_the_run_at_once(pulled, daraja):
    daraja.add(responses.POST, QUERY, status=400, json={
        "requestId": "1", "errorCode": "400.001", "errorMessage": "Invalid ShortCode"})
    run = start_and_run(pulled)
    assert run.state.value == "failed" and "Invalid ShortCode" in run.error
    assert len([c for c in daraja.calls if c.request.url == QUERY]) == 1


def test_a_refused_access_token_fails_the_run_naming_the_credentials(pulled, daraja, db_session):
    refused = {"requestId": "1", "errorCode": "401.001", "errorMessage": "Invalid Access Token"}
    for _ in range(2):  # the cached token, then a freshly issued one
        daraja.add(responses.POST, QUERY, status=401, json=refused)
    run = start_and_run(pulled)
    assert run.state.value == "failed"
    assert "offset 0" in run.error and "freshly issued access token" in run.error
    assert len([c for c in daraja.calls if c.request.url == QUERY]) == 2  # no retry loop
    assert db_session.execute(sa.text("SELECT count(*) FROM payments")).scalar() == 0
    channel = pulled.api("GET", f"/mpesa-channels/{pulled.channel['id']}").get_json()
    assert "freshly issued access token" in channel["pull"]["error"]["message"]


def test_z_times_that_are_really_nairobi_time_are_corrected(pulled, daraja, db_session):
    paid = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=5)
    pulled.hook("c2b/confirmation", c2b_body(
        trans_id="HELD000001", TransTime=paid.astimezone(EAT).strftime("%Y%m%d%H%M%S")))
    # Both rows' trxDate carry Nairobi wall-clock time with a "Z".
    serve(daraja, page(row("HELD000001", when=paid + timedelta(hours=3)),
                       row("LOST000003", when=paid + timedelta(hours=3, minutes=10))), page())
    start_and_run(pulled)
    lost = db_session.execute(sa.text(
        "SELECT trans_time FROM payments WHERE trans_id = 'LOST000003'")).scalar()
    assert lost == paid + timedelta(minutes=10)


def test_a_finished_run_delivered_again_does_nothing(pulled, daraja):
    serve(daraja, page(row("ONCE000001")), page())
    run = start_and_run(pulled)
    with tenant_context(pulled.merchant_id):
        reconciliation.reconcile(run.id)
    assert len([c for c in daraja.calls if c.request.url == QUERY]) == 2


# --- listing, beat, isolation ----------------------------------------------------------------


def test_runs_are_listed_newest_first_with_their_counts(pulled, daraja):
    serve(daraja, page(row("LIST000001")), page(), page())
    first = start_and_run(pulled)
    second = start_and_run(pulled)
    listed = pulled.api("GET", f"/reconciliation-runs?channel_id={pulled.channel['id']}&limit=1")
    body = listed.get_json()
    assert [r["id"] for r in body["items"]] == [second.id]
    assert body["next_cursor"] == second.id
    rest = pulled.api("GET", f"/reconciliation-runs?cursor={body['next_cursor']}").get_json()
    assert [(r["id"], r["recovered"], r["state"]) for r in rest["items"]] == [(first.id, 1, "done")]
    assert set(rest["items"][0]) >= {"id", "channel_id", "window_from", "window_to", "state",
                                     "rows_seen", "already_known", "recovered", "ignored",
                                     "error", "started_at", "finished_at"}


def test_the_list_counts_recovered_payments_and_runs_by_outcome(pulled, daraja):
    serve(daraja, page(row("TOTL000001"), row("TOTL000002")), page(),  # done: 2 recovered
          page(row("TOTL000002"), row("TOTL000003")), page(),          # done: 1 more
          {"requestId": "1", "errorCode": "400.001", "errorMessage": "Invalid ShortCode"})
    for _ in range(3):
        start_and_run(pulled)
    totals = pulled.api("GET", "/reconciliation-runs?limit=1").get_json()["totals"]
    # Over every run, not only the one on this page; the failed run recovered nothing.
    assert totals == {"runs": {"running": 0, "done": 2, "failed": 1}, "recovered": 3}
    filtered = pulled.api("GET", f"/reconciliation-runs?channel_id={pulled.channel['id']}")
    assert filtered.get_json()["totals"] == totals
    other = pulled.api("GET", f"/reconciliation-runs?channel_id={pulled.channel['id'] + 999}")
    assert other.get_json()["totals"] == {"runs": {"running": 0, "done": 0, "failed": 0},
                                          "recovered": 0}


def test_beat_queues_a_run_for_each_active_registered_channel(pulled, app, db_session):
    import tasks  # noqa: F401  (registers the tasks, as the worker does)

    # The task as this app's worker runs it (Celery's eager apply).
    reconcile_all = app.extensions["celery"].tasks["payments.reconcile_all"]
    assert reconcile_all.apply().get() == 1
    run = db_session.execute(sa.text(
        "SELECT channel_id, trigger, state, window_to - window_from AS span "
        "FROM reconciliation_runs")).one()
    assert (run.channel_id, run.trigger, run.state, run.span) == (
        pulled.channel["id"], "schedule", "running", timedelta(hours=24))
    assert reconcile_all.apply().get() == 0  # the first run is still running: no second one


def test_beat_leaves_out_channels_inactive_or_not_registered_for_pull(pulled, app, client,
                                                                     db_session):
    import tasks  # noqa: F401  (registers the tasks, as the worker does)

    taste, idle, fresh = (make_shop(client, db_session, business_name=name, shortcode=code)
                          for name, code in (("Taste", "600111"), ("Idle", "600222"),
                                             ("Fresh", "600333")))
    with all_merchants():
        # Taste registered for Pull, Idle registered but switched off, Fresh never registered.
        db_session.execute(sa.text("UPDATE mpesa_channels SET pull_state = 'done', "
                                   "pull_nominated_number = '254722000111' WHERE id IN (:a, :b)"),
                           {"a": taste.channel["id"], "b": idle.channel["id"]})
        db_session.execute(sa.text("UPDATE mpesa_channels SET is_active = false, "
                                   "status = 'verified' WHERE id = :id"),
                           {"id": idle.channel["id"]})
    reconcile_all = app.extensions["celery"].tasks["payments.reconcile_all"]
    assert reconcile_all.apply().get() == 2
    queued = db_session.execute(sa.text(
        "SELECT channel_id FROM reconciliation_runs ORDER BY channel_id")).scalars().all()
    assert queued == sorted([pulled.channel["id"], taste.channel["id"]])
    assert fresh.channel["id"] not in queued


def test_a_run_left_by_a_dead_worker_is_closed_when_the_next_one_starts(pulled, db_session):
    answer = _reconcile(pulled)
    assert answer.status_code == 202
    db_session.execute(sa.text("UPDATE reconciliation_runs SET started_at = now() - "
                               "interval '2 hours'"))
    again = _reconcile(pulled)
    assert again.status_code == 202
    runs = pulled.api("GET", "/reconciliation-runs").get_json()["items"]
    assert [r["state"] for r in runs] == ["running", "failed"]
    assert "Interrupted" in runs[1]["error"]


def test_another_merchant_sees_no_runs_and_cannot_reconcile(pulled, daraja, client):
    from tests.conftest import auth, register_merchant

    serve(daraja, page())
    run = start_and_run(pulled)
    _, other = register_merchant(client, business_name="Taste")
    theirs = client.get("/api/v1/reconciliation-runs", headers=auth(other)).get_json()
    assert theirs["items"] == [] and theirs["totals"]["runs"]["done"] == 0
    assert client.get(f"/api/v1/reconciliation-runs/{run.id}", headers=auth(other)).status_code == 404
    answer = client.post(f"/api/v1/mpesa-channels/{pulled.channel['id']}/reconcile",
                         headers=auth(other), json={})
    assert answer.status_code == 404
