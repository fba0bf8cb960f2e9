"""The gradebook in Chromium: names and headers stay in view while it scrolls, the pager
and the filter work, each mark explains itself, and the CSV buttons download files."""

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from server.extensions import db
from server.models import Enrollment, Role, User
from tests.scoring.gradebook_setup import SARA, STU, make_graded

from .test_quiz_in_browser import log_in

PAGE = "/courses/demo/gradebook"


@pytest.fixture
def crowded(client, demo, token_for):
    """The graded demo course of the gradebook tests, and 70 more students."""
    make_graded(client, demo, token_for)
    rows = [{"email": f"zz{n:03}@example.edu", "name": f"Zed {n:03}", "password_hash": "-"}
            for n in range(70)]  # fmt: skip
    db.session.execute(sa.insert(User), rows)
    ids = db.session.scalars(sa.select(User.id).where(User.email.like("zz%"))).all()
    enrolled = [{"course_id": demo.id, "user_id": i, "role": Role.STUDENT} for i in ids]
    db.session.execute(sa.insert(Enrollment), enrolled)
    db.session.commit()


@pytest.mark.browser
def test_the_gradebook_scrolls_with_names_and_headers_in_view(
    crowded, live_server, browser, screenshot
):
    context = browser.new_context(viewport={"width": 700, "height": 600})
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server, "instructor@example.edu", "instructor")
    page.goto(live_server + PAGE)
    expect(page.locator("#gradebook-count")).to_contain_text("Students 1–50 of 80")

    region = page.get_by_role("region", name="Counted score of each student")
    header = page.get_by_role("columnheader", name="Student", exact=True)
    box = region.bounding_box()
    region.evaluate("r => { r.scrollLeft = r.scrollWidth; r.scrollTop = r.scrollHeight }")
    page.wait_for_timeout(100)
    assert region.evaluate("r => r.scrollLeft") > 0, "the table is wider than its region"
    assert region.evaluate("r => r.scrollTop") > 0, "and taller"
    # Scrolled to the far right and the bottom, the header row sticks to the region's top
    # and the first column to its left edge.
    assert header.bounding_box()["y"] == pytest.approx(box["y"], abs=2)
    assert header.bounding_box()["x"] == pytest.approx(box["x"], abs=2)
    last = page.locator("tbody th").last
    assert last.bounding_box()["x"] == pytest.approx(box["x"], abs=2)
    assert box["y"] < last.bounding_box()["y"] < box["y"] + box["height"], "in view"
    screenshot(page, "gradebook-scrolled")

    late = page.get_by_role("row").filter(has_text=SARA).locator("abbr.mark-late")
    assert late.get_attribute("title").startswith("Late: ")
    overridden = page.get_by_role("row").filter(has_text=STU).locator("abbr.mark-override")
    expect(overridden).to_have_attribute("title", "Set by hand: regraded, by hand")

    page.get_by_role("link", name="Next →").click()
    expect(page.locator("#gradebook-count")).to_contain_text("Students 51–80 of 80")
    page.get_by_label("Student name or e-mail").fill("zed 06")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#gradebook-count")).to_contain_text("of 10 matching")
    expect(page.get_by_role("rowheader")).to_have_count(10 + 2)  # + max and average rows

    with page.expect_download() as canvas:
        page.get_by_role("link", name="Canvas CSV").click()
    assert canvas.value.suggested_filename == "demo-gradebook-canvas.csv"
    with open(canvas.value.path(), encoding="utf-8") as file:
        first = file.readline()
    assert first.startswith("Student,ID,SIS User ID,SIS Login ID,Section,")
    context.close()
