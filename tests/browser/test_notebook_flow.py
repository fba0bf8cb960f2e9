"""Issue 17's web flow in chromium: a student downloads the release, answers in it and
uploads it, sees the result; the instructor grades the written answers with the
keyboard; the student sees the total with the graders' points and comments."""

from __future__ import annotations

import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from server.notebooks import nbgrader
from tests.notebooks.manual_support import publish_ps1
from tests.notebooks.support import EXAMPLE

from .test_quiz_in_browser import VIEWPORT, log_in

ASSIGNMENT = "/courses/demo/assignments/ps1"
GRADED = 60_000  # ms: the sandbox grades ps1 in well under a second; the machine may be busy


def answered(release: dict, student: dict) -> dict:
    """The released notebook with the example student's answers in its solution cells."""
    answers = {nbgrader.meta(c).get("grade_id"): c["source"] for c in student["cells"]}
    for cell in release["cells"]:
        meta = cell["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            cell["source"] = answers[meta["grade_id"]]
    return release


def fill_in_release(download, folder) -> list:
    """Answer in the downloaded release as hacker did; return the notebooks to upload."""
    archive = folder / "ps1.zip"
    download.save_as(archive)
    with zipfile.ZipFile(archive) as release:
        names = sorted(n for n in release.namelist() if n.endswith(".ipynb"))
        assert [n.rsplit("/", 1)[-1] for n in names] == ["problem1.ipynb", "problem2.ipynb"]
        notebooks = {n.rsplit("/", 1)[-1]: json.loads(release.read(n)) for n in names}
    paths = []
    for name, nb in notebooks.items():
        theirs = json.loads((EXAMPLE / "submitted" / "hacker" / "ps1" / name).read_text())
        path = folder / name
        path.write_text(json.dumps(answered(nb, theirs)))
        paths.append(path)
    return paths


@pytest.mark.browser
def test_release_upload_result_manual_grading_and_the_students_total(
    live_server, browser, demo, tmp_path, screenshot
):
    publish_ps1(demo, tmp_path)
    student = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    student.set_default_timeout(15_000)
    page = student.new_page()
    log_in(page, live_server, "student@example.edu", "student")
    page.goto(live_server + ASSIGNMENT)
    with page.expect_download() as download:
        page.locator("#release-zip").click()
    files = fill_in_release(download.value, tmp_path)
    page.locator("#notebooks").set_input_files(files)
    page.get_by_role("button", name="Submit for grading").click()
    # The result page reloads itself until the sandbox has graded the notebooks.
    expect(page.locator(".standalone-result")).to_contain_text("part-b", timeout=GRADED)
    feedback_link = page.get_by_role("link", name="Total, points and comments from the graders")
    expect(feedback_link).to_be_visible(timeout=GRADED)
    submission_url = page.url
    screenshot(page, "notebook-01-result")
    feedback_link.click()
    expect(page.locator(".feedback-total")).to_contain_text("partly graded")
    auto = float(re.search(r"automatic ([0-9.]+)", page.locator(".feedback-total").inner_text())[1])

    teacher = browser.new_context(viewport={"width": 1200, "height": 900})
    teacher.set_default_timeout(15_000)
    grader = teacher.new_page()
    log_in(grader, live_server, "instructor@example.edu", "instructor")
    grader.goto(live_server + ASSIGNMENT)
    grader.get_by_role("link", name="Needs grading").click()
    expect(grader.locator(".grading-progress")).to_contain_text("0 of 1 graded")
    grader.get_by_role("link", name="Start grading").click()
    cells = grader.locator(".grade-cell")
    expect(cells).to_have_count(5)
    # The first answer's points field has the focus; the answer is beside the solution.
    expect(grader.locator("#points-0")).to_be_focused()
    expect(cells.nth(1).locator(".grade-solution")).to_contain_text("def pyramidal_number")
    screenshot(grader, "notebook-02-grading")
    for i in range(5):
        expect(grader.locator(f"#points-{i}")).to_be_focused()
        grader.keyboard.type("1")
        grader.keyboard.press("Tab")
        grader.keyboard.type(f"Comment {i}.")
        grader.locator(f"#points-{i}").focus()
        if i < 4:
            grader.keyboard.press("j")  # on to the next answer
    grader.keyboard.press("Control+Enter")  # save and next: none left, back to the queue
    expect(grader.locator(".grading-progress")).to_contain_text("1 of 1 graded")

    page.goto(submission_url)  # the result block's total counts the graders' points now
    expect(page.locator(".standalone-result .total")).to_contain_text(f"{auto + 5:g} / 13")
    page.get_by_role("link", name="Total, points and comments from the graders").click()
    total = page.locator(".feedback-total")
    expect(total).to_contain_text(f"{auto + 5:g} / 13")
    expect(total).not_to_contain_text("partly graded")
    expect(page.locator(".nb-comment").first).to_contain_text("Comment")
    screenshot(page, "notebook-03-student-total")
    student.close()
    teacher.close()
