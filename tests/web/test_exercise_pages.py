"""The exercise page without JavaScript: the form, uploads, the submission page, who sees what."""

import io
import re
import time

import pytest
import sqlalchemy as sa

from server.config import PROJECT_ROOT
from server.extensions import db
from server.grading.exercise import load_exercise
from server.models import Assignment, ScorePolicy, Submission
from tests.conftest import make_app

from .support import STUDENT, STUDENT2, PageClient, csrf_token_in

EXERCISE_DIR = PROJECT_ROOT / "exercises" / "l2-regularization"
URL = "/courses/demo/assignments/l2-regularization"
JSON_URL = URL + "/submissions.json"
LIST_URL = URL + "/submissions"
REFERENCE = (EXERCISE_DIR / "reference.py").read_text()
FORGOT_TWO = REFERENCE.replace("2 * lam * w", "lam * w")
SYNTAX_ERROR = "import numpy as np\n\n\ndef l2_penalty(w, lam)\n    return 0\n"
SUBMISSION_PAGE = re.compile(r"/courses/demo/submissions/(\d+)$")


def post_code(client, code: str = REFERENCE, **extra):
    """Post the plain form (no JavaScript) with a valid CSRF token."""
    data = {"code": code, "csrf_token": client.csrf_token(URL), **extra}
    return client.post(URL, data=data, content_type="multipart/form-data")


def submission_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return int(SUBMISSION_PAGE.search(response.headers["Location"])[1])


def wait_graded(client, number: int, timeout: float = 30) -> dict:
    """Poll the page's JSON until the submission is graded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get(f"/courses/demo/submissions/{number}.json").json
        if view["status"] in ("graded", "error"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"submission {number} was not graded in {timeout} s")


def test_page_shows_prompt_math_facts_and_starter(student):
    page = student.get(URL).get_data(as_text=True)
    assert '<span class="math math-display">' in page  # typeset by the vendored KaTeX
    assert "Submissions left" in page and "<dt>Due</dt>" in page
    assert "<h2>L2 regularization and weight decay</h2>" not in page  # the title is the h1
    assert 'enctype="multipart/form-data"' in page and 'name="csrf_token"' in page
    starter = (EXERCISE_DIR / "starter.py").read_text()
    textarea = re.search(r'<textarea id="code" name="code"[^>]*>(.*?)</textarea>', page, re.S)
    assert textarea[1].replace("&#34;", '"').replace("&#39;", "'") == starter
    assert 'type="file" id="upload" name="upload"' in page
    assert "/static/vendor/codemirror/codemirror.js" in page
    assert not re.search(r'(src|href)="(https?:)?//', page), "no asset from another site"


def test_prompt_markdown_escapes_html():
    from server.web.markdown import render_prompt

    html = render_prompt("<script>alert(1)</script> $a<b$ **bold**")
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<span class="math math-inline">a&lt;b</span>' in html and "<strong>" in html


def test_vendored_assets_are_served_with_their_licences(client):
    for path in (
        "vendor/katex/katex.min.js",
        "vendor/katex/LICENSE",
        "vendor/codemirror/LICENSE",
        "vendor/chartjs/chart.umd.min.js",
        "vendor/chartjs/LICENSE.md",
        "exercise.js",
        "math.js",
    ):
        response = client.get(f"/static/{path}")
        assert response.status_code == 200, path
        response.close()


def test_form_post_redirects_to_a_page_that_refreshes_until_graded(student):
    number = submission_id(post_code(student))
    assert db.session.get(Submission, number).code == REFERENCE
    first = student.get(f"/courses/demo/submissions/{number}").get_data(as_text=True)
    if "graded" not in first:  # still waiting: the page reloads itself
        assert '<meta http-equiv="refresh"' in first
    wait_graded(student, number)
    page = student.get(f"/courses/demo/submissions/{number}").get_data(as_text=True)
    assert "Score: <strong>10 / 10</strong>" in page
    assert 'http-equiv="refresh"' not in page
    assert "Weight decay demo" in page and "def l2_penalty" in page


def test_upload_replaces_the_text_box(student):
    token = student.csrf_token(URL)
    data = {
        "code": "ignored",
        "csrf_token": token,
        "upload": (io.BytesIO(b"\xef\xbb\xbf" + REFERENCE.encode()), "solution.py"),
    }
    number = submission_id(student.post(URL, data=data, content_type="multipart/form-data"))
    assert db.session.get(Submission, number).code == REFERENCE  # BOM dropped


def test_upload_that_is_not_text_is_refused(student):
    data = {"csrf_token": student.csrf_token(URL), "upload": (io.BytesIO(b"\xff\xfe\x00"), "a.py")}
    response = student.post(URL, data=data, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "not UTF-8 text" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


@pytest.mark.parametrize("as_file", [False, True])
def test_code_too_large_gets_the_413_page_and_stores_nothing(student, app, as_file):
    big = "# x\n" * (app.config["RUBRIC_MAX_CODE_BYTES"] // 4 + 1)
    extra = {"upload": (io.BytesIO(big.encode()), "big.py")} if as_file else {}
    response = post_code(student, "" if as_file else big, **extra)
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Your code was not submitted" in page and "bytes" in page
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


def test_empty_code_is_refused(student):
    response = post_code(student, "   \n")
    assert response.status_code == 422
    assert "no code to submit" in response.get_data(as_text=True)


def test_posts_without_csrf_token_are_refused(student):
    response = student.post(URL, data={"code": REFERENCE})
    assert response.status_code == 400 and "Form expired" in response.get_data(as_text=True)
    response = student.post(JSON_URL, data={"code": REFERENCE})
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


def test_json_endpoint_grades_and_renders_the_result(student):
    token = csrf_token_in(student.get(URL).get_data(as_text=True))
    response = student.post(JSON_URL, data={"code": FORGOT_TWO, "csrf_token": token})
    assert response.status_code == 202
    assert response.json["status"] in ("queued", "running", "graded")
    view = wait_graded(student, response.json["id"])
    assert view["status"] == "graded" and view["score"] < 10
    assert "factor 2" in view["html"]  # the known mistake's hint
    assert "Submission 1 graded" in view["status_text"] and view["error_location"] is None
    assert "Restore submission 1" in view["history_html"]
    assert len(view["result"]["demo"]["student"]) == len(view["result"]["demo"]["lams"])


def test_hidden_tests_never_show_inputs_or_expected_values(student, instructor):
    number = submission_id(post_code(student, FORGOT_TWO))
    view = wait_graded(student, number)
    exercise = load_exercise(EXERCISE_DIR)
    hidden = [t for t in exercise.tests if not t.visible]
    visible = [t for t in exercise.tests if t.visible]
    page = student.get(f"/courses/demo/submissions/{number}").get_data(as_text=True)
    for html in (page, view["html"]):
        assert html.count("<dt>Expected</dt>") == len(visible)
        grouped = sum(int(n) for n in re.findall(r">(\d+) hidden tests<", html))
        assert html.count(">hidden</span>") + grouped == len(hidden)
    for part in view["result"]["parts"]:
        for test in part["tests"]:
            assert test["visible"] or "expected" not in test["feedback"]
    # The instructor sees every test's call and expected value.
    teacher = instructor.get(f"/courses/demo/submissions/{number}").get_data(as_text=True)
    assert teacher.count("<dt>Expected</dt>") == len(exercise.tests)


def test_syntax_error_points_at_its_line(student):
    number = submission_id(post_code(student, SYNTAX_ERROR))
    view = wait_graded(student, number)
    assert view["error_location"] == {"line": 4, "column": 23}
    assert "Line 4, column 23" in view["html"]


def test_restore_puts_an_earlier_submission_in_the_editor(student):
    number = submission_id(post_code(student, REFERENCE + "\n# first try\n"))
    page = student.get(f"{URL}?restore={number}").get_data(as_text=True)
    assert "# first try" in page
    assert student.get(f"{URL}?restore=999999").status_code == 404
    assert student.get(f"{URL}?restore=abc").status_code == 404


def test_history_marks_the_submission_that_counts(student, demo):
    first = submission_id(post_code(student))
    wait_graded(student, first)
    second = submission_id(post_code(student, FORGOT_TWO))
    wait_graded(student, second)
    history = student.get(URL).get_data(as_text=True)
    assert "Submission 1 counts in the gradebook (your best score)" in history
    assignment = db.session.scalar(
        sa.select(Assignment).where(Assignment.slug == "l2-regularization")
    )
    assignment.score_policy = ScorePolicy.LAST
    db.session.commit()
    assert "Submission 2 counts in the gradebook (your last score)" in student.get(URL).get_data(
        as_text=True
    )


def test_other_students_and_strangers_get_404_and_students_403(student, new_client):
    number = submission_id(post_code(student))
    other = new_client(STUDENT2)
    assert other.get(f"/courses/demo/submissions/{number}").status_code == 404
    assert other.get(f"/courses/demo/submissions/{number}.json").status_code == 404
    assert other.get(f"{URL}?restore={number}").status_code == 404
    assert student.get("/courses/demo/submissions/999999").status_code == 404
    assert student.get(f"/courses/nope/submissions/{number}").status_code == 404
    assert student.get(LIST_URL).status_code == 403
    assert (
        student.get("/courses/demo/assignments/l2-regularization-quiz/submissions").status_code
        == 404
    )
    anonymous = new_client()
    assert anonymous.get(f"/courses/demo/submissions/{number}").status_code == 302


def test_instructor_lists_and_filters_every_submission(student, new_client, instructor):
    mine = submission_id(post_code(student))
    other = new_client(STUDENT2)
    theirs = submission_id(post_code(other, FORGOT_TWO))
    wait_graded(student, mine)
    wait_graded(other, theirs)
    page = instructor.get(LIST_URL).get_data(as_text=True)
    assert "Showing 2 of 2 submissions" in page
    only = instructor.get(LIST_URL + "?student=student2%40example.edu").get_data(as_text=True)
    assert "Showing 1 of 2" in only and "student2@example.edu" in only
    full = instructor.get(LIST_URL + "?outcome=full").get_data(as_text=True)
    assert "Showing 1 of 2" in full and f"/courses/demo/submissions/{mine}" in full
    partial = instructor.get(LIST_URL + "?outcome=partial").get_data(as_text=True)
    assert f"/courses/demo/submissions/{theirs}" in partial
    code_page = instructor.get(f"/courses/demo/submissions/{theirs}").get_data(as_text=True)
    assert "Student: " in code_page and "def l2_gradient" in code_page


def test_rate_limit_counts_code_submissions_once_and_never_quizzes(app, demo):
    limited = make_app(app.config["SQLALCHEMY_DATABASE_URI"], RUBRIC_SUBMISSION_RATE="2/minute")
    limited.test_client_class = PageClient
    client = limited.test_client(use_cookies=True)
    assert client.login(*STUDENT).status_code == 302
    try:
        assert post_code(client).status_code == 303
        data = {"code": REFERENCE, "csrf_token": client.csrf_token(URL)}
        assert client.post(JSON_URL, data=data).status_code == 202
        refused = post_code(client)
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        for _ in range(3):  # quiz attempts and pages are not code submissions
            assert client.get(URL).status_code == 200
            assert client.submit({"q1": "b"}).status_code in (303, 422)
    finally:
        if queue := limited.extensions.get("rubric_queue"):
            queue.close()
        with limited.app_context():  # close its pooled connections, not leave them to GC
            db.engine.dispose()
