"""schemathesis against the served OpenAPI document, as a student and as an instructor.

Every operation of /api/v1/openapi.json gets valid and invalid requests generated from
the document itself; any 5xx, or an answer the document does not describe (status,
content type, body schema), fails. Bounded (FUZZ_EXAMPLES per operation and mode) and
derandomized, so a run takes about the same time and finds the same cases each time.
"""

import os

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

# Imported here, not lazily by from_wsgi deep inside a test: pytest rewrites schemathesis (a
# plugin) on import, and there CPython 3.11.7's ast.parse fails ("AST constructor recursion
# depth mismatch", gh-106905) since the content models (pydantic) came in with 16299b4.
from schemathesis.specs.openapi import schemas  # noqa: F401
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Per operation and generation mode; FUZZ_EXAMPLES=200 for a longer hunt by hand.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "100"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,  # a request the document forbids must not succeed
]
SUBMIT = "/api/v1/courses/demo/assignments/l2-regularization/submissions"
USERS = ["student@example.edu", "instructor@example.edu"]


def fresh_contexts(app):
    """The app as a server runs it: each request in its own app context."""

    def wsgi(environ, start_response):
        with app.app_context():
            return list(app(environ, start_response))

    return wsgi


def operations(app) -> list:
    """Every operation of the document the app serves."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fresh_contexts(app))
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("email", USERS)
def test_every_operation_answers_as_documented(app, demo, token_for, email, mode):
    headers = token_for(email)
    # Submission 1 exists, the student's, so GET /submissions/1 answers 200 or 404.
    student = token_for("student@example.edu")
    app.test_client().post(SUBMIT, json={"code": "x = 1"}, headers=student)
    failures = []
    for operation in operations(app):
        try:
            _fuzz(operation, headers, mode)
        except Exception as exc:  # collect every operation's failure, not just the first
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)


def _real_rows(path: str, parameters: dict) -> dict:
    """The path's parameters pointed at the demo course, its quiz or exercise, a submission."""
    slug = "l2-regularization-quiz" if path.endswith("/attempts") else "l2-regularization"
    real = {"course": "demo", "slug": slug, "submission_id": 1}
    return {name: real.get(name, value) for name, value in parameters.items()}


def _fuzz(operation, headers: dict, mode: GenerationMode) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(generation_mode=mode), real=st.integers(0, 3))
    def run(case, real):
        # Valid requests reach the demo's rows three times in four instead of a 404. Invalid
        # ones keep what the generator broke (pinning it would make them valid).
        if real and mode is GenerationMode.POSITIVE:
            case.path_parameters = _real_rows(operation.path, case.path_parameters or {})
        # The user's token replaces the generated one; an invalid request whose token the
        # generator left out on purpose is sent without one.
        if mode is GenerationMode.POSITIVE or "Authorization" in (case.headers or {}):
            case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(checks=CHECKS)

    run()
