"""Drafts: the editor's code saved on the server, and the page reopening on the newest code."""

import html
import re

from .support import STUDENT, STUDENT2, csrf_token_in
from .test_exercise_pages import EXERCISE_DIR, REFERENCE, URL, post_code, submission_id

DRAFT_URL = URL + "/draft.json"
STARTER = (EXERCISE_DIR / "starter.py").read_text()


def save(client, code: str):
    token = csrf_token_in(client.get(URL).get_data(as_text=True))
    return client.post(DRAFT_URL, data={"code": code, "csrf_token": token})


def editor_code(client) -> str:
    page = client.get(URL).get_data(as_text=True)
    return html.unescape(re.search(r'<textarea id="code"[^>]*>(.*?)</textarea>', page, re.S)[1])


def test_a_draft_follows_the_student_to_another_computer(new_client):
    laptop, lab = new_client(STUDENT), new_client(STUDENT)
    draft = STARTER + "\n# half done\n"
    assert save(laptop, draft).status_code == 200
    assert editor_code(lab) == draft
    assert "your latest draft" in lab.get(URL).get_data(as_text=True)


def test_the_newer_of_draft_and_submission_opens(student):
    save(student, STARTER + "\n# old draft\n")
    submission_id(post_code(student, REFERENCE + "\n# submitted\n"))
    assert editor_code(student).endswith("# submitted\n")
    save(student, REFERENCE + "\n# edited after submitting\n")
    assert editor_code(student).endswith("# edited after submitting\n")


def test_a_new_student_starts_from_the_starter_and_never_sees_another_draft(new_client):
    save(new_client(STUDENT), STARTER + "\n# mine\n")
    other = new_client(STUDENT2)
    assert editor_code(other) == STARTER
    assert "opening-note" not in other.get(URL).get_data(as_text=True)


def test_a_draft_needs_a_form_token_and_a_reasonable_size(student, app):
    assert student.post(DRAFT_URL, data={"code": "x = 1\n"}).status_code == 400
    too_big = "#" * (app.config["RUBRIC_MAX_CODE_BYTES"] + 1)
    response = save(student, too_big)
    assert response.status_code == 413 and response.json["error"]["code"] == "code_too_large"
    assert editor_code(student) == STARTER
