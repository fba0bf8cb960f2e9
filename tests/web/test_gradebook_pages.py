"""The instructor's gradebook page and its CSV download."""

import pytest

from .support import STUDENT, correct_answers


@pytest.mark.parametrize("path", ["/courses/demo/gradebook", "/courses/demo/gradebook.csv"])
def test_gradebook_is_forbidden_to_students(student, path):
    response = student.get(path)
    assert response.status_code == 403
    assert "<h1>Forbidden" in response.get_data(as_text=True)


def test_instructor_sees_scores_and_totals(new_client, instructor, quiz_assignment):
    new_client(STUDENT).submit(correct_answers(quiz_assignment))
    assert 'href="/courses/demo/gradebook"' in instructor.get("/courses/demo").get_data(
        as_text=True
    )
    page = instructor.get("/courses/demo/gradebook").get_data(as_text=True)
    assert "<caption" in page and '<th scope="col"' in page
    row = page[page.index("Sam Student") :].split("</tr>")[0]
    assert "5 / 5" in row and "1 attempt" in row and "<strong>5</strong>" in row
    assert page.count("<tr>") == 1 + 9  # a header and nine demo students
    assert 'href="/courses/demo/gradebook.csv"' in page


def test_gradebook_csv_download(new_client, instructor, quiz_assignment):
    new_client(STUDENT).submit(correct_answers(quiz_assignment))
    response = instructor.get("/courses/demo/gradebook.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "demo-gradebook.csv" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "email,name,l2-regularization,l2-regularization-quiz,total"
    assert "student@example.edu,Sam Student,,5,5" in lines
