"""The instructor's gradebook as JSON, or as a CSV file (Rubric's, Canvas's or Moodle's)."""

from flask import Response, g, request

from server.api import bp
from server.api.auth import token_required
from server.api.errors import ApiError
from server.courses import get_course, require_staff
from server.scoring.exports import FORMATS, export, filename
from server.scoring.gradebook import build_gradebook, gradebook_json


@bp.get("/courses/<course>/gradebook")
@token_required
def show_gradebook(course: str):
    """Return every student's counted score on every assignment, with totals (staff)."""
    found = get_course(g.user, course)
    require_staff(g.user, found)
    output = request.args.get("format", "json")
    if output != "json" and output not in FORMATS:
        message = f"'format' is json or one of {', '.join(FORMATS)}"
        raise ApiError(422, "invalid_format", message, field="format")
    book = build_gradebook(found)
    if output != "json":
        return Response(
            export(book, output),
            mimetype="text/csv",
            headers={
                "Content-Disposition": f'attachment; filename="{filename(found.slug, output)}"'
            },
        )
    return {"course": found.slug, **gradebook_json(book)}
