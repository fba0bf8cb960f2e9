"""Notebook exercises through the API: notebooks in, per-cell scores out, bad input refused."""

from __future__ import annotations

import copy
import io
import json
import zipfile

import nbformat
import pytest
import sqlalchemy as sa

from server.api import models
from server.content.sync import sync_exercises
from server.courses.assignments import publish
from server.extensions import db
from server.models import Assignment, Submission
from server.notebooks.importer import import_assignment
from server.notebooks.submission import MAX_NOTEBOOK_BYTES, stored_notebooks
from server.submissions import regrade
from tests.notebooks.support import EXAMPLE, autotest, solution, write_assignment
from tests.notebooks.web_support import (
    COURSE,
    STUDENTS,
    SUBMIT,
    cell_scores,
    cli_scores,
    handed_in,
)


def graded(client, headers, response) -> dict:
    """Wait for a 202's submission to be graded; return its JSON."""
    assert response.status_code == 202, response.json
    answer = client.get(f"/api/v1/submissions/{response.json['id']}?wait=20", headers=headers)
    for _ in range(5):
        if answer.json["status"] == "graded":
            break
        answer = client.get(f"/api/v1/submissions/{response.json['id']}?wait=20", headers=headers)
    assert answer.json["status"] == "graded", answer.json
    return answer.json


@pytest.mark.parametrize("student", sorted(STUDENTS))
def test_the_example_submissions_score_as_the_cli_grades_them(client, token_for, ps1, student):
    headers = token_for(STUDENTS[student])
    response = client.post(SUBMIT, json={"notebooks": handed_in(student)}, headers=headers)
    assert "missing_notebooks" not in response.json
    result = graded(client, headers, response)["result"]
    assert cell_scores(result) == cli_scores(ps1, student)
    assert result["max_score"] == 13
    waiting = [t for p in result["parts"] for t in p["tests"] if t["score"] is None]
    assert waiting and {t["outcome"] for t in waiting} == {"needs_manual_grading"}


def test_outputs_are_stripped_before_storing(client, token_for, ps1):
    notebooks = handed_in("hacker")
    code = next(c for c in notebooks["problem1.ipynb"]["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x" * 5_000_000}]
    headers = token_for(STUDENTS["hacker"])
    response = client.post(SUBMIT, json={"notebooks": notebooks}, headers=headers)
    assert response.status_code == 202, response.json
    stored = db.session.get(Submission, response.json["id"]).code
    assert len(stored) < 100_000 and "xxxxxxxxxx" not in stored
    cells = stored_notebooks(stored)["problem1.ipynb"].cells
    assert all(c.outputs == [] for c in cells if c.cell_type == "code")


def test_outputs_are_not_validated_since_they_are_dropped(client, token_for, ps1):
    notebooks = handed_in("hacker")
    code = next(c for c in notebooks["problem1.ipynb"]["cells"] if c["cell_type"] == "code")
    code["outputs"] = [{"output_type": "no such type"}] * 1000
    headers = token_for(STUDENTS["hacker"])
    response = client.post(SUBMIT, json={"notebooks": notebooks}, headers=headers)
    assert response.status_code == 202, response.json


def test_a_missing_notebook_is_accepted_and_scores_zero(client, token_for, ps1):
    headers = token_for(STUDENTS["hacker"])
    only = {"problem1.ipynb": handed_in("hacker")["problem1.ipynb"]}
    response = client.post(SUBMIT, json={"notebooks": only}, headers=headers)
    assert response.json["missing_notebooks"] == ["problem2.ipynb"]
    result = graded(client, headers, response)
    problem2 = next(p for p in result["result"]["parts"] if p["name"] == "problem2")
    assert problem2["score"] == 0
    assert all("problem2.ipynb was not submitted" in t["feedback"] for t in problem2["tests"])
    assert cell_scores(result["result"])["problem1"] == cli_scores(ps1, "hacker")["problem1"]


def nbformat3() -> dict:
    notebook = handed_in("hacker")["problem1.ipynb"]
    return {"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": [{"cells": []}]} | {
        "metadata": notebook["metadata"]
    }


def other_assignment() -> dict:
    cells = [solution("half", "def half(x):\n    return x / 2"), autotest("test_half", "assert 1")]
    return json.loads(nbformat.writes(nbformat.v4.new_notebook(cells=cells)))


def invalid() -> dict:
    notebook = copy.deepcopy(handed_in("hacker")["problem1.ipynb"])
    notebook["cells"][0]["cell_type"] = "spreadsheet"
    return notebook


def not_cells() -> dict:
    notebook = copy.deepcopy(handed_in("hacker")["problem1.ipynb"])
    notebook["cells"] = [1, "x"]
    return notebook


def too_large() -> dict:
    notebook = copy.deepcopy(handed_in("hacker")["problem1.ipynb"])
    cell = nbformat.v4.new_markdown_cell("y" * (MAX_NOTEBOOK_BYTES + 1))
    del cell["id"]  # the example is nbformat 4.1, whose cells have no ids
    notebook["cells"].append(cell)
    return notebook


@pytest.mark.parametrize(
    ("body", "status", "code", "words"),
    [
        ({"notebooks": {"problem1.ipynb": "{not json"}}, 422, "not_json", "is not JSON"),
        ({"notebooks": {"problem1.ipynb": {"a": 1}}}, 422, "not_a_notebook", "not a Jupyter"),
        ({"notebooks": {"problem1.ipynb": nbformat3()}}, 422, "old_nbformat", "--nbformat 4"),
        ({"notebooks": {"problem1.ipynb": invalid()}}, 422, "invalid_notebook", "not a valid"),
        ({"notebooks": {"problem1.ipynb": not_cells()}}, 422, "invalid_notebook", "cells/0"),
        (
            {"notebooks": {"problem1.ipynb": {"nbformat": 4, "worksheets": []}}},
            422,
            "not_a_notebook",
            "no cells",
        ),
        ({"notebooks": {"problem1.ipynb": other_assignment()}}, 422, "wrong_assignment", "half"),
        ({"notebooks": {"problem9.ipynb": {}}}, 422, "unknown_notebook", "problem1.ipynb"),
        ({"notebooks": {"notes.txt": "hi"}}, 422, "unknown_notebook", "not a notebook (.ipynb)"),
        ({"notebooks": {}}, 422, "no_notebooks", "no notebook"),
        ({"notebooks": ["problem1.ipynb"]}, 422, "invalid_notebooks", '{"notebooks"'),
        ({"code": "print(1)"}, 422, "notebooks_expected", "notebook exercise"),
        ({"notebooks": {"problem1.ipynb": too_large()}}, 413, "notebook_too_large", "outputs"),
    ],
)
def test_bad_notebooks_are_refused_saying_why(client, token_for, ps1, body, status, code, words):
    response = client.post(SUBMIT, json=body, headers=token_for(STUDENTS["hacker"]))
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code
    assert words in response.json["error"]["message"]
    assert db.session.scalar(sa.select(sa.func.count(Submission.id))) == 0


def test_a_body_over_20_mb_is_413(client, token_for, ps1):
    notebooks = handed_in("hacker")
    notebooks["problem1.ipynb"]["cells"][0]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": "z" * (21 * 2**20)}
    ]
    response = client.post(
        SUBMIT, json={"notebooks": notebooks}, headers=token_for(STUDENTS["hacker"])
    )
    assert response.status_code == 413
    assert response.json["error"]["code"] == "upload_too_large"
    assert "Clear Outputs" in response.json["error"]["message"]


def test_a_code_exercise_refuses_notebooks(client, token_for, ps1):
    url = f"{COURSE}/assignments/l2-regularization/submissions"
    body = {"notebooks": handed_in("hacker")}
    response = client.post(url, json=body, headers=token_for(STUDENTS["hacker"]))
    assert response.status_code == 422
    assert response.json["error"]["code"] == "code_expected"
    assert "send 'code'" in response.json["error"]["message"]


def test_release_zip_is_the_student_version_without_solutions_or_hidden_tests(
    client, token_for, ps1
):
    response = client.get(
        f"{COURSE}/assignments/ps1/release.zip", headers=token_for(STUDENTS["hacker"])
    )
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == [
        "ps1/jupyter.png",
        "ps1/problem1.ipynb",
        "ps1/problem2.ipynb",
    ]
    for name in ("problem1.ipynb", "problem2.ipynb", "jupyter.png"):
        assert archive.read(f"ps1/{name}") == (ps1 / "release" / name).read_bytes()
    text = b"".join(archive.read(n) for n in archive.namelist() if n.endswith(".ipynb")).decode()
    source = (EXAMPLE / "source" / "ps1" / "problem1.ipynb").read_text()
    assert "BEGIN SOLUTION" in source and "BEGIN SOLUTION" not in text
    solutions = _solution_lines(source)
    assert solutions and not any(line in text for line in solutions)


def test_release_zip_leaves_hidden_tests_out(client, token_for, demo, tmp_path):
    hidden = "assert half(10) == 5  # the hidden one"
    test = f"assert half(2) == 1\n### BEGIN HIDDEN TESTS\n{hidden}\n### END HIDDEN TESTS"
    cells = [
        solution(
            "half", "def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION"
        ),
        autotest("test_half", test),
    ]
    source = write_assignment(tmp_path / "source" / "hw", {"hw": cells})
    import_assignment(source, tmp_path / "content" / "exercises")
    sync_exercises(tmp_path / "content")
    publish(demo, "hw", None)
    db.session.commit()
    response = client.get(
        f"{COURSE}/assignments/hw/release.zip", headers=token_for(STUDENTS["hacker"])
    )
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert archive.namelist() == ["hw/hw.ipynb"]
    text = archive.read("hw/hw.ipynb").decode()
    assert "assert half(2) == 1" in text  # the visible test is the student's to run
    for secret in ("half(10)", "HIDDEN TESTS", "return x / 2", "BEGIN SOLUTION"):
        assert secret not in text


def _solution_lines(source: str) -> list[str]:
    """The distinctive lines inside the solution regions of a notebook's cells."""
    lines, inside = [], False
    for cell in nbformat.reads(source, as_version=4).cells:
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line or "END SOLUTION" in line:
                inside = "BEGIN" in line
            elif inside and len(line.strip()) > 12:
                lines.append(line.strip())
    return lines


def test_release_zip_of_a_code_exercise_is_409_and_of_another_course_404(client, token_for, ps1):
    headers = token_for(STUDENTS["hacker"])
    code = client.get(f"{COURSE}/assignments/l2-regularization/release.zip", headers=headers)
    assert code.status_code == 409 and code.json["error"]["code"] == "not_a_notebook_exercise"
    other = client.get("/api/v1/courses/elsewhere/assignments/ps1/release.zip", headers=headers)
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("method", "path"), [("get", "draft"), ("put", "draft"), ("post", "check")]
)
def test_the_code_editors_endpoints_refuse_a_notebook_exercise(
    client, token_for, ps1, method, path
):
    url = f"{COURSE}/assignments/ps1/{path}"
    response = getattr(client, method)(
        url, json={"code": "x = 1"}, headers=token_for(STUDENTS["hacker"])
    )
    assert response.status_code == 409
    assert response.json["error"]["code"] == "notebook_exercise"
    assert getattr(client, method)(url, json={"code": "x = 1"}).status_code == 401


def test_a_regrade_preview_grades_notebook_submissions_again(client, token_for, ps1):
    headers = token_for(STUDENTS["hacker"])
    response = client.post(SUBMIT, json={"notebooks": handed_in("hacker")}, headers=headers)
    before = graded(client, headers, response)["result"]
    ps1_assignment = db.session.scalar(sa.select(Assignment).where(Assignment.slug == "ps1"))
    shown = regrade.preview(regrade.scope_of(ps1_assignment, same_version=True))
    [student] = shown.students
    assert student.student.email == STUDENTS["hacker"] and not student.changed
    [item] = student.work
    assert item.failed == "" and cell_scores(item.result) == cell_scores(before)


def test_a_retried_post_with_its_idempotency_key_returns_the_first_submission(
    client, token_for, ps1
):
    headers = token_for(STUDENTS["hacker"]) | {"Idempotency-Key": "nb-1"}
    first = client.post(SUBMIT, json={"notebooks": handed_in("hacker")}, headers=headers)
    again = client.post(SUBMIT, json={"notebooks": handed_in("hacker")}, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json["id"] == first.json["id"]
    other = client.post(SUBMIT, json={"notebooks": handed_in("bitdiddle")}, headers=headers)
    assert other.status_code == 422
    assert other.json["error"]["code"] == "idempotency_key_reused"


def test_the_assignment_names_its_notebooks_and_graded_cells(client, token_for, ps1):
    response = client.get(f"{COURSE}/assignments/ps1", headers=token_for(STUDENTS["hacker"]))
    detail = models.AssignmentDetail.model_validate(response.json)
    assert detail.max_score == 13 and detail.version == 1
    assert [n.name for n in detail.notebooks] == ["problem1", "problem2"]
    cells = {c.grade_id: (c.kind, c.points) for n in detail.notebooks for c in n.cells}
    assert cells["correct_squares"] == ("test", 1) and cells["part-b"] == ("manual", 2)
    assert "BEGIN SOLUTION" not in response.get_data(as_text=True)
