"""POST /courses, POST /courses/C/roster and GET /courses/C/audit, with tokens."""

from datetime import datetime

import pytest
import sqlalchemy as sa

from server.accounts import find_user
from server.api import models
from server.courses import course_role
from server.extensions import db
from server.mail import outbox
from server.models import Course, Role

CSV = {"Content-Type": "text/csv"}


def test_an_instructor_creates_a_course_and_teaches_it(client, headers):
    body = {"slug": "dl-2027", "title": "Deep learning", "term": "Spring 2027"}
    answer = client.post("/api/v1/courses", json=body, headers=headers["instructor"])
    assert answer.status_code == 201, answer.json
    assert answer.json == body | {"timezone": "UTC", "role": "instructor"}
    models.NewCourse.model_validate(answer.json)  # as the OpenAPI document describes it
    made = db.session.scalar(sa.select(Course).where(Course.slug == "dl-2027"))
    assert course_role(find_user("instructor@example.edu"), made) == Role.INSTRUCTOR
    listed = client.get("/api/v1/courses", headers=headers["instructor"]).json["courses"]
    assert "dl-2027" in [c["slug"] for c in listed]
    taken = client.post("/api/v1/courses", json=body, headers=headers["instructor"])
    assert (taken.status_code, taken.json["error"]["code"]) == (409, "slug_taken")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "Bad Slug", "title": "T"}, "slug"),
        ({"slug": "ok", "title": "  "}, "title"),
        ({"slug": "ok", "title": "T", "timezone": "Nowhere/City"}, "timezone"),
        ({"slug": "ok", "title": "T", "timezone": "../../etc/passwd"}, "timezone"),
        ({"slug": "ok"}, "title"),
        ({"slug": 5, "title": "T"}, "slug"),
    ],
)
def test_a_bad_course_is_422_naming_the_field(client, headers, body, field):
    answer = client.post("/api/v1/courses", json=body, headers=headers["instructor"])
    assert answer.status_code == 422
    assert answer.json["error"]["field"] == field


@pytest.mark.parametrize("who", ["student", "ta"])
def test_students_and_tas_do_not_create_courses(client, headers, who):
    body = {"slug": "mine", "title": "Mine"}
    assert client.post("/api/v1/courses", json=body, headers=headers[who]).status_code == 403
    assert db.session.scalar(sa.select(Course).where(Course.slug == "mine")) is None


def test_roster_as_csv_dry_run_then_applied(client, headers):
    data = b"email,name,role\nfresh@example.edu,Fresh,ta\nstudent@example.edu,S,student\n"
    url = "/api/v1/courses/demo/roster"
    preview = client.post(url + "?dry_run=true", data=data, headers=headers["instructor"] | CSV)
    assert preview.status_code == 200, preview.json
    assert preview.json["added"] == [{"email": "fresh@example.edu", "name": "Fresh", "role": "ta"}]
    assert preview.json["unchanged"] == 1
    assert preview.json["links"] == {}
    assert find_user("fresh@example.edu") is None

    applied = client.post(url, data=data, headers=headers["instructor"] | CSV)
    assert applied.json["dry_run"] is False
    models.RosterReport.model_validate(applied.json)
    link = applied.json["links"]["fresh@example.edu"]
    assert link.startswith("http://localhost/password/set/rbp_")
    assert [m.to for m in outbox()] == ["fresh@example.edu"]
    assert link in outbox()[0].body
    demo = db.session.scalar(sa.select(Course).where(Course.slug == "demo"))
    assert course_role(find_user("fresh@example.edu"), demo) == Role.TA


def test_roster_as_json_with_bad_items_and_drop(client, headers):
    people = [
        {"email": "student@example.edu", "role": "ta"},
        {"email": "instructor@example.edu", "role": "instructor"},
        {"email": "broken", "role": "student"},
    ]
    url = "/api/v1/courses/demo/roster?drop=true"
    answer = client.post(url, json=people, headers=headers["instructor"])
    assert answer.status_code == 200, answer.json
    name = find_user("student@example.edu").name  # the account's own: a roster never renames
    assert answer.json["changed"] == [
        {"email": "student@example.edu", "name": name, "role": "ta", "before": "student"}
    ]
    assert answer.json["drop"] is True
    assert "ta@example.edu" in [p["email"] for p in answer.json["dropped"]]
    assert answer.json["errors"][0].startswith("item 3: 'broken'")
    roster = client.get("/api/v1/courses/demo/audit", headers=headers["instructor"]).json
    drops = [e["target"] for e in roster["entries"] if e["action"] == "roster.drop"]
    assert "student2@example.edu" in drops and "ta@example.edu" in drops


JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("data", "headers_", "status", "code"),
    [
        (b"name\nAda\n", CSV, 422, "invalid_roster"),
        ("email\nx@y.org\n".encode("utf-16"), CSV, 422, "invalid_roster"),
        (b"[1,", {"Content-Type": "application/json"}, 400, "invalid_json"),
        (b'{"email": "a@b.org"}', {"Content-Type": "application/json"}, 422, "invalid_roster"),
        # Not the documented rows: the whole list is refused, nothing imported.
        (b'[{"email": "a@b.org"}, {"name": "no e-mail"}]', JSON, 422, "invalid_roster"),
        (b'[{"email": 7}]', JSON, 422, "invalid_roster"),
        (b'["a@b.org"]', JSON, 422, "invalid_roster"),
        (b"email\na@b.org\n", {"Content-Type": "application/xml"}, 415, "unsupported_media_type"),
    ],
)
def test_an_unreadable_roster_is_a_clear_error(client, headers, data, headers_, status, code):
    url = "/api/v1/courses/demo/roster"
    answer = client.post(url, data=data, headers=headers["instructor"] | headers_)
    assert (answer.status_code, answer.json["error"]["code"]) == (status, code)
    assert find_user("a@b.org") is None


def test_a_bad_flag_is_422(client, headers):
    url = "/api/v1/courses/demo/roster?dry_run=maybe"
    answer = client.post(url, data=b"email\n", headers=headers["instructor"] | CSV)
    assert (answer.status_code, answer.json["error"]["field"]) == (422, "dry_run")


def test_the_audit_log_says_who_when_what_before_after(client, headers):
    data = b"email,role\nstudent@example.edu,ta\n"
    client.post("/api/v1/courses/demo/roster", data=data, headers=headers["instructor"] | CSV)
    log = client.get("/api/v1/courses/demo/audit", headers=headers["instructor"]).json
    models.AuditLog.model_validate(log)
    entry = log["entries"][0]
    assert {k: entry[k] for k in ("actor", "action", "target", "before", "after")} == {
        "actor": "instructor@example.edu",
        "action": "roster.role",
        "target": "student@example.edu",
        "before": {"role": "student"},
        "after": {"role": "ta"},
    }
    assert datetime.fromisoformat(entry["at"]).utcoffset() is not None


# Who may do what: (method, path, body) by who, and the status each gets.
ROSTER = ("post", "/api/v1/courses/demo/roster", b"email\nstudent@example.edu\n")
AUDIT = ("get", "/api/v1/courses/demo/audit", None)
GRADEBOOK = ("get", "/api/v1/courses/demo/gradebook", None)
OTHER_ROSTER = ("post", "/api/v1/courses/other/roster", b"email\nstudent@example.edu\n")
OTHER_AUDIT = ("get", "/api/v1/courses/other/audit", None)
OTHER_GRADEBOOK = ("get", "/api/v1/courses/other/gradebook", None)
MATRIX = [
    ("instructor", ROSTER, 200),
    ("instructor", AUDIT, 200),
    ("instructor", GRADEBOOK, 200),
    ("ta", ROSTER, 403),
    ("ta", AUDIT, 403),
    ("ta", GRADEBOOK, 200),
    ("student", ROSTER, 403),
    ("student", AUDIT, 403),
    ("student", GRADEBOOK, 403),
    # Course "other"'s instructor and TA can do nothing in demo, and demo's nothing in other.
    ("other", ROSTER, 404),
    ("other", AUDIT, 404),
    ("other", GRADEBOOK, 404),
    ("other_ta", GRADEBOOK, 404),
    ("instructor", OTHER_ROSTER, 404),
    ("instructor", OTHER_AUDIT, 404),
    ("ta", OTHER_GRADEBOOK, 404),
    ("other", OTHER_ROSTER, 200),
    ("other_ta", OTHER_GRADEBOOK, 200),
    ("other_ta", OTHER_AUDIT, 403),
]


@pytest.mark.parametrize(("who", "request_", "status"), MATRIX)
def test_permission_matrix(client, headers, who, request_, status):
    method, path, data = request_
    sent = getattr(client, method)(path, data=data, headers=headers[who] | CSV)
    assert sent.status_code == status, sent.json


def test_an_instructor_cannot_change_their_own_role_by_roster(client, headers):
    data = b"email,role\ninstructor@example.edu,student\nstudent@example.edu,ta\n"
    url = "/api/v1/courses/demo/roster"
    answer = client.post(url, data=data, headers=headers["instructor"] | CSV).json
    assert answer["errors"] == ["line 2: your own role stays instructor"]
    assert [p["email"] for p in answer["changed"]] == ["student@example.edu"]
    demo = db.session.scalar(sa.select(Course).where(Course.slug == "demo"))
    assert course_role(find_user("instructor@example.edu"), demo) == Role.INSTRUCTOR
