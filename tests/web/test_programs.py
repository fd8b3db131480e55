"""Programs: create, edit, template errors next to the field, and the SMS preview."""

from tests.web.conftest import sign_up, text


def test_create_a_vip_program_and_see_it_listed(client):
    sign_up(client)
    response = client.post("/programs/new", data={
        "code": "vip", "name": "VIP", "points_per_unit": "1", "unit_amount": "100",
        "multiplier": "2", "min_amount": "0"})
    assert response.status_code == 302
    page = text(client.get("/programs"))
    assert "VIP vip" in page and "1 point per KES 100 × 2" in page


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
