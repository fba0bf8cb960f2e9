"""Pages for courses and people: a new course, the roster, the audit log, password links,
the outbox, and students' own API tokens. Thin: the work is in server/courses and accounts.
"""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from server import accounts, mail
from server.courses import audit, get_course, people, require_instructor
from server.courses.roster import Roster, RosterUnreadable, decode, read_csv, read_json
from server.extensions import db, limiter
from server.models import Role
from server.web import bp
from server.web.auth import PasswordForm, account_page, log_in
from server.web.course_admin import zoned

ROLE_CHOICES = {role.value: role for role in people.COURSE_ROLES}
PASSWORD_MIN, PASSWORD_MAX = 8, 200
AUDIT_PAGE = 50  # entries per page of the audit log


def _base_url() -> str:
    """Where set-password links point: RUBRIC_BASE_URL, else this request's own address."""
    return current_app.config["RUBRIC_BASE_URL"] or request.url_root


def _instructed(course: str):
    """The course, if the current user configures it (404 if not theirs, 403 for a TA)."""
    found = get_course(current_user, course)
    require_instructor(current_user, found)
    return found


@bp.route("/courses/new", methods=["GET", "POST"])
@login_required
def new_course():
    """Create a course (site instructors and admins); the creator becomes its instructor."""
    if not people.may_create_courses(current_user):
        abort(403)
    values = {k: request.form.get(k, "") for k in ("slug", "title", "term", "timezone")}
    if request.method == "GET":
        return render_template("course_new.html", values=values | {"timezone": "UTC"})
    try:
        made = people.create_course(**values, actor=current_user)
        people.commit_course(made)
    except people.Refused as refused:
        flash(str(refused), "error")
        return render_template("course_new.html", values=values), 400
    flash(f"The course {made.title} is created. Add its people below.", "info")
    return redirect(url_for("web.people", course=made.slug))


@bp.get("/courses/<course>/people", endpoint="people")
@login_required
def people_page(course: str):
    """The course's people, with forms to add, change, drop and import (instructors)."""
    return _people(_instructed(course))


def _people(found, status: int = 200, links: dict | None = None):
    members = people.members(found)
    page = render_template(
        "people.html",
        course=found,
        members=members,
        roles=list(ROLE_CHOICES),
        links=links or {},
        me=current_user.email,
    )
    return page, status


def _refused(found, message: str):
    flash(message, "error")
    return _people(found, 400)


@bp.post("/courses/<course>/people/add")
@login_required
def add_person(course: str):
    """Add one person (a new account gets its set-password link), or change their role."""
    found = _instructed(course)
    # A roster of one: the same checks, the same retry when two requests add one person.
    roster = _one_person(request.form)
    plan, applied = people.import_roster(found, roster, current_user, _base_url())
    if plan.problems:
        return _refused(found, plan.problems[0].removeprefix("item 1: "))
    flash(f"{roster.people[0].email} is in the course.", "info")
    return _people(found, links=applied.links)


def _one_person(form) -> Roster:
    """One person from a form, checked as a roster row is."""
    fields = {key: form.get(key, "") for key in ("email", "name", "role")}
    return read_json([fields])


@bp.post("/courses/<course>/people/role")
@login_required
def change_role(course: str):
    """Change one person's role in the course."""
    found = _instructed(course)
    role = ROLE_CHOICES.get(request.form.get("role", ""))
    if role is None:
        return _refused(found, "Choose student, ta or instructor.")
    email = request.form.get("email", "")
    try:
        people.set_role(found, email, role, current_user)
    except people.Refused as refused:
        return _refused(found, str(refused))
    db.session.commit()
    flash(f"{email} is now {role.value} in the course.", "info")
    return redirect(url_for("web.people", course=found.slug))


@bp.post("/courses/<course>/people/drop")
@login_required
def drop_person(course: str):
    """Take one person out of the course (their account and work stay)."""
    found = _instructed(course)
    email = request.form.get("email", "")
    try:
        people.drop_person(found, email, current_user)
    except people.Refused as refused:
        return _refused(found, str(refused))
    db.session.commit()
    flash(f"{email} is dropped from the course.", "info")
    return redirect(url_for("web.people", course=found.slug))


@bp.post("/courses/<course>/roster/preview")
@login_required
def roster_preview(course: str):
    """Show what importing an uploaded CSV would do, before anything changes."""
    found = _instructed(course)
    upload = request.files.get("roster")
    if upload is None or not upload.filename:
        return _refused(found, "Choose a CSV file to import.")
    data = upload.read()
    return _preview_or_apply(found, data, apply=False)


@bp.post("/courses/<course>/roster/apply")
@login_required
def roster_apply(course: str):
    """Import the previewed roster (carried in the form as text)."""
    found = _instructed(course)
    return _preview_or_apply(found, request.form.get("csv", "").encode(), apply=True)


def _preview_or_apply(found, data: bytes, apply: bool):
    try:
        roster = read_csv(data)
    except RosterUnreadable as unreadable:
        return _refused(found, f"The file cannot be imported: {unreadable}.")
    drop = request.form.get("drop") == "yes"
    plan, applied = people.import_roster(
        found, roster, current_user, _base_url(), drop=drop, dry_run=not apply
    )
    if not apply:
        # The apply step posts the text back, decoded as the reader decoded it.
        text = decode(data)
        return render_template("roster_preview.html", course=found, plan=plan, csv=text)
    dropped = len(plan.dropped) if drop else 0
    flash(
        f"Imported: {len(plan.added)} added, {len(plan.changed)} changed, "
        f"{len(plan.unchanged)} unchanged, {dropped} dropped.",
        "info",
    )
    return _people(found, links=applied.links)


@bp.get("/courses/<course>/audit", endpoint="audit")
@login_required
def audit_page(course: str):
    """The course's audit log, the newest first, 50 a page (?before= an entry id; instructors)."""
    found = _instructed(course)
    before = request.args.get("before", "")
    if before and not (before.isascii() and before.isdigit() and 0 < int(before) < 2**63):
        abort(404)  # a cursor only this page makes; another value is no page
    page, cursor = audit.page(found, AUDIT_PAGE, int(before) if before else None)
    entries = [audit.as_dict(e) | {"at_local": zoned(e.at, found)} for e in page]
    return render_template(
        "audit.html", course=found, entries=entries, older=cursor, paged=bool(before)
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10/hour", methods=["POST"])
def forgot_password():
    """Mail a one-time link to set a new password; the answer never says if the account exists."""
    if request.method == "GET":
        return render_template("password_forgot.html")
    email = request.form.get("email", "").strip()[:254]
    if email:
        applied = people.reset_link(email, _base_url())
        db.session.commit()
        applied.deliver()
    flash(
        "If an account has this e-mail, a link to set a new password is on its way. "
        "It works once, within an hour.",
        "info",
    )
    return redirect(url_for("web.login"))


@bp.route("/password/set/<token>", methods=["GET", "POST"])
def set_password(token: str):
    """Choose a password through a one-time link, then land logged in."""
    user = accounts.password_token_user(token)
    if user is None:
        message = "This link has been used, has expired or is not valid. Ask for a new one."
        return render_template("password_set.html", dead=message), 400
    if request.method == "GET":
        return render_template("password_set.html", user=user)
    password, again = request.form.get("password", ""), request.form.get("confirm", "")
    problem = _password_problem(password, again)
    if problem:
        return render_template("password_set.html", user=user, problem=problem), 400
    user = accounts.use_password_token(token, password)
    if user is None:  # another post of the same link came first
        return render_template("password_set.html", dead="This link has just been used."), 400
    log_in(user)  # commits the new password too
    flash("Your password is set.", "info")
    return redirect(url_for("web.index"))


def _password_problem(password: str, again: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        return f"Between {PASSWORD_MIN} and {PASSWORD_MAX} characters, please."
    if password != again:
        return "The two differ."
    return ""


@bp.get("/outbox")
@login_required
def outbox():
    """The mail kept when no SMTP server is set (site admins only): development's inbox."""
    if current_user.role != Role.ADMIN or current_app.config["RUBRIC_SMTP_URL"]:
        abort(404)
    return render_template("outbox.html", messages=mail.outbox())


@bp.post("/account/tokens")
@login_required
def create_token():
    """Make an API token for oneself; its value is shown once, on this answer only."""
    value = accounts.create_token(current_user)
    db.session.commit()
    return account_page(PasswordForm(), new_token=value)
