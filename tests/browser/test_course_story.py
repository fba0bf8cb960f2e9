"""Issue 16's story in chromium: an instructor runs a course from the browser.

Creates a course, imports a roster CSV, publishes the exercise with a due date and a
10%-per-day penalty, grants one student an extension; students submit on time, late
and after the assignment's due date within their extension (the web submit path, with
dates set relative to now so the work really is on time or late); the instructor
overrides a score and excuses a student with reasons, reads the gradebook and its CSV,
fixes the exercise's points and regrades with a diff, and finds every step in the audit
log.
"""

import csv
import io
import shutil
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from server.config import PROJECT_ROOT
from server.content.sync import store_exercise
from server.extensions import db

from .test_exercise_in_browser import REFERENCE, submit_and_wait, type_into_editor
from .test_quiz_in_browser import VIEWPORT, log_in

ZONE = ZoneInfo("Europe/Berlin")
ON_TIME, LATE, EXTENDED, EXCUSED = (f"student{n}@example.edu" for n in (3, 4, 5, 6))
ROSTER = "email,name,role\n" + "".join(
    f"{email},Student {email[7]},student\n" for email in (ON_TIME, LATE, EXTENDED, EXCUSED)
)
HOMEWORK = "/courses/story/assignments/hw1"


def local(moment: datetime) -> str:
    """A moment as the course's datetime-local fields take it (Berlin wall time)."""
    return moment.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M:%S")


def student_submits(browser, base: str, email: str) -> None:
    """A student logs in and submits the reference solution on the exercise page."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, base, email, "student")
    page.goto(base + HOMEWORK)
    type_into_editor(page, REFERENCE)
    submit_and_wait(page, 1)
    context.close()


@pytest.mark.browser
def test_an_instructor_runs_a_course_from_the_browser(live_server, browser, screenshot, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    log_in(page, live_server, "instructor@example.edu", "instructor")

    # A course, and its roster from a CSV file, previewed then applied.
    page.goto(live_server + "/courses/new")
    page.get_by_label("Slug").fill("story")
    page.get_by_label("Title").fill("Story of a course")
    page.get_by_label("Time zone").fill("Europe/Berlin")
    page.get_by_role("button", name="Create the course").click()
    expect(page.get_by_role("heading", name="People of Story of a course")).to_be_visible()
    page.get_by_label("CSV file").set_input_files(
        {"name": "roster.csv", "mimeType": "text/csv", "buffer": ROSTER.encode()}
    )
    page.get_by_role("button", name="Preview").click()
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("body")).to_contain_text("Imported: 4 added")
    for email in (ON_TIME, LATE, EXTENDED, EXCUSED):
        expect(page.get_by_role("cell", name=email, exact=True)).to_be_visible()

    # The exercise, due in a day for now, late work for three days at 10% a day.
    page.goto(live_server + "/courses/story")
    page.get_by_role("link", name="Manage assignments").click()
    form = page.locator("#publish-form")
    form.get_by_label("Content", exact=True).select_option("exercise:l2-regularization")
    form.get_by_label("Slug").fill("hw1")
    form.get_by_label("Title").fill("Homework 1")
    now = datetime.now(UTC)
    form.get_by_label("Due at").fill(local(now + timedelta(days=1)))
    form.get_by_label("Accepted until a date, with a penalty").check()
    form.get_by_label("Late work accepted until").fill(local(now + timedelta(days=3)))
    form.get_by_label("Penalty (% of the maximum)").fill("10")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#assignments")).to_contain_text("10% per day")
    screenshot(page, "story-01-assignments")

    # One student gets an extension of their own.
    page.get_by_role("link", name="Extensions and overrides of Homework 1").click()
    extension = page.locator("#extension-form")
    extension.get_by_label("Student", exact=True).select_option(EXTENDED)
    extension.get_by_label("New due date").fill(local(now + timedelta(days=2)))
    page.get_by_role("button", name="Grant the extension").click()
    expect(page.locator("body")).to_contain_text(f"{EXTENDED} has an extension")

    # On time: handed in while the due date is still ahead.
    student_submits(browser, live_server, ON_TIME)

    # The due date moves to a moment just past: the next two hand in after it.
    page.goto(live_server + HOMEWORK + "/edit")
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    page.get_by_label("Due at").fill(local(due))
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#assignments")).to_contain_text(
        due.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    )
    time.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()) + 1)
    student_submits(browser, live_server, LATE)
    student_submits(browser, live_server, EXTENDED)

    # The instructor sets one score by hand and excuses a student, each with a reason.
    page.goto(live_server + HOMEWORK + "/students")
    override = page.locator("#override-form")
    override.get_by_label("Student", exact=True).select_option(ON_TIME)
    override.get_by_label("Score").fill("8")
    override.get_by_label("Reason").fill("oral exam")
    page.get_by_role("button", name="Set the override").click()
    expect(page.locator("body")).to_contain_text(f"{ON_TIME} has the score 8")
    override.get_by_label("Student", exact=True).select_option(EXCUSED)
    override.get_by_label("Excuse the student instead").check()
    override.get_by_label("Reason").fill("medical")
    page.get_by_role("button", name="Set the override").click()
    expect(page.locator("body")).to_contain_text(f"{EXCUSED} is excused")
    screenshot(page, "story-02-extensions-overrides")

    # The gradebook: counted 8 (overridden), 10 - 1 = 9 (late), 10 (extension), EX.
    page.goto(live_server + "/courses/story/gradebook")
    on_time = page.get_by_role("row").filter(has_text=ON_TIME)
    expect(on_time.locator("abbr.mark-override")).to_have_attribute(
        "title", "Set by hand: oral exam"
    )
    expect(on_time.locator("td").first).to_contain_text("8")
    late = page.get_by_role("row").filter(has_text=LATE)
    expect(late.locator("abbr.mark-late")).to_have_attribute("title", "Late: 10 − 1 penalty")
    expect(late.locator("td").first).to_contain_text("9")
    extended = page.get_by_role("row").filter(has_text=EXTENDED)
    expect(extended.locator("td").first).to_have_text("10")
    excused = page.get_by_role("row").filter(has_text=EXCUSED)
    expect(excused.locator("abbr.mark-excused")).to_have_attribute("title", "Excused: medical")
    screenshot(page, "story-03-gradebook")

    answer = page.request.get(live_server + "/courses/story/gradebook.csv")
    assert answer.status == 200
    table = {row[0]: row for row in csv.reader(io.StringIO(answer.text()))}
    assert table[""][2] == "10"  # points possible
    assert [table[e][2] for e in (ON_TIME, LATE, EXTENDED, EXCUSED)] == ["8", "9", "10", "EX"]

    # A fix of the content (l2_penalty was worth 3 points, 5 was meant): regrade with a diff.
    fixed = tmp_path / "l2-regularization"
    shutil.copytree(PROJECT_ROOT / "exercises" / "l2-regularization", fixed)
    toml = (fixed / "exercise.toml").read_text()
    toml = toml.replace("points = 10", "points = 12", 1)
    penalty = 'signature = "l2_penalty(w, lam) -> float"\npoints = '
    toml = toml.replace(penalty + "3", penalty + "5", 1)
    (fixed / "exercise.toml").write_text(toml)
    assert store_exercise(fixed) is not None
    db.session.commit()
    page.goto(live_server + HOMEWORK + "/regrade")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#regrade-summary")).to_contain_text("2 of 3")  # the override holds
    late_row = page.locator(f'tr[data-student="{LATE}"]')
    expect(late_row).to_contain_text("9 / 10")
    expect(late_row).to_contain_text("10.8 / 12")
    screenshot(page, "story-04-regrade-preview")
    page.get_by_role("button", name="Confirm: record the new results").click()
    page.goto(live_server + "/courses/story/gradebook")
    late = page.get_by_role("row").filter(has_text=LATE)
    expect(late.locator("abbr.mark-late")).to_have_attribute("title", "Late: 12 − 1.2 penalty")
    expect(page.get_by_role("row").filter(has_text=EXTENDED).locator("td").first).to_have_text("12")

    # The audit log lists every step.
    page.goto(live_server + "/courses/story/audit")
    log = page.locator("table")
    for action, target in [
        ("course.create", "story"),
        ("roster.add", LATE),
        ("assignment.publish", "hw1"),
        ("extension.grant", f"hw1 {EXTENDED}"),
        ("assignment.update", "hw1"),
        ("score.override", f"hw1 {ON_TIME}"),
        ("score.override", f"hw1 {EXCUSED}"),
        ("regrade", "hw1"),
    ]:
        expect(
            log.get_by_role("row").filter(has_text=action).filter(has_text=target)
        ).not_to_have_count(0)
    screenshot(page, "story-05-audit")
