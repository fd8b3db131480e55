"""Programs: create, edit, template errors next to the field, and the SMS preview."""

from tests.web.conftest import sign_up, text
from tests.web.test_setup_templates import _key


def test_create_a_vip_program_and_see_it_listed(client):
    sign_up(client)
    response = client.post("/programs/new", data={
        "code": "vip", "name": "VIP", "points_per_unit": "1", "unit_amount": "100",
        "multiplier": "2", "min_amount": "0"})
    assert response.status_code == 302
    page = text(client.get("/programs"))
    assert "VIP vip" in page and "2 points for every KES 100 (double points)" in page


def test_the_preview_uses_real_numbers_and_counts_segments(client):
    sign_up(client)
    preview = client.get("/programs/preview.json", query_string={
        "name": "VIP", "multiplier": "2", "points_per_unit": "1", "unit_amount": "100"}).get_json()
    assert preview["text"] == "Hi John! You earned 100 VIP points. Total: 2,847 points."
    assert (preview["segments"], preview["encoding"], preview["points"]) == (1, "GSM-7", 100)
    long = client.get("/programs/preview.json", query_string={
        "name": "VIP", "sms_template": "Hi {first_name}! " + "Thank you for shopping. " * 7
        + "Balance {balance}."}).get_json()
    assert long["segments"] == 2 and long["characters"] > 160
    emoji = client.get("/programs/preview.json", query_string={
        "name": "VIP", "sms_template": "Asante {first_name} 🎉 {points} points"}).get_json()
    assert emoji["encoding"] == "UCS-2"


def test_the_preview_warns_about_promotions_and_lists_template_problems(client):
    sign_up(client)
    promo = client.get("/programs/preview.json", query_string={
        "sms_template": "Hi {first_name}! Special offer: 20% off today!"}).get_json()
    assert promo["warnings"] and "transactional" in promo["warnings"][0]
    broken = client.get("/programs/preview.json", query_string={
        "sms_template": "Hi {customer.__class__}"}).get_json()
    assert broken["text"] == "" and any("attribute access" in p for p in broken["problems"])


def test_a_bad_template_is_refused_next_to_the_field(client):
    sign_up(client)
    response = client.post("/programs/new", data={
        "code": "vip", "name": "VIP", "sms_template": "Hi {frist_name}!"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="sms_template-error"' in html
    assert "did you mean {first_name}?" in text(response)


def test_edit_a_program_and_clear_its_template(client):
    sign_up(client)
    client.post("/programs/new", data={"code": "vip", "name": "VIP", "multiplier": "2",
                                       "sms_template": "Hi {first_name}: {points} points"})
    page = text(client.get("/programs/vip/edit"))
    assert "Hi John: 100 points" in page and "Code: vip" in page
    response = client.post("/programs/vip/edit", data={
        "name": "VIP Gold", "points_per_unit": "1", "unit_amount": "100", "multiplier": "3",
        "min_amount": "0", "sms_template": ""})
    assert response.status_code == 302
    assert "Hi John! You earned 150 VIP Gold points." in text(client.get("/programs/vip/edit"))


def test_duplicate_code_is_a_form_error(client):
    sign_up(client)
    response = client.post("/programs/new", data={"code": "loyalty", "name": "Again"})
    assert response.status_code == 422
    assert "already exists" in text(response)


def test_a_program_reads_as_one_sentence(client):
    sign_up(client)
    client.post("/programs/new", data={
        "code": "gold", "name": "Gold", "points_per_unit": "3", "unit_amount": "200",
        "multiplier": "1.5", "min_amount": "50"})
    page = text(client.get("/programs"))
    assert "1 point for every KES 100" in page  # the default program
    assert "4.5 points for every KES 200 (3 × 1.5), on payments of KES 50 or more" in page
    assert "In words: 4.5 points for every KES 200" in text(client.get("/programs/gold/edit"))
    rule = client.get("/programs/preview.json", query_string={
        "points_per_unit": "2", "unit_amount": "100"}).get_json()["rule"]
    assert rule == "2 points for every KES 100"


def test_the_preview_says_what_a_longer_or_unicode_text_costs_and_why(client):
    sign_up(client)
    plain = client.get("/programs/preview.json", query_string={"name": "VIP"}).get_json()
    assert plain["cost"] == ""
    emoji = client.get("/programs/preview.json", query_string={
        "name": "VIP", "sms_template": "Asante {first_name} 🎉 {points} points. "
        + "Karibu tena dukani kwetu kesho. " * 2}).get_json()
    assert "“🎉” (party popper) is not in the plain SMS alphabet" in emoji["cost"]
    assert "70 characters a text instead of 160" in emoji["cost"]
    assert "sent as 2 texts: about KES 1.60 per customer instead of KES 0.80" in emoji["cost"]
    apostrophe = client.get("/programs/preview.json", query_string={
        "name": "VIP", "sms_template": "You’ve {points} points"}).get_json()
    assert "“’” (right single quotation mark)" in apostrophe["cost"]
    assert "still fits one text" in apostrophe["cost"]
    long = client.get("/programs/preview.json", query_string={
        "name": "VIP", "sms_template": "Hi {first_name}! " + "Thank you for shopping. " * 7
        + "Balance {balance}."}).get_json()
    assert long["cost"] == "It is sent as 2 texts: about KES 1.60 per customer instead of KES 0.80."
    assert client.post("/programs/new", data={
        "code": "party", "name": "Party", "points_per_unit": "1", "unit_amount": "100",
        "multiplier": "1", "min_amount": "0",
        "sms_template": "Hi {first_name} 🎉 {points} points"}).status_code == 302
    assert "“🎉” (party popper)" in text(client.get("/programs/party/edit"))


def test_the_preview_is_in_the_merchants_text_language_and_in_both_with_a_swahili_text(client):
    sign_up(client)
    english = client.get("/programs/preview.json", query_string={"name": "VIP"}).get_json()
    assert [(t["label"], t["text"]) for t in english["texts"]] == [
        ("English", "Hi John! You earned 50 VIP points. Total: 2,797 points.")]
    # Customers who chose no language get the merchant's default: the preview follows it.
    assert client.post("/settings", data={
        "business_name": "Acme Electronics", "owner_name": "John Doe", "phone": "0712345678",
        "sms_language": "sw"}).status_code == 302
    swahili = client.get("/programs/preview.json", query_string={
        "name": "VIP", "multiplier": "2"}).get_json()
    assert [(t["label"], t["text"]) for t in swahili["texts"]] == [
        ("Kiswahili", "Habari John! Umepata pointi 100 za VIP. Jumla: pointi 2,847.")]
    assert swahili["text"] == swahili["texts"][0]["text"] and swahili["segments"] == 1
    assert "Kiswahili Habari John! Umepata pointi 50 za Loyalty." in text(
        client.get("/programs/loyalty/edit"))
    # A template gives vip a Swahili receipt: its page shows both, the default's first,
    # each with its own count and cost.
    page = client.get("/setup/templates/electronics-vip")
    client.post("/setup/templates/electronics-vip", data={
        "p_vip_multiplier": "2", "p_delivery_orders": "5", "p_delivery_reward": "free delivery",
        "channel_id": "", "idempotency_key": _key(page), "apply": "y"})
    edit = text(client.get("/programs/vip/edit"))
    assert "Kiswahili Habari John! Umepata pointi 100 za VIP. Jumla: pointi 2,847. 1 SMS ( " \
        "60 characters, GSM-7 ) English Hi John! You earned 100 VIP points. Total: 2,847 " \
        "points. 1 SMS ( 56 characters" in edit
    typed = client.get("/programs/vip/preview.json", query_string={
        "name": "VIP", "multiplier": "2",
        "sms_template": "Asante {first_name} 🎉 {points} points"}).get_json()
    assert [t["language"] for t in typed["texts"]] == ["sw", "en"]
    assert typed["texts"][0]["encoding"] == "GSM-7" and typed["texts"][0]["cost"] == ""
    assert typed["texts"][1]["text"] == "Asante John 🎉 100 points"
    assert typed["texts"][1]["encoding"] == "UCS-2" and "party popper" in typed["texts"][1]["cost"]
    client.post("/settings", data={
        "business_name": "Acme Electronics", "owner_name": "John Doe", "phone": "0712345678",
        "sms_language": "en"})
    again = client.get("/programs/vip/preview.json", query_string={"name": "VIP"}).get_json()
    assert [t["label"] for t in again["texts"]] == ["English", "Kiswahili"]
