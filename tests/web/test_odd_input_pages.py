"""The web UI answers odd input with a page or a form error, never a 500 (the same guard,
converter and schema bounds as the API)."""

from tests.web.conftest import text


def test_ids_and_cursors_beyond_postgresql_integer(client, shop):
    assert client.get("/customers/99999999999").status_code == 404
    assert client.get(f"/channels/{'9' * 400}/edit").status_code == 404
    assert client.get("/transactions?cursor=99999999999").status_code == 200


def test_huge_numbers_in_forms_are_form_errors(client, shop):
    response = client.post("/programs/new", data={
        "code": "big", "name": "Big", "points_per_unit": "99999999999", "unit_amount": "100",
        "multiplier": "1", "min_amount": "1e400"})
    assert response.status_code == 422
    assert 'id="points_per_unit-error"' in response.get_data(as_text=True)
    dry_run = client.get(f"/channels/{shop.channel['id']}/mapping?account=VIP1&amount=1e400")
    assert dry_run.status_code == 200


def test_a_nul_character_is_a_422_page(client, db_session):
    response = client.post("/login", data={"email": "a\u0000@b.example", "password": "x"})
    assert response.status_code == 422 and "text/html" in response.content_type
    assert "email" in text(response)
