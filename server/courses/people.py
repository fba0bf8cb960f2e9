"""Creating courses, and who is in them: roster imports, one person added, changed or dropped.

Every change is written to the audit log in the same transaction; the caller commits
(import_roster commits itself), then sends the mail (`Applied.deliver`): a link mailed
before its commit could be dead.
New accounts get a one-time link to set their password, e-mailed (server/mail.py)
and returned, so the instructor can also hand it over.
"""

import re
from dataclasses import dataclass, field, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

from server import accounts, mail
from server.courses import audit
from server.courses.roster import Person, Roster
from server.extensions import db
from server.models import Course, Enrollment, PasswordPurpose, Role, User

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
TITLE_MAX, TERM_MAX = 200, 64
# Site roles that may create a course (and become its first instructor).
CREATORS = frozenset({Role.INSTRUCTOR, Role.ADMIN})
COURSE_ROLES = (Role.STUDENT, Role.TA, Role.INSTRUCTOR)


class Refused(ValueError):
    """A change that cannot be made as asked; the message says why, `field` what it is about."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.field = field


class SlugTaken(Refused):
    """Another course has this slug."""


def may_create_courses(user: User) -> bool:
    """Tell whether a user may create courses: site instructors and admins."""
    return user.role in CREATORS


def create_course(
    slug: str, title: str, term: str = "", timezone: str = "UTC", actor: User | None = None
) -> Course:
    """Add a course, its creator (if any) as its first instructor, and the audit entry."""
    slug, title, term, timezone = slug.strip(), title.strip(), term.strip(), timezone.strip()
    _check_course(slug, title, term, timezone)
    if db.session.scalar(sa.select(Course.id).where(Course.slug == slug)) is not None:
        raise SlugTaken(f"the slug {slug!r} is taken", "slug")
    course = Course(slug=slug, title=title, term=term, timezone=timezone)
    db.session.add(course)
    try:
        db.session.flush()
    except sa.exc.IntegrityError:  # another request made it since the check above
        db.session.rollback()
        raise SlugTaken(f"the slug {slug!r} is taken", "slug") from None
    settings = {"title": title, "term": term, "timezone": timezone}
    audit.record(course, actor, "course.create", slug, None, settings)
    if actor is not None and actor.role != Role.ADMIN:  # an admin sees every course anyway
        _enroll(course, actor, Role.INSTRUCTOR, actor)
    return course


def commit_course(course: Course) -> None:
    """Commit a new course; SlugTaken if another request took its slug meanwhile."""
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise SlugTaken(f"the slug {course.slug!r} is taken", "slug") from None


def _check_course(slug: str, title: str, term: str, timezone: str) -> None:
    """Refuse a malformed slug, title, term or time zone."""
    if "\x00" in slug + title + term + timezone:  # a form may carry it; PostgreSQL cannot
        raise Refused("a value holds a NUL character")
    if not SLUG.fullmatch(slug):
        raise Refused("the slug is 1 to 64 lower-case letters, digits and '-', e.g. ml101", "slug")
    if not title or len(title) > TITLE_MAX:
        raise Refused(f"the title is 1 to {TITLE_MAX} characters", "title")
    if len(term) > TERM_MAX:
        raise Refused(f"the term is at most {TERM_MAX} characters", "term")
    if not _is_zone(timezone):
        message = f"{timezone[:64]!r} is not a time zone name such as Europe/Berlin or UTC"
        raise Refused(message, "timezone")


def _is_zone(name: str) -> bool:
    """Tell whether a name is an IANA time zone."""
    if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


@dataclass(frozen=True)
class Member:
    """Someone enrolled in a course."""

    email: str
    name: str
    role: Role


@dataclass
class Plan:
    """What importing a roster would do: the preview, and what `apply` carries out."""

    added: list[Person] = field(default_factory=list)
    changed: list[tuple[Person, Role]] = field(default_factory=list)  # and the role before
    unchanged: list[Person] = field(default_factory=list)
    dropped: list[Member] = field(default_factory=list)  # enrolled, not in the file
    problems: list[str] = field(default_factory=list)


def members(course: Course) -> list[Member]:
    """Return who is enrolled in a course, by role then name."""
    query = sa.select(User.email, User.name, Enrollment.role).join(Enrollment)
    rows = db.session.execute(query.where(Enrollment.course_id == course.id))
    order = {role: i for i, role in enumerate(reversed(COURSE_ROLES))}
    return sorted((Member(*row) for row in rows), key=lambda m: (order[m.role], m.name, m.email))


def plan_import(course: Course, roster: Roster, actor: User | None = None) -> Plan:
    """Compare a roster with the course's enrollments.

    The actor's own enrollment never changes: an instructor cannot lock themselves out.
    """
    current = {m.email: m for m in members(course)}
    plan = Plan(problems=list(roster.problems))
    me = actor.email if actor is not None else None
    for person in roster.people:
        member = current.pop(person.email, None)
        if member is None:
            plan.added.append(person)
            continue
        person = replace(person, name=member.name)  # a roster never renames an account
        if member.role == person.role:
            plan.unchanged.append(person)
        elif person.email == me:
            where = f"{person.what} {person.line}"
            plan.problems.append(f"{where}: your own role stays {member.role.value}")
        else:
            plan.changed.append((person, member.role))
    plan.dropped = [m for m in current.values() if m.email != me]
    return plan


@dataclass
class Applied:
    """What an import or an addition did: the links of accounts made for it."""

    links: dict[str, str] = field(default_factory=dict)  # e-mail -> set-password URL
    mails: list[tuple[str, str, str]] = field(default_factory=list)  # to, subject, body
    not_mailed: list[str] = field(default_factory=list)  # the mail server refused these

    def deliver(self) -> None:
        """Send the mail, once the changes are committed."""
        for to, subject, body in self.mails:
            if not mail.send(to, subject, body):
                self.not_mailed.append(to)
        self.mails.clear()


def apply_import(
    course: Course, plan: Plan, actor: User | None, base_url: str, drop: bool = False
) -> Applied:
    """Carry out a plan: add and change people, drop the others if asked; audited."""
    applied = Applied()
    for person in plan.added:
        _add(course, person, actor, base_url, applied)
    for person, _before in plan.changed:
        set_role(course, person.email, person.role, actor)
    if drop:
        for member in plan.dropped:
            drop_person(course, member.email, actor)
    return applied


def import_roster(
    course: Course,
    roster: Roster,
    actor: User | None,
    base_url: str,
    drop: bool = False,
    dry_run: bool = False,
) -> tuple[Plan, Applied]:
    """Plan a roster and, unless a dry run, apply it, commit and send the mail.

    Two imports at once may both add the same new person: the later commit then fails
    on the unique e-mail or enrollment, and is planned once more against what the
    earlier one stored.
    """
    for attempt in (1, 2):
        plan = plan_import(course, roster, actor)
        if dry_run:
            return plan, Applied()
        try:
            applied = apply_import(course, plan, actor, base_url, drop=drop)
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()
            if attempt == 2:
                raise
            continue
        applied.deliver()
        return plan, applied
    raise AssertionError("unreachable")


def _add(course: Course, person: Person, actor: User | None, base_url: str, applied: Applied):
    """Enroll a person; a new account also gets its password link."""
    user = accounts.find_user(person.email)
    new = user is None
    if new:
        user = accounts.new_user(person.email, person.name or person.email.split("@")[0])
        db.session.flush()
    _enroll(course, user, person.role, actor, new_account=new)
    if new:
        link = password_link(user, PasswordPurpose.SET, base_url)
        applied.links[user.email] = link
        subject = f"Your Rubric account for {course.title}"
        applied.mails.append((user.email, subject, _welcome(course, link)))


def _enroll(course: Course, user: User, role: Role, actor: User | None, new_account=False):
    db.session.add(Enrollment(course_id=course.id, user_id=user.id, role=role))
    after = {"role": role.value, "name": user.name} | ({"new_account": True} if new_account else {})
    audit.record(course, actor, "roster.add", user.email, None, after)


def set_role(course: Course, email: str, role: Role, actor: User | None) -> None:
    """Change an enrolled person's role in the course."""
    enrollment = _enrollment(course, email)
    if enrollment is None:
        raise Refused(f"{email} is not in the course")
    if enrollment.role == role:
        return
    if actor is not None and enrollment.user_id == actor.id:
        raise Refused("you cannot change your own role; ask another instructor")
    before = enrollment.role
    enrollment.role = role
    audit.record(course, actor, "roster.role", email, {"role": before.value}, {"role": role.value})


def drop_person(course: Course, email: str, actor: User | None) -> None:
    """Take someone out of the course; their account and their work stay."""
    enrollment = _enrollment(course, email)
    if enrollment is None:
        raise Refused(f"{email} is not in the course")
    if actor is not None and enrollment.user_id == actor.id:
        raise Refused("you cannot drop yourself; ask another instructor")
    audit.record(course, actor, "roster.drop", email, {"role": enrollment.role.value}, None)
    db.session.delete(enrollment)


def _enrollment(course: Course, email: str) -> Enrollment | None:
    if "\x00" in email:  # no address holds one, and PostgreSQL's text cannot
        return None
    query = sa.select(Enrollment).join(User).where(Enrollment.course_id == course.id)
    return db.session.scalar(query.where(User.email == email.strip().lower()))


def password_link(user: User, purpose: PasswordPurpose, base_url: str) -> str:
    """A one-time link to the page that sets the user's password."""
    token = accounts.create_password_token(user, purpose)
    return f"{base_url.rstrip('/')}/password/set/{token}"


def _welcome(course: Course, link: str) -> str:
    days = accounts.PASSWORD_LINK_LIFETIME[PasswordPurpose.SET].days
    return (
        f"You have been added to {course.title} on Rubric.\n\n"
        f"Choose your password here (the link works once, for {days} days):\n{link}\n"
    )


def reset_link(email: str, base_url: str) -> Applied:
    """Make a "forgot password" link if the account exists, as mail to deliver after commit."""
    applied = Applied()
    user = accounts.find_user(email) if "\x00" not in email else None
    if user is None:
        return applied
    link = password_link(user, PasswordPurpose.RESET, base_url)
    minutes = int(accounts.PASSWORD_LINK_LIFETIME[PasswordPurpose.RESET].total_seconds() // 60)
    body = (
        "Someone asked to reset your Rubric password. If it was you, choose a new one here "
        f"(the link works once, for {minutes} minutes):\n{link}\n\n"
        "If it was not you, ignore this message: your password stays as it is.\n"
    )
    applied.mails.append((user.email, "Reset your Rubric password", body))
    return applied
