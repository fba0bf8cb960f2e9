"""Template filters: dates in UTC, scores without trailing zeros, instructors' Markdown."""

from datetime import UTC, datetime

from server.web import bp
from server.web.markdown import render_inline, render_markdown

bp.add_app_template_filter(render_markdown, "markdown")
bp.add_app_template_filter(render_inline, "markdown_inline")


@bp.app_template_filter("utc")
def utc(moment: datetime | None) -> str:
    """Format a timestamp as minutes in UTC, e.g. 2025-03-01 17:00 UTC."""
    return "no due date" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


@bp.app_template_filter("points")
def points(value: float | None) -> str:
    """Format a score like 4 or 2.5, never 4.000000."""
    return "–" if value is None else f"{round(value, 4):g}"
