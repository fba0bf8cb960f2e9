"""HTML error pages for the site, JSON errors kept for the API."""

import pytest


def test_unknown_page_is_an_html_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "<h1>Not Found" in response.get_data(as_text=True)


def test_unknown_api_path_stays_json(client):
    response = client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_oversized_form_is_an_html_413(client):
    response = client.post("/login", data={"email": "x" * (300 * 1024)})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_wrong_method_on_an_api_path_stays_json(client):
    response = client.get("/api/v1/courses/demo/assignments/x/attempts")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_server_error_page_needs_no_database(app, client):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def boom():
        raise RuntimeError("boom")

    app.add_url_rule("/boom", view_func=boom)
    app.add_url_rule("/api/v1/boom", endpoint="api_boom", view_func=boom)
    response = client.get("/boom")
    assert response.status_code == 500
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and "Log out" not in page
    assert client.get("/api/v1/boom").json["error"]["code"] == "internal_server_error"


BEYOND_64_BIT = "9223372036854775808"
EXERCISE = "/courses/demo/assignments/l2-regularization"


def html_error(response, status: int) -> str:
    """Check an HTML error page's status; return its text."""
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path",
    [
        f"/courses/demo/submissions/{BEYOND_64_BIT}",
        f"/courses/demo/attempts/{BEYOND_64_BIT}",
        f"{EXERCISE}?restore={BEYOND_64_BIT}",
        f"{EXERCISE}?restore=²",
        f"{EXERCISE}?restore=٣",
        f"{EXERCISE}?restore=-1",
    ],
)
def test_ids_no_row_can_have_are_an_html_404(student, path):
    assert "<h1>Not Found" in html_error(student.get(path), 404)


def test_an_id_beyond_64_bits_in_a_page_json_url_is_a_json_404(student):
    response = student.get(f"/courses/demo/submissions/{BEYOND_64_BIT}.json")
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_405_pages_name_the_allowed_methods(student):
    response = student.delete(EXERCISE)
    html_error(response, 405)
    assert {"GET", "POST"} <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert "POST" in student.put("/login").headers["Allow"]


def test_a_nul_in_a_page_url_is_an_html_400(student):
    response = student.get(f"{EXERCISE}/submissions?student=a%00b")
    assert "<h1>Bad Request" in html_error(response, 400)
    assert student.get("/courses/de%00mo").status_code == 400


def test_code_holding_a_nul_is_refused_on_the_form(student):
    data = {"code": "x = 1\x00", "csrf_token": student.csrf_token(EXERCISE)}
    response = student.post(EXERCISE, data=data, content_type="multipart/form-data")
    assert response.status_code == 422 and "NUL" in response.get_data(as_text=True)
