"""Creating courses, importing rosters and reading the audit log (instructors)."""

import orjson
from flask import current_app, g, request, url_for
from pydantic import TypeAdapter, ValidationError

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.api.inputs import MAX_ID, body
from server.api.models import CourseRequest, RosterRow
from server.courses import audit, get_course, people, require_instructor
from server.courses.roster import RosterUnreadable, read_csv, read_json

ROSTER_ROWS = TypeAdapter(list[RosterRow])
FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


@bp.post("/courses")
@token_required
def create_course():
    """Create a course; its creator becomes its first instructor.

    Site instructors and admins only (403 for others); 409 slug_taken.
    """
    if not people.may_create_courses(g.user):
        raise ApiError(403, "forbidden", "only instructors and admins create courses")
    wanted = body(CourseRequest)
    try:
        made = people.create_course(
            wanted.slug, wanted.title, wanted.term, wanted.timezone, actor=g.user
        )
        people.commit_course(made)
    except people.SlugTaken as taken:
        raise ApiError(409, "slug_taken", str(taken), field="slug") from None
    except people.Refused as refused:
        raise ApiError(422, "invalid_course", str(refused), field=refused.field) from None
    answer = {"slug": made.slug, "title": made.title, "term": made.term}
    return answer | {"timezone": made.timezone, "role": "instructor"}, 201


@bp.post("/courses/<course>/roster")
@token_required
def import_roster(course: str):
    """Add and update the course's people from a CSV body or a JSON list.

    Columns or fields email, name, role (student, ta, instructor). Idempotent. Bad rows
    are listed in `errors` and skipped; dry_run=true changes nothing; drop=true also
    takes out the people missing from the roster. Instructors only.
    """
    found = get_course(g.user, course)
    require_instructor(g.user, found)
    dry_run, drop = _flag("dry_run"), _flag("drop")
    try:
        roster = _roster()
    except RosterUnreadable as unreadable:
        raise ApiError(422, "invalid_roster", str(unreadable)) from None
    plan, applied = people.import_roster(found, roster, g.user, _base_url(), drop, dry_run)
    return _report(found.slug, plan, dry_run, drop and not dry_run, applied.links)


def _flag(name: str) -> bool:
    """A true/false query parameter; 422 naming it otherwise."""
    value = request.args.get(name, "").strip().lower()
    if value not in FLAGS:
        raise ApiError(422, f"invalid_{name}", f"'{name}' is true or false", field=name)
    return FLAGS[value]


def _roster():
    """Read the body as a CSV roster or, sent as JSON, as a list of people."""
    data = request.get_data(cache=True)
    if request.mimetype == "application/json":
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            message = f"the request body is not valid JSON: {exc}"
            raise ApiError(400, "invalid_json", message) from None
        _check_shape(items)
        return read_json(items)
    if request.mimetype not in ("text/csv", "text/plain"):
        raise ApiError(415, "unsupported_media_type", "send text/csv or application/json")
    return read_csv(data)


def _check_shape(items: object) -> None:
    """422 for a JSON roster that is not the documented list of RosterRow objects.

    A well-formed row with a bad value (an e-mail that is not one, an unknown role) is
    reported in `errors` with the rest imported, as a CSV line is.
    """
    try:
        ROSTER_ROWS.validate_python(items)
    except ValidationError as exc:
        where = exc.errors()[0]["loc"]
        item = f"item {where[0] + 1}" if where and isinstance(where[0], int) else "the body"
        message = f"{item} is not an object with a string email (and name, role)"
        raise ApiError(422, "invalid_roster", message) from None


def _base_url() -> str:
    """Where set-password links point: RUBRIC_BASE_URL, else this request's own address."""
    return current_app.config["RUBRIC_BASE_URL"] or request.url_root


def _report(slug: str, plan: people.Plan, dry_run: bool, dropped: bool, links: dict) -> dict:
    def person(p) -> dict:
        return {"email": p.email, "name": p.name, "role": p.role.value}

    return {
        "course": slug,
        "dry_run": dry_run,
        "added": [person(p) for p in plan.added],
        "changed": [person(p) | {"before": before.value} for p, before in plan.changed],
        "unchanged": len(plan.unchanged),
        "dropped": [person(m) for m in plan.dropped],
        "drop": dropped,
        "errors": plan.problems,
        "links": links,
    }


@bp.get("/courses/<course>/audit")
@token_required
def show_audit(course: str):
    """A page of the course's audit log, the newest first (instructors only).

    ?limit= entries (1 to 1000, default 1000), ?before= an entry id: the page after the
    entry; `next` is the URL of the following page, null on the last.
    """
    found = get_course(g.user, course)
    require_instructor(g.user, found)
    limit = _whole("limit", audit.SHOWN, audit.SHOWN)
    before = _whole("before", None, 2**63 - 1)
    if before is not None and before > MAX_ID:  # older than any id: from the newest
        before = None  # (PostgreSQL refuses to compare an integer column with it)
    entries, cursor = audit.page(found, limit, before)
    following = None
    if cursor is not None:
        following = url_for("api.show_audit", course=found.slug, limit=limit, before=cursor)
    shown = [audit.as_dict(e) for e in entries]
    return {"course": found.slug, "entries": shown, "next": following}


def _whole(name: str, default: int | None, most: int) -> int | None:
    """A query parameter that is a whole number from 1 to most; 422 naming it otherwise."""
    text = request.args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= most:
        message = f"{name} is a whole number from 1 to {most}"
        raise ApiError(422, "invalid_value", message, field=name)
    return int(text)
