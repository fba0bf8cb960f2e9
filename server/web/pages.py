"""Course, quiz and result pages (the gradebook's are in server/web/gradebook.py)."""

from typing import Any

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.datastructures import MultiDict

from server.courses import (
    course_role,
    courses_for,
    get_assignment,
    get_course,
    is_staff,
)
from server.extensions import db
from server.models import Assignment, AssignmentKind, QuizAttempt, Role, User
from server.scoring import late
from server.scoring.gradebook import counted_score
from server.scoring.quizzes import (
    AttemptRefused,
    InvalidAnswers,
    attempt_result,
    attempt_status,
    attempts_of,
    current_quiz,
    public_questions,
    submit_attempt,
    unanswered,
)
from server.web import bp
from server.web.exercises import code_submission_limit, exercise_page


@bp.get("/")
@login_required
def index():
    """Send the user to their course, or list their courses."""
    courses = courses_for(current_user)
    if len(courses) == 1:
        return redirect(url_for("web.course", course=courses[0].slug))
    return render_template("courses.html", courses=courses)


@bp.get("/courses/<course>")
@login_required
def course(course: str):
    """Show a course's assignments with the user's attempts and counted scores."""
    found = get_course(current_user, course)
    rows = [_assignment_row(a, current_user) for a in found.assignments]
    return render_template(
        "course.html",
        course=found,
        rows=rows,
        is_staff=is_staff(current_user, found),
        configures=course_role(current_user, found) == Role.INSTRUCTOR,
    )


@bp.route("/courses/<course>/assignments/<slug>", methods=["GET", "POST"])
@login_required
@code_submission_limit
def assignment(course: str, slug: str):
    """Show a quiz or an exercise, and take what the student submits to it."""
    found = get_assignment(current_user, course, slug)
    if found.kind != AssignmentKind.QUIZ:
        return exercise_page(found)
    if request.method == "GET":
        return _quiz_page(found)
    responses = _form_answers(found, request.form)
    blank = unanswered(current_quiz(found), responses)
    if blank and not request.form.get("confirm_blank"):
        # The page's script asks first; without it, this page asks, keeping the answers.
        return _quiz_page(found, responses, blank=blank)
    try:
        recorded = submit_attempt(found, current_user, responses)
    except InvalidAnswers as exc:
        return _quiz_page(found, responses, errors=exc.problems), 422
    except AttemptRefused as exc:
        return _quiz_page(found, responses, refusal=str(exc)), 409
    return redirect(url_for("web.attempt", course=course, attempt_id=recorded.id), code=303)


@bp.get("/courses/<course>/attempts/<int:attempt_id>")
@login_required
def attempt(course: str, attempt_id: int):
    """Show a graded attempt: each question's response, score and explanation."""
    found = _visible_attempt(current_user, course, attempt_id)
    # Explanations and right choices only once the assignment releases them (staff: always).
    result = attempt_result(found, current_user)
    for question, answer in zip(result["questions"], found.answers, strict=True):
        question["choices"] = answer.question.spec.get("choices", {})
    return render_template("attempt.html", attempt=found, result=result)


def _assignment_row(assignment: Assignment, user: User) -> dict[str, Any]:
    """Return what the course page shows of one assignment for this user."""
    return {
        "assignment": assignment,
        "status": attempt_status(assignment, user),
        "dates": late.dates_for(assignment, user.id),  # the user's own: an extension moves them
        # The gradebook's own counted score: late penalties and overrides included.
        "score": counted_score(assignment.id, user.id),
    }


def _quiz_page(
    assignment: Assignment,
    responses: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    refusal: str | None = None,
    blank: list[str] | None = None,
) -> str:
    """Render the quiz form, keeping the student's responses and naming bad ones (or blanks)."""
    quiz = current_quiz(assignment)
    status = attempt_status(assignment, current_user)
    return render_template(
        "quiz.html",
        assignment=assignment,
        quiz=quiz,
        questions=public_questions(assignment, current_user, quiz),
        status=status,
        refusal=refusal or (str(status.refusal) if status.refusal else None),
        attempts=attempts_of(assignment, current_user),
        responses=responses or {},
        errors=errors or {},
        blank=blank or [],
    )


def _form_answers(assignment: Assignment, form: MultiDict) -> dict[str, Any]:
    """Read each question's response from the form, by question id."""
    return {q.key: _form_value(form.getlist(q.key)) for q in current_quiz(assignment).questions}


def _form_value(values: list[str]) -> str | list[str]:
    """Return one value as itself and several (ticked checkboxes) as a list."""
    # Multiple choice also accepts a single label, so no kind needs special-casing here.
    if len(values) == 1:
        return values[0]
    return values or ""


def _visible_attempt(user: User, course_slug: str, attempt_id: int) -> QuizAttempt:
    """Return an attempt the user may see: their own, or any in a course they teach."""
    found = get_course(user, course_slug)
    attempt = db.session.get(QuizAttempt, attempt_id)
    # Someone else's attempt looks exactly like a missing one, so ids reveal nothing.
    if attempt is None or attempt.assignment.course_id != found.id:
        abort(404)
    if attempt.user_id != user.id and not is_staff(user, found):
        abort(404)
    return attempt
