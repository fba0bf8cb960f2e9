"""Late work: the penalty by the stored submission time, at the exact boundaries, and the
hard cutoff; recomputed at once when the due date changes."""

import time

from tests.api.test_submissions import REFERENCE, wait_graded

from .late_support import BASE, QUIZ, STUDENT, attempt, cell, iso, patch, stored_at

DAY = 86400
EXERCISE = "l2-regularization"


def test_one_second_late_is_one_started_day_and_a_day_and_a_second_is_two(client, headers):
    done = attempt(client, headers["student"])
    at, maximum = stored_at(done), done["max_score"]
    assert done["score"] == maximum  # every answer right: no penalty is clipped at 0
    per_day = {"late_penalty_per_day": 0.1, "late_until": iso(at, 10 * DAY)}
    for due_offset, late, days in ((0, 0, 0), (-1, 1, 1), (-DAY, DAY, 1), (-DAY - 1, DAY + 1, 2)):
        patch(client, headers["instructor"], per_day | {"due_at": iso(at, due_offset)})
        entry = cell(client, headers["instructor"], STUDENT)
        penalty = round(0.1 * days * maximum, 6)
        assert (entry["late"], entry["penalty"]) == (late, penalty), due_offset
        assert entry["raw_score"] == done["score"]
        assert entry["score"] == round(done["score"] - penalty, 6)


def test_a_penalty_per_hour_is_capped(client, headers):
    done = attempt(client, headers["student"])
    at, maximum = stored_at(done), done["max_score"]
    changes = {"late_penalty_per_hour": 0.2, "late_penalty_cap": 0.5, "late_until": iso(at, DAY)}
    patch(client, headers["instructor"], changes | {"due_at": iso(at, -3601)})
    assert cell(client, headers["instructor"], STUDENT)["penalty"] == round(0.4 * maximum, 6)
    patch(client, headers["instructor"], {"due_at": iso(at, -5 * 3600)})
    assert cell(client, headers["instructor"], STUDENT)["penalty"] == round(0.5 * maximum, 6)


def test_after_a_hard_cutoff_work_is_refused_with_a_clear_message(client, headers):
    first = attempt(client, headers["student"])
    patch(client, headers["instructor"], {"due_at": iso(stored_at(first), -60)})
    refused = client.post(
        f"{BASE}/{QUIZ}/attempts", json={"answers": {}}, headers=headers["student"]
    )
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "past_due"
    assert "due date has passed" in refused.json["error"]["message"]
    # A late window opens it again, for late work that is marked so.
    window = {"late_until": iso(stored_at(first), DAY), "late_penalty_per_day": 0.1}
    patch(client, headers["instructor"], window)
    later = attempt(client, headers["student"])
    assert later["raw_score"] == first["raw_score"] == first["max_score"]
    assert later["late"] >= 60
    assert later["penalty"] == round(0.1 * later["max_score"], 6)
    assert later["score"] == round(later["raw_score"] - later["penalty"], 6)
    assert cell(client, headers["instructor"], STUDENT)["late"] >= 60


def test_before_the_opening_work_is_refused(client, headers):
    first = attempt(client, headers["student"])
    patch(client, headers["instructor"], {"opens_at": iso(stored_at(first), DAY)})
    refused = client.post(
        f"{BASE}/{QUIZ}/attempts", json={"answers": {}}, headers=headers["student"]
    )
    assert (refused.status_code, refused.json["error"]["code"]) == (409, "not_open")


def test_a_submission_stored_on_time_and_graded_late_is_on_time(client, headers):
    """The due date is compared with the stored time, never the grading time."""
    url = f"{BASE}/{EXERCISE}/submissions"
    stored = client.post(url, json={"code": REFERENCE}, headers=headers["student"]).json
    time.sleep(0.01)  # so that grading surely ends after the stored time
    graded = wait_graded(client, stored["id"], headers["student"])
    assert graded["graded_at"] > graded["submitted_at"]
    changes = {"due_at": graded["submitted_at"], "late_until": iso(stored_at(graded), DAY)}
    patch(
        client, headers["instructor"], changes | {"late_penalty_per_day": 0.5}, "l2-regularization"
    )
    shown = client.get(f"/api/v1/submissions/{stored['id']}", headers=headers["student"]).json
    assert (shown["late"], shown["penalty"], shown["score"]) == (0, 0.0, shown["raw_score"])
    # One second earlier it is one started day late: half the maximum off.
    patch(
        client, headers["instructor"], {"due_at": iso(stored_at(graded), -1)}, "l2-regularization"
    )
    shown = client.get(f"/api/v1/submissions/{stored['id']}", headers=headers["student"]).json
    assert shown["late"] == 1
    assert shown["penalty"] == min(shown["raw_score"], 0.5 * shown["max_score"])
    assert shown["score"] == round(shown["raw_score"] - shown["penalty"], 6)
    listed = client.get(url, headers=headers["instructor"]).json["submissions"][0]
    assert (listed["late"], listed["score"]) == (1, shown["score"])


def test_the_course_page_shows_the_student_their_counted_score(app, client, headers):
    from server.web.filters import points
    from tests.web.support import STUDENT as LOGIN
    from tests.web.support import PageClient

    done = attempt(client, headers["student"])
    at, maximum = stored_at(done), done["max_score"]
    changes = {"due_at": iso(at, -1), "late_until": iso(at, DAY), "late_penalty_per_day": 0.4}
    patch(client, headers["instructor"], changes)
    page = PageClient(app, app.response_class, use_cookies=True)
    page.login(*LOGIN)
    html = page.get("/courses/demo").get_data(as_text=True)
    counted = round(done["score"] - 0.4 * maximum, 6)
    assert f"{points(counted)} / {points(maximum)}" in html
    assert f"{points(done['score'])} / {points(maximum)}" not in html


def test_the_listing_marks_the_submission_the_gradebook_counts_after_penalties(client, headers):
    from tests.api.test_submissions import FORGOT_TWO

    url = f"{BASE}/{EXERCISE}/submissions"
    ids = [client.post(url, json={"code": c}, headers=headers["student"]).json["id"]
           for c in (FORGOT_TWO, REFERENCE)]  # fmt: skip
    first, second = (wait_graded(client, i, headers["student"]) for i in ids)
    assert first["raw_score"] < second["raw_score"]
    # Only the second is late, and it loses most of its points.
    changes = {"due_at": first["submitted_at"], "late_until": iso(stored_at(second), DAY)}
    patch(client, headers["instructor"], changes | {"late_penalty_per_day": 0.9}, EXERCISE)
    entry = cell(client, headers["instructor"], STUDENT, EXERCISE)
    assert (entry["raw_score"], entry["late"]) == (first["raw_score"], 0)
    listed = client.get(url, headers=headers["instructor"]).json["submissions"]
    assert [s["id"] for s in listed if s["counts"]] == [first["id"]]
