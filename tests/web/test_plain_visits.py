"""Every page of the web UI, visited plainly (no query string), shows no error.

The pages are not listed by hand: the web blueprint's GET routes are read from the app's URL
map, so a page added later is visited too. A route with an argument this test has no seeded
object for fails with a message saying which argument to add to SEEDED.
"""

import re

import sqlalchemy as sa

from tests.web.conftest import sign_up, text

# What a merchant would read as "something is wrong" on a page they merely opened.
ERROR_WORDS = re.compile(r"not a valid|\berrors?\b|invalid|required|something went wrong",
                         re.IGNORECASE)
# Markup that marks a field or the page as wrong (empty live-preview lists aside).
ERROR_MARKUP = re.compile(
    r'aria-invalid="true"|class="[^"]*\bfield-error\b[^"]*"[^>]*>\s*[^<\s]'
    r'|class="field[^"]*\binvalid\b|class="alert error"')
PUBLIC = ("/login", "/signup", "/forgot-password", "/reset-password")


def _seeded(db_session, shop) -> dict[str, object]:
    endpoint = shop.api("POST", "/webhook-endpoints", json={
        "url": "http://127.0.0.1:9/hook", "events": ["payment.credited"]})
    assert endpoint.status_code == 201, endpoint.get_json()
    db_session.execute(sa.text(  # a rule test, planned (the plan gate needs past payments)
        "INSERT INTO experiments (merchant_id, name, program_id, variants, split, metric_days, "
        "minimum_detectable_effect, method, status, salt, plan, created_at, updated_at) "
        "SELECT merchant_id, '1.5x points', id, "
        "'[{\"key\": \"A\", \"rule\": {}}, {\"key\": \"B\", \"rule\": {\"multiplier\": \"1.5\"}}]', "
        "'[50, 50]', 30, 0.05, 'fixed', 'draft', 'salt', "
        "'{\"sample_size_per_arm\": 1000, \"estimated_weeks\": 6}', now(), now() "
        "FROM loyalty_programs ORDER BY id DESC LIMIT 1"))
    row = db_session.execute(sa.text(
        "SELECT (SELECT max(id) FROM mpesa_channels) AS channel_id, "
        "(SELECT max(id) FROM experiments) AS experiment_id, "
        "(SELECT max(id) FROM customers) AS customer_id, "
        "(SELECT max(id) FROM payments) AS payment_id, "
        "(SELECT max(id) FROM webhook_endpoints) AS endpoint_id")).one()
    return {**row._asdict(), "code": "vip", "template_key": "electronics-vip"}


def _plain_urls(app, seeded: dict[str, object]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "web" or "GET" not in rule.methods \
                or rule.endpoint == "web.static":
            continue
        missing = set(rule.arguments) - set(seeded)
        assert not missing, f"{rule.rule}: add a seeded object for {missing} to _seeded()"
        urls.append(rule.build({name: seeded[name] for name in rule.arguments})[1])
    return sorted(urls)


def _problems(response) -> list[str]:
    if response.status_code != 200:
        return [f"status {response.status_code}: {text(response)[:300]}"]
    if response.mimetype != "text/html":
        return []
    html = response.get_data(as_text=True)
    found = [f"markup {m.group(0)!r}" for m in ERROR_MARKUP.finditer(html)]
    found += [f"words {m.group(0)!r} in …{text(response)[max(m.start() - 60, 0):m.end() + 60]}…"
              for m in ERROR_WORDS.finditer(text(response))]
    return found


def test_every_page_opens_without_error_text_for_a_merchant_with_data(app, client, db_session,
                                                                      shop):
    urls = _plain_urls(app, _seeded(db_session, shop))
    assert "/transactions" in urls and "/channels/{}".format(shop.channel["id"]) in urls
    problems = {}
    for url in urls:
        response = client.get(url, follow_redirects=True)
        if found := _problems(response):
            problems[url] = found
    assert not problems, problems


def test_every_page_opens_without_error_text_for_a_new_merchant(app, client, db_session):
    sign_up(client)
    seeded = {"channel_id": 1, "customer_id": 1, "payment_id": 1, "endpoint_id": 1,
              "experiment_id": 1, "code": "loyalty", "template_key": "cafe-stamps"}
    problems = {}
    for url in _plain_urls(app, seeded):
        if re.search(r"/\d+(/|$)", url):
            continue  # a new merchant has no channel, customer or payment to open
        response = client.get(url, follow_redirects=True)
        if found := _problems(response):
            problems[url] = found
    assert not problems, problems


def test_public_pages_open_without_error_text_for_a_visitor(client):
    problems = {url: found for url in ("/", *PUBLIC)
                if (found := _problems(client.get(url, follow_redirects=True)))}
    assert not problems, problems
