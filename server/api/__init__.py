"""The JSON API under /api/v1: bearer tokens, JSON errors, thin views."""

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from server.api import (  # noqa: E402, F401
    assignments,
    assignments_admin,
    courses,
    drafts,
    errors,
    gradebook,
    inputs,
    manual_grading,
    notebooks,
    openapi,
    regrade,
    stats,
    submissions,
)
