"""GET /api/v1/courses: where a script finds the course slugs the other routes take."""

from server.accounts import create_token, ensure_user
from server.extensions import db
from server.models import Course


def test_each_user_sees_their_courses_and_role(client, demo, student, instructor):
    other = Course(slug="other", title="Another course")  # nobody of the demo is in it
    db.session.add(other)
    db.session.commit()

    mine = client.get("/api/v1/courses", headers=student)
    taught = client.get("/api/v1/courses", headers=instructor)

    assert mine.status_code == 200
    assert mine.json == {"courses": [{"slug": "demo", "title": demo.title, "role": "student"}]}
    assert taught.json["courses"] == [{"slug": "demo", "title": demo.title, "role": "instructor"}]


def test_a_user_in_no_course_gets_an_empty_list(client, demo):
    loner = ensure_user("loner@example.edu", "Lone Learner", "password")
    token = create_token(loner)
    db.session.commit()

    response = client.get("/api/v1/courses", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200 and response.json == {"courses": []}


def test_without_a_token_it_is_401(client, demo):
    response = client.get("/api/v1/courses")

    assert response.status_code == 401 and response.json["error"]["code"] == "unauthorized"
