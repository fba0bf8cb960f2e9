"""Notebook exercises on the pages: download the release, upload notebooks, read the result."""

from __future__ import annotations

import io
import json
import time
import zipfile
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from server.extensions import db
from server.models import Assignment, Submission, SubmissionStatus
from server.models.types import utcnow
from server.notebooks.submission import MAX_UPLOAD_BYTES
from tests.notebooks.web_support import STUDENTS, SUBMITTED, cell_scores, cli_scores, handed_in
from tests.web.support import PageClient, csrf_token_in

PAGE = "/courses/demo/assignments/ps1"
UPLOAD = f"{PAGE}/notebooks"


@pytest.fixture
def login(app, demo):
    """A client logged in as the given e-mail (the demo's passwords)."""

    def make(email: str, password: str = "student") -> PageClient:
        client = PageClient(app, app.response_class, use_cookies=True)
        assert client.login(email, password).status_code == 302
        return client

    return make


def files_of(student: str) -> list[tuple[io.BytesIO, str]]:
    """The student's submitted .ipynb files as a form's file fields."""
    folder = SUBMITTED / student / "ps1"
    return [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(folder.glob("*.ipynb"))]


def zipped(student: str) -> tuple[io.BytesIO, str]:
    """The student's notebooks zipped in a folder, as a student zips theirs."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted((SUBMITTED / student / "ps1").glob("*.ipynb")):
            archive.writestr(f"ps1/{path.name}", path.read_bytes())
        archive.writestr("ps1/.ipynb_checkpoints/problem1-checkpoint.ipynb", "{}")
    buffer.seek(0)
    return buffer, "ps1.zip"


def upload(client: PageClient, files, token: str | None = None):
    token = csrf_token_in(client.get(PAGE).get_data(as_text=True)) if token is None else token
    data = {"csrf_token": token, "notebooks": files}
    return client.post(UPLOAD, data=data, content_type="multipart/form-data")


def graded_submission(submission_id: int) -> Submission:
    """Wait for the grading threads to grade a submission."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        db.session.expire_all()
        found = db.session.get(Submission, submission_id)
        if found.status == SubmissionStatus.GRADED:
            return found
        time.sleep(0.1)
    raise AssertionError(f"submission {submission_id} was not graded: {found.status}")


def submitted_id(response) -> int:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_the_page_offers_the_notebooks_and_an_upload_form(ps1, login):
    page = login(STUDENTS["hacker"]).get(PAGE).get_data(as_text=True)
    assert f'href="{PAGE}/release.zip"' in page
    for name in ("problem1.ipynb", "problem2.ipynb", "jupyter.png"):
        assert f'href="{PAGE}/release/{name}"' in page
    assert f'action="{UPLOAD}"' in page and 'name="notebooks" multiple' in page
    assert "correct_squares" in page and "by a person" in page


def test_the_release_downloads_are_the_student_version(ps1, login):
    client = login(STUDENTS["hacker"])
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{PAGE}/release.zip").data))
    assert sorted(archive.namelist()) == [
        "ps1/jupyter.png",
        "ps1/problem1.ipynb",
        "ps1/problem2.ipynb",
    ]
    one = client.get(f"{PAGE}/release/problem1.ipynb")
    assert one.status_code == 200 and one.data == (ps1 / "release" / "problem1.ipynb").read_bytes()
    assert "BEGIN SOLUTION" not in one.get_data(as_text=True)
    assert client.get(f"{PAGE}/release/../source/problem1.ipynb").status_code == 404
    assert client.get(f"{PAGE}/release/source/problem1.ipynb").status_code == 404


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_uploaded_files_are_graded_as_the_cli_grades_them(ps1, login, student):
    client = login(STUDENTS[student])
    graded = graded_submission(submitted_id(upload(client, files_of(student))))
    assert cell_scores(graded.result) == cli_scores(ps1, student)


def test_a_zip_of_the_notebooks_is_graded_the_same(ps1, login):
    client = login(STUDENTS["hacker"])
    graded = graded_submission(submitted_id(upload(client, [zipped("hacker")])))
    assert cell_scores(graded.result) == cli_scores(ps1, "hacker")


def test_the_result_page_shows_each_notebook_cell_and_graded_result(ps1, login):
    client = login(STUDENTS["hacker"])
    submission_id = submitted_id(upload(client, files_of("hacker")))
    graded_submission(submission_id)
    page = client.get(f"/courses/demo/submissions/{submission_id}").get_data(as_text=True)
    assert "problem1.ipynb" in page and "problem2.ipynb" in page
    assert 'data-grade-id="correct_squares"' in page and "1 / 1" in page
    assert "waits for a grader" in page  # the written answers
    # Markdown rendered, its math left for KaTeX, which the page loads.
    assert "<h3>Part A (2 points)</h3>" in page
    assert 'class="math' in page and "katex" in page
    assert "def squares(n):" in page  # the student's code, as text
    image = f'<img src="{PAGE}/release/jupyter.png"'  # ![](jupyter.png), from the release
    assert image in page and client.get(f"{PAGE}/release/jupyter.png").status_code == 200


def test_markdown_is_rendered_with_raw_html_escaped(ps1, login):
    notebooks = handed_in("hacker")
    cell = next(c for c in notebooks["problem1.ipynb"]["cells"] if c["cell_type"] == "markdown")
    cell["source"] = "**bold** <script>alert(1)</script> $x^2$"
    files = [(io.BytesIO(json.dumps(nb).encode()), name) for name, nb in notebooks.items()]
    client = login(STUDENTS["hacker"])
    submission_id = submitted_id(upload(client, files))
    graded_submission(submission_id)
    page = client.get(f"/courses/demo/submissions/{submission_id}").get_data(as_text=True)
    assert "<strong>bold</strong>" in page and "&lt;script&gt;alert(1)" in page
    assert "<script>alert(1)" not in page


def test_a_missing_notebook_is_accepted_with_a_warning(ps1, login):
    client = login(STUDENTS["hacker"])
    response = upload(client, files_of("hacker")[:1])
    submission_id = submitted_id(response)
    page = client.get(f"/courses/demo/submissions/{submission_id}").get_data(as_text=True)
    assert "not handed in: problem2.ipynb" in page
    graded = graded_submission(submission_id)
    assert cell_scores(graded.result)["problem2"] == dict.fromkeys(
        cell_scores(graded.result)["problem2"], 0.0
    )


@pytest.mark.parametrize(
    ("name", "content", "status", "words"),
    [
        ("problem1.ipynb", b"{not json", 422, "is not JSON"),
        ("problem1.ipynb", b'{"nbformat": 3, "worksheets": []}', 422, "--nbformat 4"),
        ("notes.ipynb", b"{}", 422, "not a notebook of this assignment"),
        ("ps1.zip", b"PK but not a zip", 422, "not a readable zip"),
    ],
)
def test_bad_uploads_are_refused_on_the_page(ps1, login, name, content, status, words):
    response = upload(login(STUDENTS["hacker"]), [(io.BytesIO(content), name)])
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert "Your notebooks were not submitted" in page and words in page
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


def test_a_notebook_twice_in_a_zip_or_none_at_all_is_refused(ps1, login):
    client = login(STUDENTS["hacker"])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        notebook = (SUBMITTED / "hacker" / "ps1" / "problem1.ipynb").read_bytes()
        archive.writestr("ps1/problem1.ipynb", notebook)
        archive.writestr("old/problem1.ipynb", notebook)
    buffer.seek(0)
    twice = upload(client, [(buffer, "ps1.zip")])
    assert twice.status_code == 422 and "problem1.ipynb was handed in twice" in twice.get_data(
        as_text=True
    )
    none = upload(client, [])
    assert none.status_code == 422 and "no notebook was handed in" in none.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


def test_an_upload_over_20_mb_is_413_with_a_message(ps1, login):
    client = login(STUDENTS["hacker"])
    token = csrf_token_in(client.get(PAGE).get_data(as_text=True))
    big = FileStorage(io.BytesIO(b" " * (MAX_UPLOAD_BYTES + 1)), "problem1.ipynb")
    # Encoded here as bytes: the test client would spool 20 MB into a file left open.
    boundary, body = encode_multipart(MultiDict([("csrf_token", token), ("notebooks", big)]))
    response = client.post(
        UPLOAD, data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 413
    assert "Clear Outputs" in response.get_data(as_text=True)


def test_an_upload_without_the_csrf_token_is_refused(ps1, login):
    response = upload(login(STUDENTS["hacker"]), files_of("hacker"), token="")
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


def test_another_student_sees_neither_the_result_nor_another_courses_release(ps1, login):
    submission_id = submitted_id(upload(login(STUDENTS["hacker"]), files_of("hacker")))
    other = login(STUDENTS["bitdiddle"])
    assert other.get(f"/courses/demo/submissions/{submission_id}").status_code == 404
    assert other.get("/courses/elsewhere/assignments/ps1/release.zip").status_code == 404


@pytest.mark.parametrize("path", ["", "/submissions.json", "/check.json", "/draft.json"])
def test_code_posted_to_a_notebook_exercise_is_refused(ps1, login, path):
    client = login(STUDENTS["hacker"])
    token = csrf_token_in(client.get(PAGE).get_data(as_text=True))
    response = client.post(PAGE + path, data={"csrf_token": token, "code": "print(1)"})
    assert response.status_code == 409
    assert "takes notebooks (.ipynb), not code" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


def test_the_instructor_pages_list_a_notebook_submission(ps1, login):
    submission_id = submitted_id(upload(login(STUDENTS["hacker"]), files_of("hacker")))
    graded = graded_submission(submission_id)
    instructor = login("instructor@example.edu", "instructor")
    listing = instructor.get(f"{PAGE}/submissions")
    assert listing.status_code == 200 and f"/courses/demo/submissions/{submission_id}" in (
        listing.get_data(as_text=True)
    )
    page = instructor.get(f"/courses/demo/submissions/{submission_id}").get_data(as_text=True)
    assert "Student: " in page and f"{graded.score:g} / 13" in page
    assert instructor.get("/courses/demo/gradebook").status_code == 200


def test_before_it_opens_only_staff_get_the_release(ps1, login, token_for):
    assignment = db.session.scalar(sa.select(Assignment).where(Assignment.slug == "ps1"))
    assignment.opens_at = utcnow() + timedelta(days=2)
    db.session.commit()
    student = login(STUDENTS["hacker"])
    assert "can be downloaded once the assignment opens" in student.get(PAGE).get_data(as_text=True)
    assert student.get(f"{PAGE}/release.zip").status_code == 404
    assert student.get(f"{PAGE}/release/problem1.ipynb").status_code == 404
    api = f"/api/v1{PAGE}/release.zip"
    refused = student.get(api, headers=token_for(STUDENTS["hacker"]))
    assert refused.status_code == 409 and refused.json["error"]["code"] == "not_open"
    instructor = login("instructor@example.edu", "instructor")
    assert instructor.get(f"{PAGE}/release.zip").status_code == 200
    assert student.get(api, headers=token_for("instructor@example.edu")).status_code == 200


def test_the_page_shows_the_students_own_due_date_and_attempt_limit_holds(ps1, login):
    assignment = db.session.scalar(sa.select(Assignment).where(Assignment.slug == "ps1"))
    assignment.attempt_limit = 1
    db.session.commit()
    client = login(STUDENTS["hacker"])
    assert 'id="my-due"' in client.get(PAGE).get_data(as_text=True)
    submitted_id(upload(client, files_of("hacker")))
    refused = upload(client, files_of("hacker"))
    assert refused.status_code == 409
    assert "Your notebooks were not submitted" in refused.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 1


def test_the_instructor_sees_the_notebook_page_with_the_submissions_links(ps1, login):
    page = login("instructor@example.edu", "instructor").get(PAGE)
    assert page.status_code == 200
    assert f'href="{PAGE}/submissions"' in page.get_data(as_text=True)
