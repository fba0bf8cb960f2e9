"""Deep linking and linking an LMS course from the browser, against the real test platform.

The platform (lti1p3platform over HTTP) sends the LtiDeepLinkingRequest and verifies
Rubric's signed LtiDeepLinkingResponse the way an LMS does: the signature against
Rubric's JWKS, iss, aud, deployment, nonce, version, data and the content items.
"""

import re
from datetime import timedelta
from html import unescape

import jwt
import pytest
import requests
import sqlalchemy as sa

from server.extensions import db
from server.models import (
    Assignment,
    AuditEntry,
    Course,
    Enrollment,
    Exercise,
    LtiContext,
    LtiPendingLaunch,
    LtiResourceLink,
    LtiToolKey,
    LtiUser,
    Question,
    Quiz,
    Role,
)
from server.models.types import utcnow

from .platform_lti1p3 import (
    INSTRUCTOR,
    LEARNER,
    User,
    form_fields,
    register_in_rubric,
    running_platform,
    serving,
)

QUIZ = "l2-regularization-quiz"
EXERCISE = "l2-regularization"
TEACHER = User(
    sub="lms-teacher", name="Grace Hopper", email="grace@lms.example", roles=[INSTRUCTOR]
)
STUDENT = User(sub="lms-student", name="Ada Lovelace", email="ada@lms.example", roles=[LEARNER])
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


@pytest.fixture
def rubric(app, demo, tmp_path):
    """Rubric's app served on 127.0.0.1, its keys in a temporary folder."""
    from server.lti.launch import forget_key_sets

    app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "lti-keys")
    forget_key_sets()  # a port reused from an earlier test must not reuse its keys
    with serving(app) as url:
        yield url
    forget_key_sets()


@pytest.fixture
def lms(app, rubric):
    """The platform on localhost, registered, its course linked to the demo course."""
    with running_platform(rubric) as platform:
        register_in_rubric(app, platform)
        platform.settings.user = TEACHER
        platform.settings.deep_linking = True
        yield platform


def launch(platform, session: requests.Session) -> requests.Response:
    """Click in the LMS: the login redirects, then the platform's form post (redirects followed)."""
    page = session.get(platform.start_url(), timeout=30)
    assert page.status_code == 200, page.text
    fields = form_fields(page.text)
    assert "id_token" in fields, page.text
    data = {"id_token": fields["id_token"], "state": fields["state"]}
    # A browser sends the Secure state cookie to http://127.0.0.1 (a secure context);
    # requests sends Secure cookies only over https, so it is given here.
    cookies = {c.name: c.value for c in session.cookies if c.name == "rubric_lti_state"}
    return session.post(fields["action"], data=data, cookies=cookies, timeout=30)


def csrf(page: requests.Response) -> str:
    """The CSRF token of a Rubric page's form."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def offered(page: requests.Response) -> list[str]:
    """The assignment slugs the picker offers."""
    return re.findall(r'name="assignment"\s+id="pick-[^"]*" value="([^"]+)"', page.text)


def choose(session, picker: requests.Response, *slugs: str, token: str | None = None):
    """Post the picker's form with these assignments."""
    data = {"csrf_token": token or csrf(picker), "assignment": list(slugs)}
    return session.post(picker.url, data=data, timeout=30)


def return_to_lms(session, answer: requests.Response) -> requests.Response:
    """What the auto-submitting page does: post the JWT to the LMS's return URL."""
    assert answer.status_code == 200, answer.text
    action = unescape(
        re.search(r'<form id="deep-link-return" method="post" action="([^"]+)"', answer.text).group(
            1
        )
    )
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)
    return session.post(action, data={"JWT": token}, timeout=30)


def refusal(answer: requests.Response, reason: str) -> None:
    """A 400 HTML page naming the reason."""
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith("text/html")
    assert reason in unescape(answer.text), answer.text


def fresh() -> None:
    """Read what the server's threads committed."""
    db.session.remove()


def demo_slugs() -> list[str]:
    """The demo course's assignment slugs, in the course's order."""
    fresh()
    course = db.session.scalar(sa.select(Course).filter_by(slug="demo"))
    return [a.slug for a in course.assignments]


def points_of(slug: str) -> float:
    """An assignment's maximum, read from the synced content, not from Rubric's helper."""
    fresh()
    assignment = db.session.scalar(sa.select(Assignment).filter_by(slug=slug))
    quiz = db.session.scalar(
        sa.select(Quiz).filter_by(slug=assignment.content_slug).order_by(Quiz.version.desc())
    )
    if quiz is not None:
        points = db.session.scalars(sa.select(Question.points).filter_by(quiz_id=quiz.id))
        return float(sum(points))
    query = sa.select(Exercise.max_score).filter_by(slug=assignment.content_slug)
    return float(db.session.scalar(query.order_by(Exercise.version.desc())))


def title_of(slug: str) -> str:
    fresh()
    return db.session.scalar(sa.select(Assignment.title).filter_by(slug=slug))


@pytest.mark.parametrize("slug", [QUIZ, EXERCISE])
def test_instructor_picks_an_assignment_and_the_lms_verifies_the_item(lms, rubric, slug):
    lms.settings.deep_link_data = "opaque-data-42"
    session = requests.Session()
    picker = launch(lms, session)
    assert picker.status_code == 200, picker.text
    assert re.search(r"/lti/deep-link/[^/]+$", picker.url)
    assert offered(picker) == demo_slugs()
    added = return_to_lms(session, choose(session, picker, slug))
    assert added.status_code == 200, added.text
    item = lms.content_items[0]
    assert item == {
        "type": "ltiResourceLink",
        "title": title_of(slug),
        "url": f"{rubric}/lti/launch",
        "custom": {"assignment": slug},
        "lineItem": {"label": title_of(slug), "scoreMaximum": points_of(slug), "resourceId": slug},
    }


def test_the_response_is_signed_by_the_current_key_and_echoes_the_data(lms):
    lms.settings.deep_link_data = "opaque-data-42"
    session = requests.Session()
    answer = choose(session, launch(lms, session), QUIZ)
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)
    claims = jwt.decode(token, options={"verify_signature": False})
    fresh()
    current = db.session.scalar(sa.select(LtiToolKey).where(LtiToolKey.retired_at.is_(None)))
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "typ": "JWT", "kid": current.kid}
    assert claims[DL + "data"] == "opaque-data-42"
    assert (
        claims["https://purl.imsglobal.org/spec/lti/claim/message_type"] == "LtiDeepLinkingResponse"
    )
    assert claims["exp"] > claims["iat"]
    assert return_to_lms(session, answer).status_code == 200


def test_after_a_key_rotation_the_new_key_signs_and_the_lms_still_verifies(app, lms):
    session = requests.Session()
    picker = launch(lms, session)
    rotated = app.test_cli_runner().invoke(args=["lti", "rotate-key"])
    assert rotated.exit_code == 0, rotated.output
    answer = choose(session, picker, QUIZ)
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)
    fresh()
    current = db.session.scalar(sa.select(LtiToolKey).where(LtiToolKey.retired_at.is_(None)))
    assert jwt.get_unverified_header(token)["kid"] == current.kid
    assert current.kid in rotated.output
    assert return_to_lms(session, answer).status_code == 200


def test_without_data_in_the_request_none_comes_back(lms):
    session = requests.Session()
    answer = choose(session, launch(lms, session), QUIZ)
    token = re.search(r'name="JWT" value="([^"]+)"', answer.text).group(1)
    assert DL + "data" not in jwt.decode(token, options={"verify_signature": False})
    assert return_to_lms(session, answer).status_code == 200


def test_the_added_activity_launches_onto_the_assignment_with_its_line_item(lms, rubric):
    session = requests.Session()
    assert return_to_lms(session, choose(session, launch(lms, session), QUIZ)).status_code == 200
    lms.open_activity()
    lms.settings.user = STUDENT
    landed = launch(lms, requests.Session())
    assert landed.status_code == 200, landed.text
    assert landed.url == f"{rubric}/courses/demo/assignments/{QUIZ}"
    fresh()
    link = db.session.scalar(sa.select(LtiResourceLink).filter_by(resource_link_id="dl-link-1"))
    assert link.assignment.slug == QUIZ
    assert link.lineitem_url == f"{lms.url}/lineitems/item-dl-link-1"
    assert lms.lineitems["item-dl-link-1"]["scoreMaximum"] == points_of(QUIZ)


def test_several_items_when_the_lms_accepts_several(lms):
    session = requests.Session()
    picker = launch(lms, session)
    assert 'type="checkbox"' in picker.text
    assert return_to_lms(session, choose(session, picker, QUIZ, EXERCISE)).status_code == 200
    assert [item["custom"]["assignment"] for item in lms.content_items] == [QUIZ, EXERCISE]


def test_one_item_only_when_the_lms_accepts_one(lms):
    lms.settings.accept_multiple = False
    session = requests.Session()
    picker = launch(lms, session)
    assert 'type="radio"' in picker.text
    refusal(choose(session, picker, QUIZ, EXERCISE), "accepts one activity")
    assert return_to_lms(session, choose(session, picker, QUIZ)).status_code == 200


def test_nothing_chosen_or_an_unknown_assignment_is_refused(lms):
    session = requests.Session()
    picker = launch(lms, session)
    refusal(choose(session, picker), "choose an assignment")
    refusal(choose(session, picker, "not-an-assignment"), "no assignment 'not-an-assignment'")


def test_a_teaching_assistant_gets_the_picker(lms):
    ta = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
    lms.settings.user = User(sub="lms-ta", name="Tess", email=None, roles=[ta])
    picker = launch(lms, requests.Session())
    assert picker.status_code == 200, picker.text
    assert offered(picker) == demo_slugs()


def test_a_student_deep_linking_launch_is_refused(lms):
    lms.settings.user = STUDENT
    refusal(launch(lms, requests.Session()), "only an instructor")


def test_a_platform_that_does_not_accept_resource_links_is_told_so(lms):
    lms.settings.accept_types = {"link"}
    refusal(launch(lms, requests.Session()), "not ltiResourceLink")


def test_a_choice_is_used_once(lms):
    session = requests.Session()
    picker = launch(lms, session)
    assert choose(session, picker, QUIZ).status_code == 200
    refusal(choose(session, picker, QUIZ), "already used")
    refusal(session.get(picker.url, timeout=30), "already used")


def test_an_expired_or_unknown_choice_is_refused(lms, rubric):
    session = requests.Session()
    picker = launch(lms, session)
    fresh()
    pending = db.session.scalar(sa.select(LtiPendingLaunch))
    pending.created_at = utcnow() - timedelta(minutes=31)
    db.session.commit()
    refusal(session.get(picker.url, timeout=30), "expired")
    refusal(choose(session, picker, QUIZ), "expired")
    refusal(session.get(f"{rubric}/lti/deep-link/made-up", timeout=30), "unknown")


def test_another_user_cannot_use_the_instructors_choice(lms):
    teacher = requests.Session()
    picker = launch(lms, teacher)
    lms.settings.user = User(sub="lms-teacher-2", name="Other", email=None, roles=[INSTRUCTOR])
    other = requests.Session()
    own = launch(lms, other)  # a picker of their own, with a valid CSRF token
    other_answer = other.post(
        picker.url, data={"csrf_token": csrf(own), "assignment": QUIZ}, timeout=30
    )
    refusal(other_answer, "another log-in")
    refusal(other.get(picker.url, timeout=30), "another log-in")
    assert choose(teacher, picker, QUIZ).status_code == 200  # still the teacher's


def test_the_same_user_in_another_browser_cannot_use_it(lms):
    first = requests.Session()
    picker = launch(lms, first)
    second = requests.Session()
    own = launch(lms, second)
    answer = second.post(picker.url, data={"csrf_token": csrf(own), "assignment": QUIZ}, timeout=30)
    refusal(answer, "another log-in")


def test_the_picker_post_needs_the_csrf_token(lms):
    session = requests.Session()
    picker = launch(lms, session)
    answer = session.post(picker.url, data={"assignment": QUIZ}, timeout=30)
    refusal(answer, "CSRF")
    refusal(choose(session, picker, QUIZ, token="forged-token"), "CSRF")
    assert choose(session, picker, QUIZ).status_code == 200  # not used up by the attempts


def test_a_signed_out_browser_is_refused(lms, rubric):
    session = requests.Session()
    picker = launch(lms, session)
    refusal(requests.get(picker.url, timeout=30), "not signed in")


# An LMS course that is not linked yet.


def unlinked(lms, context_id: str = "lms-course-202", title: str = "Deep Learning 202"):
    lms.settings.context_id = context_id
    lms.settings.context_title = title


def link(session, page: requests.Response, **fields) -> requests.Response:
    """Post one of the unlinked page's forms."""
    action = re.search(r'<form method="post" action="(/lti/link/[^"]+)"', page.text).group(1)
    url = requests.compat.urljoin(page.url, unescape(action))
    return session.post(url, data={"csrf_token": csrf(page)} | fields, timeout=30)


def context_course(lms, context_id: str = "lms-course-202") -> LtiContext | None:
    fresh()
    return db.session.scalar(
        sa.select(LtiContext).filter_by(issuer=lms.issuer, context_id=context_id)
    )


def role_in(course_id: int, sub: str) -> Role | None:
    fresh()
    user_id = db.session.scalar(sa.select(LtiUser.user_id).filter_by(sub=sub))
    query = sa.select(Enrollment.role).filter_by(course_id=course_id, user_id=user_id)
    return db.session.scalar(query)


def test_deep_linking_from_an_unlinked_course_creates_the_rubric_course(lms):
    unlinked(lms)
    lms.settings.context_label = "DL202"
    session = requests.Session()
    page = launch(lms, session)
    assert page.status_code == 200, page.text
    assert 'value="Deep Learning 202"' in page.text
    picker = link(session, page, action="create", title="Deep Learning 202")
    assert picker.status_code == 200, picker.text
    assert "/lti/deep-link/" in picker.url
    assert "This course has no assignments yet" in picker.text
    context = context_course(lms)
    assert (context.course.slug, context.course.title) == ("dl202", "Deep Learning 202")
    assert context.lineitems_url == f"{lms.url}/lineitems"
    assert context.memberships_url == f"{lms.url}/memberships"
    assert role_in(context.course_id, TEACHER.sub) == Role.INSTRUCTOR
    entry = db.session.scalar(sa.select(AuditEntry).filter_by(course_id=context.course_id))
    assert (entry.action, entry.actor) == ("course.create", TEACHER.email)


def test_a_created_course_gets_a_free_slug(lms):
    unlinked(lms, title="Demo")
    lms.settings.deep_linking = False
    session = requests.Session()
    page = launch(lms, session)
    course_page = link(session, page, action="create", title="Demo")
    assert course_page.status_code == 200, course_page.text
    assert context_course(lms).course.slug == "demo-2"  # "demo" is the demo course's
    assert course_page.url.endswith("/courses/demo-2")


def test_an_instructor_links_an_existing_course_they_teach(lms, rubric):
    lms.settings.deep_linking = False
    session = requests.Session()
    assert launch(lms, session).url == f"{rubric}/courses/demo"  # teaches demo from now on
    unlinked(lms)
    page = launch(lms, session)
    assert 'option value="demo"' in page.text
    landed = link(session, page, action="existing", course="demo")
    assert landed.url == f"{rubric}/courses/demo"
    assert context_course(lms).course.slug == "demo"
    lms.settings.user = STUDENT
    assert launch(lms, requests.Session()).url == f"{rubric}/courses/demo"


def test_linking_then_deep_linking_goes_on_to_the_picker(lms, rubric):
    lms.settings.deep_linking = False
    session = requests.Session()
    launch(lms, session)
    unlinked(lms)
    lms.settings.deep_linking = True
    picker = link(session, launch(lms, session), action="existing", course="demo")
    assert offered(picker) == demo_slugs()
    assert return_to_lms(session, choose(session, picker, QUIZ)).status_code == 200


def test_a_course_the_instructor_does_not_teach_cannot_be_linked(lms):
    unlinked(lms)
    session = requests.Session()
    page = launch(lms, session)
    assert 'option value="demo"' not in page.text  # a new LMS teacher teaches nothing yet
    refusal(link(session, page, action="existing", course="demo"), "you do not instruct")
    assert context_course(lms) is None


def test_a_student_from_an_unlinked_course_is_told_to_wait(lms):
    unlinked(lms)
    lms.settings.deep_linking = False
    lms.settings.user = STUDENT
    page = launch(lms, requests.Session())
    assert page.status_code == 200
    assert "has not linked this course" in page.text
    assert "<form" not in page.text.split("<main", 1)[1]


def test_a_student_cannot_use_an_instructors_link_page(lms):
    unlinked(lms)
    lms.settings.deep_linking = False
    teacher = requests.Session()
    page = launch(lms, teacher)
    lms.settings.user = STUDENT
    student = requests.Session()
    token = csrf(launch(lms, student))  # the log-out form's token of the student's session
    action = re.search(r'<form method="post" action="(/lti/link/[^"]+)"', page.text).group(1)
    url = requests.compat.urljoin(page.url, unescape(action))
    answer = student.post(
        url, data={"csrf_token": token, "action": "create", "title": "Mine"}, timeout=30
    )
    refusal(answer, "another log-in")
    assert context_course(lms) is None


def test_a_second_link_of_the_same_course_is_refused(lms):
    unlinked(lms)
    first, second = requests.Session(), requests.Session()
    first_page, second_page = launch(lms, first), launch(lms, second)
    assert link(first, first_page, action="create", title="Deep Learning 202").status_code == 200
    refusal(link(second, second_page, action="create", title="Again"), "already linked")
