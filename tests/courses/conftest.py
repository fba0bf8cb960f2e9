"""Fixtures for courses and people: the demo course plus a TA, and a second course."""

import pytest

from server.accounts import ensure_user
from server.courses import enroll
from server.courses.people import create_course
from server.extensions import db
from server.models import Role

TA = "ta@example.edu"
OTHER_INSTRUCTOR = "other-instructor@example.edu"


@pytest.fixture(autouse=True)
def outbox_dir(app, tmp_path):
    """Each test's mail in its own outbox folder."""
    app.config["RUBRIC_OUTBOX_DIR"] = str(tmp_path / "outbox")


@pytest.fixture
def staff(demo):
    """A TA of the demo course, and a second course "other" with its own instructor and TA."""
    ta = ensure_user(TA, "Tess Assistant", "ta-password")
    enroll(ta, demo, Role.TA)
    other = create_course("other", "Another course")
    teacher = ensure_user(OTHER_INSTRUCTOR, "Olga Other", "other-pass", role=Role.INSTRUCTOR)
    enroll(teacher, other, Role.INSTRUCTOR)
    enroll(ensure_user("other-ta@example.edu", "Otto", "other-pass"), other, Role.TA)
    db.session.commit()
    return other


@pytest.fixture
def headers(staff, token_for):
    """Authorization headers by who: instructor, ta, student, other (course) instructor."""
    return {
        "instructor": token_for("instructor@example.edu"),
        "ta": token_for(TA),
        "student": token_for("student@example.edu"),
        "other": token_for(OTHER_INSTRUCTOR),
        "other_ta": token_for("other-ta@example.edu"),
    }
