"""Grade passback end to end: a student launches from the real test platform, is scored,
and the score reaches the platform's gradebook through AGS, whatever the platform does
meanwhile (down, 503, slow, revoking tokens).

Rubric is served over HTTP (the platform fetches its key set from it); the sender is
the embedded one, started by the first committed score, with retries in fractions of
a second instead of the production 10 s.
"""

import re
import time
from datetime import datetime

import pytest
import requests
import sqlalchemy as sa

from server.extensions import db
from server.lti import passback, services
from server.models import Assignment, LtiPassback, LtiResourceLink, LtiUser, PassbackStatus, User
from server.scoring.quizzes import submit_attempt
from tests.conftest import SCALE_OUT

from .platform_lti1p3 import (
    AGS,
    INSTRUCTOR,
    form_fields,
    register_in_rubric,
    rubric_cli,
    running_platform,
    serving,
)
from .platform_lti1p3 import User as LmsUser

QUIZ = "l2-regularization-quiz"
EXERCISE = "l2-regularization"
SCORE_TYPE = "application/vnd.ims.lis.v1.score+json"


@pytest.fixture
def rubric(app, demo, tmp_path):
    """Rubric served on 127.0.0.1, retrying passback within a second.

    In scale-out the workers send (tests/scaleout/cluster.py gives them the same quick
    retries), signing with keys from the default folder, which this app must publish.
    """
    if not SCALE_OUT:
        app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "lti-keys")
    app.config.update(
        RUBRIC_LTI_HTTP_TIMEOUT=1.0,
        RUBRIC_LTI_PASSBACK_POLL_SECONDS=0.2,
        RUBRIC_LTI_PASSBACK_BACKOFF_SECONDS=0.2,
        RUBRIC_LTI_PASSBACK_BACKOFF_MAX_SECONDS=0.5,
    )
    services.forget_tokens()
    with serving(app) as url:
        yield url
    passback.stop_sender(app)
    services.forget_tokens()


@pytest.fixture
def lms(app, rubric):
    """The platform, registered, its course linked to the demo course; links open the quiz."""
    with running_platform(rubric) as platform:
        register_in_rubric(app, platform)
        platform.settings.custom = {"assignment": QUIZ}
        yield platform


def launch(platform, sub: str = "lms-user-1", name: str = "Ada Lovelace", roles=None):
    """A user's click on the activity in the LMS; their logged-in browser session."""
    user = LmsUser(sub=sub, name=name, email=f"{sub}@lms.example")
    platform.settings.user = user if roles is None else LmsUser(sub, name, user.email, roles)
    session = requests.Session()
    page = session.get(platform.start_url(), timeout=30)
    fields = form_fields(page.text)
    data = {"id_token": fields["id_token"], "state": fields["state"]}
    # The state cookie is Secure: a browser sends it back over https; here, by hand.
    cookie = {"rubric_lti_state": session.cookies.get("rubric_lti_state", "")}
    landed = session.post(fields["action"], data=data, cookies=cookie, timeout=30)
    assert landed.status_code == 200 and "/courses/" in landed.url, landed.text
    return session


def submit_quiz(rubric: str, session: requests.Session, right: int) -> None:
    """Submit the quiz through its page with the first `right` answers right."""
    url = f"{rubric}/courses/demo/assignments/{QUIZ}"
    token = csrf_token(session.get(url, timeout=30).text)
    answers = {"q1": "b", "q2": "0.998", "q3": "b"}
    given = dict(list(answers.items())[:right])
    # Questions left blank: sent as the page's script sends it once the student agreed.
    form = given | {"csrf_token": token, "confirm_blank": "1"}
    posted = session.post(url, data=form, timeout=30)
    assert posted.status_code == 200 and "/attempts/" in posted.url, posted.text


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match[1]


def eventually(check, seconds: float = 20):
    """Wait until check() is true (the sender works in the background)."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "not reached in time"
        time.sleep(0.05)
    return found


def rows() -> list[LtiPassback]:
    """The outbox as committed by the server's threads."""
    db.session.remove()
    return list(db.session.scalars(sa.select(LtiPassback).order_by(LtiPassback.id)))


def counted(sub: str, platform) -> tuple[float, float]:
    """The score Rubric counts for the LMS user `sub` on the quiz."""
    from server.scoring.gradebook import counted_score

    db.session.remove()
    user_id = db.session.scalar(
        sa.select(LtiUser.user_id).filter_by(issuer=platform.issuer, sub=sub)
    )
    quiz = db.session.scalar(sa.select(Assignment).filter_by(slug=QUIZ))
    return counted_score(quiz.id, user_id)


def scores_of(platform, sub: str) -> list[dict]:
    return [score for _, score in platform.scores if score["userId"] == sub]


def test_a_quiz_score_reaches_the_lms_gradebook(lms, rubric):
    submit_quiz(rubric, launch(lms), right=2)
    (item, score) = eventually(lambda: lms.scores)[0]
    assert item == "item-resource-link-1"
    given, maximum = counted("lms-user-1", lms)
    assert (score["scoreGiven"], score["scoreMaximum"]) == (given, maximum)
    assert score["userId"] == "lms-user-1"
    assert score["activityProgress"] == "Completed"
    assert score["gradingProgress"] == "FullyGraded"
    assert datetime.fromisoformat(score["timestamp"]).utcoffset() is not None
    (token,) = [form for kind, form in lms.received if kind == "token"]
    assert AGS + "score" in token["scope"].split()
    assert eventually(lambda: rows()[0].status == PassbackStatus.SENT)


def test_an_exercise_score_reaches_the_lms_gradebook(app, lms, rubric):
    from server.config import PROJECT_ROOT
    from server.submissions import queue, service

    lms.settings.custom = {"assignment": EXERCISE}
    lms.settings.resource_link_id = "resource-link-exercise"
    launch(lms)
    db.session.remove()
    user = db.session.scalar(sa.select(User).join(LtiUser).filter_by(sub="lms-user-1"))
    exercise = db.session.scalar(sa.select(Assignment).filter_by(slug=EXERCISE))
    code = (PROJECT_ROOT / "exercises" / EXERCISE / "reference.py").read_text()
    submission = service.submit(exercise, user, code)
    queue.dispatch(app, submission.id)
    (item, score) = eventually(lambda: lms.scores, seconds=60)[0]
    assert item == "item-resource-link-exercise"
    assert score["scoreGiven"] == score["scoreMaximum"] > 0


def test_two_quick_changes_send_only_the_newest_and_timestamps_increase(lms, rubric):
    browser = launch(lms)
    lms.server.stop()
    submit_quiz(rubric, browser, right=1)
    first = rows()[0].changed_at
    submit_quiz(rubric, browser, right=2)
    # A try of the second score has failed: any try of the first one is over (one lease).
    (row,) = eventually(lambda: [row for row in rows() if row.version == 2 and row.tries])
    assert row.changed_at > first
    lms.server.start()
    eventually(lambda: rows()[0].status == PassbackStatus.SENT)
    (score,) = scores_of(lms, "lms-user-1")
    assert score["scoreGiven"] == counted("lms-user-1", lms)[0] == 2
    assert datetime.fromisoformat(score["timestamp"]) == row.changed_at
    submit_quiz(rubric, browser, right=3)
    eventually(lambda: len(lms.scores) == 2)
    stamps = [datetime.fromisoformat(score["timestamp"]) for _, score in lms.scores]
    assert stamps[0] < stamps[1]
    assert lms.scores[1][1]["scoreGiven"] == 3


def test_an_lms_down_mid_run_gets_every_score_when_back(lms, rubric):
    students = [
        (f"lms-student-{n}", launch(lms, f"lms-student-{n}", f"Student {n}")) for n in range(4)
    ]
    submit_quiz(rubric, students[0][1], right=1)
    eventually(lambda: len(lms.scores) == 1)
    lms.server.stop()
    for _, browser in students[1:]:
        submit_quiz(rubric, browser, right=2)
    retried = eventually(lambda: [row for row in rows() if row.tries >= 2])
    assert all(row.status == PassbackStatus.PENDING and row.last_error for row in retried)
    lms.server.start()
    eventually(lambda: all(row.status == PassbackStatus.SENT for row in rows()))
    for sub, _ in students:
        assert scores_of(lms, sub)[-1]["scoreGiven"] == counted(sub, lms)[0]


def test_503_then_recovery(lms, rubric):
    browser = launch(lms)
    lms.settings.knobs.service_status = 503
    submit_quiz(rubric, browser, right=3)
    failing = eventually(lambda: [row for row in rows() if row.tries >= 1])[0]
    assert "503" in failing.last_error and failing.status == PassbackStatus.PENDING
    assert lms.scores == []
    lms.settings.knobs.service_status = None
    eventually(lambda: rows()[0].status == PassbackStatus.SENT)
    assert scores_of(lms, "lms-user-1")[-1]["scoreGiven"] == 3


def test_a_slow_lms_times_out_and_is_retried(app, lms, rubric):
    browser = launch(lms)
    lms.settings.knobs.service_delay = 3 * app.config["RUBRIC_LTI_HTTP_TIMEOUT"]
    submit_quiz(rubric, browser, right=1)
    slow = eventually(lambda: [row for row in rows() if row.tries >= 1])[0]
    assert "timed out" in slow.last_error.lower()
    lms.settings.knobs.service_delay = 0
    eventually(lambda: rows()[0].status == PassbackStatus.SENT)
    assert scores_of(lms, "lms-user-1")[-1]["scoreGiven"] == 1


def test_revoked_tokens_are_replaced_and_the_score_delivered(lms, rubric):
    browser = launch(lms)
    submit_quiz(rubric, browser, right=1)
    eventually(lambda: len(lms.scores) == 1)
    revoked_at = int(time.time()) + 1  # the platform's iat is in whole seconds
    lms.settings.knobs.tokens_revoked_before = revoked_at
    while time.time() < revoked_at:
        time.sleep(0.05)
    submit_quiz(rubric, browser, right=2)
    eventually(lambda: len(lms.scores) == 2)
    assert lms.scores[1][1]["scoreGiven"] == 2
    # Without a fresh token after the 401 the cached, revoked one would fail for ever.
    assert len([form for kind, form in lms.received if kind == "token"]) >= 2


def test_an_unknown_line_item_fails_for_good_and_is_shown(lms, rubric):
    browser = launch(lms)
    db.session.remove()
    link = db.session.scalar(sa.select(LtiResourceLink))
    link.lineitem_url = f"{lms.url}/lineitems/deleted-in-the-lms"
    db.session.commit()
    submit_quiz(rubric, browser, right=1)
    failed = eventually(lambda: [row for row in rows() if row.status == PassbackStatus.FAILED])
    assert failed[0].tries == 1 and "404" in failed[0].last_error


def test_a_link_without_line_item_finds_or_creates_one(lms, rubric):
    lms.settings.services = False  # the launch names no line item...
    browser = launch(lms)
    db.session.remove()
    link = db.session.scalar(sa.select(LtiResourceLink))
    link.context.lineitems_url = f"{lms.url}/lineitems"  # ...but the course has a container
    db.session.commit()
    submit_quiz(rubric, browser, right=2)
    eventually(lambda: lms.scores)
    (created,) = [body for kind, body in lms.received if kind == "lineitem"]
    assert created["resourceLinkId"] == "resource-link-1"
    assert created["resourceId"] == QUIZ
    assert created["scoreMaximum"] == counted("lms-user-1", lms)[1]
    item = created["id"].rsplit("/", 1)[-1]
    assert lms.scores[0][0] == item
    db.session.remove()
    assert db.session.scalar(sa.select(LtiResourceLink)).lineitem_url == created["id"]
    submit_quiz(rubric, browser, right=3)
    eventually(lambda: len(lms.scores) == 2)
    assert len([kind for kind, _ in lms.received if kind == "lineitem"]) == 1


def test_cli_sync_resends_the_scores(app, lms, rubric):
    submit_quiz(rubric, launch(lms), right=2)
    eventually(lambda: rows()[0].status == PassbackStatus.SENT)
    passback.stop_sender(app)  # what follows is the command's own sending
    output = rubric_cli(app, "lti", "sync", "demo", QUIZ)
    assert "queued 1;" in output
    if not SCALE_OUT:  # else a worker's sender may take the row first
        assert "sent 1" in output
    eventually(lambda: len(lms.scores) == 2)
    assert [score["scoreGiven"] for _, score in lms.scores] == [2, 2]
    first, again = (datetime.fromisoformat(score["timestamp"]) for _, score in lms.scores)
    assert again > first


def test_cli_sync_names_a_missing_assignment(app, lms):
    result = app.test_cli_runner().invoke(args=["lti", "sync", "demo", "no-such-quiz"])
    assert result.exit_code == 2 and "no-such-quiz" in result.output


def test_a_student_without_lms_identity_is_not_sent(app, lms):
    quiz = db.session.scalar(sa.select(Assignment).filter_by(slug=QUIZ))
    launch(lms)  # binds the link to the quiz, for another student
    db.session.remove()
    local = db.session.scalar(sa.select(User).filter_by(email="student@example.edu"))
    quiz = db.session.get(Assignment, quiz.id)
    submit_attempt(quiz, local, {"q1": "b"})
    assert rows() == []


# The instructor's status page and resend button.


def instructor_browser(lms) -> requests.Session:
    """An instructor launching from the LMS: logged in to Rubric in that browser."""
    lms.settings.custom, lms.settings.resource_link_id = {}, "resource-link-teacher"
    session = launch(lms, "lms-teacher", "Grace Hopper", roles=[INSTRUCTOR])
    lms.settings.custom, lms.settings.resource_link_id = {"assignment": QUIZ}, "resource-link-1"
    return session


def row_state(page: str, email: str) -> str:
    match = re.search(rf'data-student="{re.escape(email)}" data-state="([a-z-]+)"', page)
    assert match, f"{email} is not on the page"
    return match[1]


def test_status_page_shows_each_student_and_resend_works(lms, rubric):
    sent = launch(lms, "lms-sent", "Sent Student")
    failing = launch(lms, "lms-failing", "Failing Student")
    submit_quiz(rubric, sent, right=2)
    eventually(lambda: rows() and rows()[0].status == PassbackStatus.SENT)
    lms.settings.knobs.service_status = 503
    submit_quiz(rubric, failing, right=1)
    eventually(lambda: any(row.tries for row in rows()))
    teacher = instructor_browser(lms)
    url = f"{rubric}/courses/demo/assignments/{QUIZ}/lms-grades"
    assert (
        f'href="/courses/demo/assignments/{QUIZ}/lms-grades"'
        in teacher.get(f"{rubric}/courses/demo/gradebook", timeout=30).text
    )  # the gradebook links the page
    page = teacher.get(url, timeout=30)
    assert page.status_code == 200, page.text
    assert row_state(page.text, "lms-sent@lms.example") == "sent"
    assert row_state(page.text, "lms-failing@lms.example") == "pending"
    assert "503" in page.text
    # A demo student never launched from the LMS: nothing can be sent for them.
    assert row_state(page.text, "student@example.edu") == "no-identity"

    lms.settings.knobs.service_status = None
    before = len(lms.scores)
    forged = teacher.post(f"{url}/resend", data={}, timeout=30)
    assert forged.status_code == 400  # no CSRF token
    resent = teacher.post(f"{url}/resend", data={"csrf_token": csrf_token(page.text)}, timeout=30)
    assert resent.status_code == 200 and resent.url == url
    assert "2 scores queued" in resent.text
    eventually(lambda: all(row.status == PassbackStatus.SENT for row in rows()))
    assert len(lms.scores) >= before + 2
    subs = {score["userId"] for _, score in lms.scores[before:]}
    assert subs == {"lms-sent", "lms-failing"}


def test_failed_row_is_shown_and_resend_of_one_student_sends_it(lms, rubric):
    browser = launch(lms)
    db.session.remove()
    link = db.session.scalar(sa.select(LtiResourceLink))
    good, link.lineitem_url = link.lineitem_url, f"{lms.url}/lineitems/gone"
    db.session.commit()
    submit_quiz(rubric, browser, right=1)
    eventually(lambda: rows()[0].status == PassbackStatus.FAILED)
    teacher = instructor_browser(lms)
    url = f"{rubric}/courses/demo/assignments/{QUIZ}/lms-grades"
    page = teacher.get(url, timeout=30).text
    assert row_state(page, "lms-user-1@lms.example") == "failed"
    assert "404" in page
    link = db.session.scalar(
        sa.select(LtiResourceLink).filter_by(resource_link_id="resource-link-1")
    )
    link.lineitem_url = good  # the instructor fixed the LMS column
    db.session.commit()
    student_id = rows()[0].user_id
    data = {"csrf_token": csrf_token(page), "student": str(student_id)}
    assert "1 score queued" in teacher.post(f"{url}/resend", data=data, timeout=30).text
    eventually(lambda: rows()[0].status == PassbackStatus.SENT)
    assert scores_of(lms, "lms-user-1")[-1]["scoreGiven"] == 1


def test_status_page_is_for_instructors_only(lms, rubric):
    student = launch(lms)
    url = f"{rubric}/courses/demo/assignments/{QUIZ}/lms-grades"
    assert student.get(url, timeout=30).status_code == 403
    token = csrf_token(student.get(f"{rubric}/courses/demo/assignments/{QUIZ}", timeout=30).text)
    assert student.post(f"{url}/resend", data={"csrf_token": token}, timeout=30).status_code == 403
    assert requests.get(url, timeout=30, allow_redirects=False).status_code in (302, 401)


# The outbox itself, without the LMS.


def test_backoff_doubles_up_to_its_cap(app):
    app.config.update(
        RUBRIC_LTI_PASSBACK_BACKOFF_SECONDS=10.0, RUBRIC_LTI_PASSBACK_BACKOFF_MAX_SECONDS=900.0
    )
    waits = [passback.backoff(n).total_seconds() for n in range(1, 10)]
    assert waits[:4] == [10, 20, 40, 80]
    assert max(waits) == 900 and waits == sorted(waits)


@pytest.mark.parametrize(
    ("lineitem", "scores"),
    [
        ("https://lms.example/api/lineitems/7", "https://lms.example/api/lineitems/7/scores"),
        ("https://lms.example/li/7/?type=x", "https://lms.example/li/7/scores?type=x"),
    ],
)
def test_scores_url_follows_the_line_item_path_and_keeps_its_query(lineitem, scores):
    assert passback.scores_url(lineitem) == scores
