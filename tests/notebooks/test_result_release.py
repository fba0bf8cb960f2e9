"""What a notebook submission's pages, JSON and listings show: the graders' points in the
score (partly graded while cells wait), the submission that counts as the gradebook picks
it, and hidden tests and graders' comments held back until the feedback is released."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import nbformat
import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.content.sync import sync_exercises
from server.extensions import db
from server.models import Assignment, AssignmentKind, Submission
from server.notebooks import manual
from server.notebooks.attachments import attachment_uri
from server.notebooks.exercise import load_notebook_exercise
from server.notebooks.grade import grade_notebooks
from server.notebooks.importer import import_assignment
from server.notebooks.submission import check_notebooks
from server.scoring.gradebook import counted_entry
from server.submissions import service
from tests.notebooks.manual_support import (
    INSTRUCTOR,
    STUDENT,
    add_people,
    graded_submission,
    logged_in,
    make_ps1,
)
from tests.notebooks.support import answer, autotest, released, solution, write_assignment

HIDDEN = "assert half(10) == 5  # the hidden one"
TEST = f"assert half(2) == 1\n### BEGIN HIDDEN TESTS\n{HIDDEN}\n### END HIDDEN TESTS"
# Right on the visible test, wrong on the hidden one.
WRONG = "def half(x):\n    return 1 if x == 2 else 0"
# A 1x1 PNG, and an SVG that would run a script if it were shown.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJ"
    "RU5ErkJggg=="
)
SVG = base64.b64encode(b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')


def grade(email: str, *, points: float, comment: str, submission: Submission) -> None:
    """Give every waiting cell of the submission these points and comment, as the grader."""
    cells = manual.waiting_cells(submission.result)
    given = [manual.GradeInput(c.notebook, c.grade_id, points, comment) for c in cells]
    manual.save(submission, find_user(email), given)


@pytest.fixture
def hw(demo, tmp_path) -> Submission:
    """A notebook with a hidden test the student fails and a written answer, graded."""
    add_people(demo)
    cells = [
        solution(
            "half", "def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION"
        ),
        autotest("test_half", TEST, points=2),
        answer("explain", points=1),
    ]
    source = write_assignment(tmp_path / "source" / "hw", {"hw": cells})
    folder = import_assignment(source, tmp_path / "content" / "exercises")
    sync_exercises(tmp_path / "content")
    db.session.add(
        Assignment(
            course_id=demo.id,
            slug="hw",
            title="Homework",
            kind=AssignmentKind.EXERCISE,
            content_slug="hw",
        )
    )
    db.session.commit()
    exercise = load_notebook_exercise(folder)
    notebook = released(exercise, "hw")
    notebook.cells[0].source = WRONG
    notebook.cells[2].source = (
        "Because halving is dividing by two. ![plot](attachment:plot.png)"
        " ![evil](attachment:evil.svg)"
    )
    notebook.cells[2].attachments = {
        "plot.png": {"image/png": PNG},
        "evil.svg": {"image/svg+xml": SVG.decode()},
    }
    path = tmp_path / "hw.ipynb"
    path.write_text(nbformat.writes(notebook))
    assignment = db.session.scalar(sa.select(Assignment).filter_by(slug="hw"))
    stored = check_notebooks(exercise, {"hw.ipynb": path.read_bytes()}).stored()
    submission = service.submit(assignment, find_user(STUDENT[0]), stored)
    claim = service.claim(submission.id)
    assert service.record_result(claim, grade_notebooks(exercise, {"hw": path}).to_dict())
    db.session.expire_all()
    return db.session.get(Submission, submission.id)


def _release(setting: str) -> None:
    assignment = db.session.scalar(sa.select(Assignment).filter_by(slug="hw"))
    assignment.feedback_release = setting
    db.session.commit()


def test_before_release_the_result_page_hides_the_hidden_test_and_the_comment(app, hw):
    grade(INSTRUCTOR[0], points=1, comment="Nicely put.", submission=hw)
    _release("never")
    url = f"/courses/demo/submissions/{hw.id}"
    page = logged_in(app, STUDENT).get(url).get_data(as_text=True)
    # The hidden test's cell: its outcome and points, under the code path's words.
    assert 'data-grade-id="hidden test 1"' in page and "0 / 2" in page
    assert 'data-grade-id="test_half"' not in page and "AssertionError" not in page
    # The written answer: the grader's point counts, their comment waits.
    assert 'data-grade-id="explain"' in page and "Graded by a person" in page
    assert "Nicely put." not in page and "comment is shown once" in page
    assert "Score: <strong>1 / 3</strong>" in page
    # The page's JSON (its script polls it) holds nothing more.
    data = logged_in(app, STUDENT).get(f"{url}.json").get_data(as_text=True)
    assert "test_half" not in data and "AssertionError" not in data and "Nicely put." not in data
    # The course's staff see everything.
    staff = logged_in(app, INSTRUCTOR).get(url).get_data(as_text=True)
    assert 'data-grade-id="test_half"' in staff and "AssertionError" in staff
    assert "Nicely put." in staff


def test_once_released_the_student_sees_the_test_and_the_comment(app, hw):
    grade(INSTRUCTOR[0], points=0.5, comment="Say why.", submission=hw)
    _release("immediately")
    page = logged_in(app, STUDENT).get(f"/courses/demo/submissions/{hw.id}").get_data(as_text=True)
    assert 'data-grade-id="test_half"' in page and "AssertionError" in page
    assert "Say why." in page and "Score: <strong>0.5 / 3</strong>" in page


def test_the_api_withholds_the_hidden_test_and_counts_the_graders_points(client, token_for, hw):
    _release("never")
    headers = token_for(STUDENT[0])
    before = client.get(f"/api/v1/submissions/{hw.id}", headers=headers).json
    assert before["raw_score"] == 0 and before["partly_graded"] and before["waiting"] == 1
    grade(INSTRUCTOR[0], points=1, comment="Secret until released.", submission=hw)
    shown = client.get(f"/api/v1/submissions/{hw.id}", headers=headers)
    view = shown.json
    names = [t["name"] for p in view["result"]["parts"] for t in p["tests"]]
    assert names == ["hidden test 1", "explain"]
    assert "AssertionError" not in shown.get_data(as_text=True)
    assert view["auto_score"] == 0 and view["manual_score"] == 1
    assert view["raw_score"] == 1 and view["score"] == 1 and view["partly_graded"] is False
    staff = client.get(f"/api/v1/submissions/{hw.id}", headers=token_for(INSTRUCTOR[0])).json
    assert [t["name"] for p in staff["result"]["parts"] for t in p["tests"]] == [
        "test_half",
        "explain",
    ]


@pytest.fixture
def ps1(demo, tmp_path):
    """nbgrader's example in the demo course; the student hands in bitdiddle's, then hacker's."""
    assignment = make_ps1(demo, tmp_path)
    db.session.execute(sa.delete(Submission).where(Submission.user_id == find_user(STUDENT[0]).id))
    db.session.commit()
    first = graded_submission(assignment, STUDENT[0], "bitdiddle", tmp_path)  # auto 1.5
    second = graded_submission(assignment, STUDENT[0], "hacker", tmp_path)  # auto 3
    return Path(tmp_path), first, second


def test_listings_count_the_graders_points_and_mark_the_gradebooks_submission(
    app, client, token_for, ps1
):
    _, first, second = ps1
    # The first, with full points for its four answers (1.5 + 8), beats the second's 3.
    for cell in manual.waiting_cells(first.result):
        manual.save(
            first,
            find_user(INSTRUCTOR[0]),
            [manual.GradeInput(cell.notebook, cell.grade_id, cell.max_points)],
        )
    entry = counted_entry(db.session.get(Assignment, first.assignment_id), first.user_id)
    assert entry.work_id == first.id and entry.score == pytest.approx(9.5)
    listing = client.get(
        "/api/v1/courses/demo/assignments/ps1/submissions", headers=token_for(STUDENT[0])
    ).json["submissions"]
    by_id = {s["id"]: s for s in listing}
    assert by_id[first.id]["counts"] and not by_id[second.id]["counts"]
    assert by_id[first.id]["raw_score"] == pytest.approx(9.5)
    assert by_id[first.id]["partly_graded"] is False
    assert by_id[second.id]["raw_score"] == 3 and by_id[second.id]["partly_graded"] is True
    assert by_id[second.id]["waiting"] == 5
    # The student's page and the staff's listing say the same.
    page = logged_in(app, STUDENT).get("/courses/demo/assignments/ps1").get_data(as_text=True)
    rows = dict(re.findall(r'<th scope="row">(\d+)</th>.*?<td class="num">(.*?)</td>', page, re.S))
    assert rows["1"].startswith("9.5 / 13") and "counts" in rows["1"]
    assert (
        rows["2"].startswith("3 / 13")
        and "partly graded" in rows["2"]
        and "counts" not in rows["2"]
    )
    staff = logged_in(app, INSTRUCTOR).get("/courses/demo/assignments/ps1/submissions")
    assert "9.5 / 13" in staff.get_data(as_text=True)


def test_a_graded_written_answer_shows_its_points_in_the_result_block(app, ps1):
    _, first, _ = ps1
    cell = next(c for c in manual.waiting_cells(first.result) if c.grade_id == "part-a")
    manual.save(
        first, find_user(INSTRUCTOR[0]), [manual.GradeInput("problem2", "part-a", 1, "Good.")]
    )
    page = (
        logged_in(app, STUDENT).get(f"/courses/demo/submissions/{first.id}").get_data(as_text=True)
    )
    block = page.split(f'data-grade-id="{cell.grade_id}"', 1)[1].split("</div>", 1)[0]
    assert "Graded by a person" in block and "1 / 1" in block and "waits for a grader" not in block
    assert "Good." in block  # released at once (the default)
    assert "partly graded" in page and "3 answers waiting" in page


def test_the_openapi_document_names_both_bodies_of_a_submission(client):
    document = client.get("/api/v1/openapi.json").json
    post = document["paths"]["/courses/{course}/assignments/{slug}/submissions"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(body["properties"]) == {"code", "notebooks"} and not body.get("required")
    assert "notebooks_expected" in body["description"]
    answer = post["responses"]["202"]["content"]["application/json"]["schema"]["$ref"]
    fields = document["components"]["schemas"][answer.rsplit("/", 1)[1]]["properties"]
    assert {"missing_notebooks", "manual_score", "partly_graded"} <= set(fields)


def test_images_pasted_into_a_markdown_cell_are_shown_from_its_attachments(app, hw):
    page = logged_in(app, STUDENT).get(f"/courses/demo/submissions/{hw.id}").get_data(as_text=True)
    assert f'<img src="data:image/png;base64,{PNG}" alt="plot"' in page
    # Not an allowed type: left as written, which a browser does not load.
    assert '<img src="attachment:evil.svg"' in page and "image/svg" not in page


@pytest.mark.parametrize(
    ("bundle", "shown"),
    [
        ({"image/png": PNG}, True),
        ({"image/png": [PNG[:40], PNG[40:]]}, True),  # nbformat's multiline string
        ({"image/gif": base64.b64encode(b"GIF89a" + bytes(20)).decode()}, True),
        ({"image/jpeg": PNG}, False),  # bytes that are not what the type says
        ({"image/svg+xml": SVG.decode()}, False),
        ({"image/png": "not base64!"}, False),
        ({"image/png": base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(1 << 20)).decode()}, False),
        ("not a bundle", False),
    ],
)
def test_only_png_jpeg_and_gif_of_at_most_1_mb_become_data_uris(bundle, shown):
    found = attachment_uri({"a.png": bundle}, "attachment:a.png")
    assert (found is not None) == shown
    assert attachment_uri({"a.png": bundle}, "a.png") is None  # not an attachment: link
