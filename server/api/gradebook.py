"""The instructor's gradebook as JSON or CSV."""

from flask import Response, g, request

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.courses import get_course, require_staff
from server.scoring.gradebook import build_gradebook, gradebook_csv, gradebook_rows


@bp.get("/courses/<course>/gradebook")
@token_required
def show_gradebook(course: str):
    """Return every student's counted score on every assignment (instructors and TAs)."""
    found = get_course(g.user, course)
    require_staff(g.user, found)
    output = request.args.get("format", "json")
    if output not in ("json", "csv"):
        raise ApiError(422, "invalid_format", "'format' is json or csv", field="format")
    book = build_gradebook(found)
    if output == "csv":
        return Response(
            gradebook_csv(book),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{found.slug}-gradebook.csv"'},
        )
    return {
        "course": found.slug,
        "assignments": [{"slug": a.slug, "title": a.title} for a in book.assignments],
        "students": gradebook_rows(book),
    }
