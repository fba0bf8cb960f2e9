"""The OpenAPI 3.1 document, generated from the app's routes and server/api/models.py.

Our own thin layer, not spectree, flask-openapi3, flask-smorest or apispec: the first
three want their own blueprint class or decorators that also validate and answer errors
(replacing the orjson parsing and error shape of server/api/inputs.py), and apispec
needs a plugin and YAML in each view's docstring. pydantic already emits JSON Schema
2020-12, which OpenAPI 3.1 takes as it is; what remains is the url_map walk below and
one table entry per operation for what a route cannot tell (body, answers, parameters).
"""

import re
from dataclasses import dataclass
from typing import Literal

from flask import Flask, current_app
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from server.api import bp, drafts
from server.api import manual_grading as mg
from server.api import models as m
from server.api.inputs import MAX_ID
from server.api.regrade import RegradeBody, RegradeQuery, RegradeReport
from server.api.stats import AssignmentStats
from server.models import SubmissionStatus

PREFIX = "/api/v1"
REF = "#/components/schemas/{model}"


class SubmissionListQuery(BaseModel):
    """?student= and ?status= of a submission listing."""

    student: str = Field(
        "",
        description="an instructor's listing narrowed to one student's email; a student may "
        "name only themselves (403 otherwise)",
    )
    status: SubmissionStatus = Field(
        None, description="keep only submissions in this state; 422 for another value"
    )


class WaitQuery(BaseModel):
    """?wait= of a submission."""

    wait: float = Field(
        0,
        ge=0,
        le=20,
        description="long poll: hold the request until the submission is graded or its "
        "grading failed (status graded or error), at most this many seconds (20 at most); "
        "then answer its current state. A server with every thread but one already waiting "
        "answers at once: then pause before asking again. 422 invalid_wait (with field "
        "'wait') when not a number of seconds from 0 to 20 in ASCII digits",
    )


class GradebookQuery(BaseModel):
    """?format= of the gradebook."""

    format: Literal["json", "csv", "canvas", "moodle"] = Field(
        "json",
        description="json; csv (Rubric's columns, with a Points Possible row); canvas or "
        "moodle (the columns their gradebook imports read; see docs/instructors.md)",
    )


class RosterQuery(BaseModel):
    """?dry_run= and ?drop= of a roster import."""

    dry_run: bool = Field(False, description="true: report what would change, change nothing")
    drop: bool = Field(False, description="true: also drop enrolled people missing from it")


class AuditQuery(BaseModel):
    """?limit= and ?before= of the audit log."""

    limit: int = Field(1000, ge=1, le=1000, description="entries on the page; 422 otherwise")
    before: int = Field(
        None,
        ge=1,
        le=2**63 - 1,
        description="only entries older than this id: the cursor of `next`",
    )


class IdempotencyHeader(BaseModel):
    """The Idempotency-Key header of a code submission."""

    key: str = Field(
        None,
        alias="Idempotency-Key",
        max_length=128,
        description="a retried POST with the same key and the same body returns the first "
        "submission instead of making a second; the same key with another assignment or "
        "other code is 422 idempotency_key_reused; longer than 128 characters is 422 "
        "invalid_idempotency_key (never cut)",
    )


@dataclass(frozen=True)
class Operation:
    """What a route cannot tell of itself: its body, its answers, its other parameters."""

    status: int
    answer: type[BaseModel] | None
    errors: tuple[int, ...] = ()
    body: type[m.Body] | None = None
    optional_body: bool = False
    query: type[BaseModel] | None = None
    header: type[BaseModel] | None = None
    description: str = "OK"
    csv: bool = False  # also answers text/csv
    roster: bool = False  # takes a CSV body, or a JSON list of RosterRow
    public: bool = False  # no token needed, so no 401 either
    # Other successful answers: (status, model, description).
    also: tuple[tuple[int, type[BaseModel], str], ...] = ()


# By view function name. Every request may be malformed (400) or lack its token (401).
OPERATIONS = {
    "list_courses": Operation(200, m.CourseList),
    "list_assignments": Operation(200, m.AssignmentList, (404,)),
    "show_assignment": Operation(200, m.AssignmentDetail, (404,)),
    "create_attempt": Operation(
        201, m.Attempt, (404, 409, 413, 422), m.AttemptRequest, description="The graded attempt"
    ),
    "create_submission": Operation(
        202,
        m.Submission,
        (404, 409, 413, 422, 429),
        m.ExerciseSubmissionRequest,
        header=IdempotencyHeader,
        description="Stored and queued; poll its URL (Location header)",
    ),
    "list_submissions": Operation(
        200, m.SubmissionList, (403, 404, 409, 422), query=SubmissionListQuery
    ),
    "regrade_submissions": Operation(
        202,
        m.Regrade,
        (403, 404, 409, 422),
        RegradeBody,
        optional_body=True,
        query=RegradeQuery,
        description="Queued for the workers",
        also=((200, RegradeReport, "Previewed (?dry_run=true) or recorded"),),
    ),
    "show_submission": Operation(200, m.Submission, (404, 422), query=WaitQuery),
    "show_draft": Operation(200, drafts.Draft, (404, 409)),
    "put_draft": Operation(
        200, drafts.Draft, (404, 409, 413, 422, 429), drafts.DraftRequest, description="Kept"
    ),
    "check_code": Operation(
        200, drafts.Check, (404, 409, 413, 422, 429), m.SubmissionRequest, description="Checked"
    ),
    "show_gradebook": Operation(200, m.Gradebook, (403, 404, 422), query=GradebookQuery, csv=True),
    "show_assignment_stats": Operation(200, AssignmentStats, (403, 404)),
    "create_course": Operation(
        201, m.NewCourse, (403, 409, 422), m.CourseRequest, description="Created"
    ),
    "import_roster": Operation(
        200, m.RosterReport, (403, 404, 415, 422), query=RosterQuery, roster=True
    ),
    "show_audit": Operation(200, m.AuditLog, (403, 404, 422), query=AuditQuery),
    "grant_accommodation": Operation(
        200, m.AccommodationAnswer, (403, 404, 409, 422), m.AccommodationRequest
    ),
    "revoke_accommodation": Operation(204, None, (403, 404, 422), description="Revoked"),
    "publish_assignment": Operation(
        201, m.AssignmentSettings, (403, 404, 409, 422), m.PublishRequest, description="Published"
    ),
    "update_assignment": Operation(
        200, m.AssignmentSettings, (403, 404, 409, 422), m.AssignmentSettingsRequest
    ),
    "grant_extension": Operation(200, m.ExtensionAnswer, (403, 404, 409, 422), m.ExtensionRequest),
    "revoke_extension": Operation(204, None, (403, 404, 422), description="Revoked"),
    "set_override": Operation(200, m.OverrideAnswer, (403, 404, 409, 422), m.OverrideRequest),
    "clear_override": Operation(204, None, (403, 404, 422), description="Cleared"),
    "download_release": Operation(
        200, None, (404, 409), description="The student version of a notebook exercise (zip)"
    ),
    "show_grading_queue": Operation(200, mg.GradingQueue, (403, 404)),
    "show_manual_grades": Operation(200, mg.ManualGrades, (403, 404)),
    "set_manual_grades": Operation(
        200, mg.ManualGrades, (403, 404, 422), mg.ManualGradesRequest, description="Stored"
    ),
    "openapi_document": Operation(200, None, description="OpenAPI 3 document", public=True),
}
PATH_PARAMETERS = {
    "course": {"schema": {"type": "string"}, "example": "demo"},
    "slug": {"schema": {"type": "string"}, "example": "l2-regularization"},
    "email": {
        "description": "a student's e-mail address",
        "schema": {"type": "string"},
        "example": "student@example.edu",
    },
    "submission_id": {
        "description": "a row id: ASCII digits, 1 to 2^31-1 (otherwise 404)",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
        "example": 1,
    },
}
ARGUMENT = re.compile(r"<(?:\w+:)?(\w+)>")


def build_document(app: Flask) -> dict:
    """Return the OpenAPI document of app's /api/v1 routes."""
    schemas = _schemas()
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        view = rule.endpoint.removeprefix(bp.name + ".")
        path = ARGUMENT.sub(r"{\1}", rule.rule.removeprefix(PREFIX))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            operation = _operation(rule, view, app.view_functions[rule.endpoint], schemas)
            paths.setdefault(path, {})[method.lower()] = operation
    for model in set(_parameter_models()):  # now parameters, not schemas of their own
        schemas.pop(model.__name__)
    return _document(paths, schemas)


def _schemas() -> dict:
    """Every model's JSON Schema by name, answers as serialized, bodies as validated."""
    used = [(op.answer, "serialization") for op in OPERATIONS.values() if op.answer]
    used += [(model, "serialization") for op in OPERATIONS.values() for _, model, _ in op.also]
    used += [(op.body, "validation") for op in OPERATIONS.values() if op.body]
    used += [(model, "validation") for model in _parameter_models()]
    used += [(m.RosterRow, "validation")]
    used += [(m.Error, "serialization")]
    _, top = models_json_schema(list(dict.fromkeys(used)), ref_template=REF)
    return _without_null_defaults(top["$defs"])


def _without_null_defaults(schema):
    """Drop `"default": null` where null is not allowed: `X = Field(None)` means absent."""
    if isinstance(schema, list):
        return [_without_null_defaults(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    nullable = "anyOf" in schema or schema.get("type") == "null"
    return {
        key: _without_null_defaults(value)
        for key, value in schema.items()
        if nullable or (key, value) != ("default", None)
    }


def _parameter_models() -> list[type[BaseModel]]:
    """The query and header models of every operation."""
    found = [op.query for op in OPERATIONS.values()] + [op.header for op in OPERATIONS.values()]
    return [model for model in found if model]


def _operation(rule, view: str, function, schemas: dict) -> dict:
    """An operation: summary and description from the view's docstring, the rest from the table."""
    spec = OPERATIONS[view]  # a KeyError here is a route without its table entry
    summary, _, description = (function.__doc__ or view).strip().partition("\n")
    operation = {"operationId": view, "summary": summary.strip()}
    if description.strip():
        operation["description"] = " ".join(description.split())
    operation["parameters"] = _parameters(rule, spec, schemas)
    if spec.body:
        content = {"application/json": {"schema": {"$ref": REF.format(model=spec.body.__name__)}}}
        operation["requestBody"] = {"required": not spec.optional_body, "content": content}
    if spec.roster:
        rows = {"type": "array", "items": {"$ref": REF.format(model="RosterRow")}}
        content = {"text/csv": {"schema": {"type": "string"}}, "application/json": {"schema": rows}}
        operation["requestBody"] = {"required": True, "content": content}
    errors = () if spec.public else sorted({400, 401, *spec.errors})
    also = {
        str(status): {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}},
        }
        for status, model, text in spec.also
    }
    operation["responses"] = (
        {str(spec.status): _answer(spec)}
        | also
        | {str(code): {"$ref": "#/components/responses/Error"} for code in errors}
    )
    if spec.public:
        operation["security"] = []
    return operation


def _parameters(rule, spec: Operation, schemas: dict) -> list[dict]:
    """Path parameters from the route, then query and header ones from their models."""
    found = [
        {"name": name, "in": "path", "required": True} | PATH_PARAMETERS[name]
        for name in ARGUMENT.findall(rule.rule)
    ]
    for where, model in (("query", spec.query), ("header", spec.header)):
        if model:
            found += _model_parameters(where, schemas[model.__name__])
    return found


def _model_parameters(where: str, schema: dict) -> list[dict]:
    """One parameter per property of a query or header model's schema."""
    found = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        parameter = {"name": name, "in": where, "required": name in schema.get("required", ())}
        if "description" in prop:
            parameter["description"] = prop.pop("description")
        found.append(parameter | {"schema": prop})
    return found


def _answer(spec: Operation) -> dict:
    """The successful answer of an operation."""
    answer: dict = {"description": spec.description}
    if spec.answer:
        ref = {"schema": {"$ref": REF.format(model=spec.answer.__name__)}}
        answer["content"] = {"application/json": ref}
        if spec.csv:
            answer["content"]["text/csv"] = {"schema": {"type": "string"}}
    return answer


def _document(paths: dict, schemas: dict) -> dict:
    """The document around its paths and schemas."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Rubric API",
            "version": "1",
            "description": "Auto-graded quizzes and NumPy exercises. Authenticate with "
            "'Authorization: Bearer TOKEN' (make one with `rubric token create EMAIL`).",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas,
            "responses": {
                "Error": {
                    "description": "An error",
                    "content": {
                        "application/json": {"schema": {"$ref": REF.format(model="Error")}}
                    },
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi_document():
    """Return the OpenAPI 3 document of this API."""
    document = current_app.extensions.get("rubric.openapi")
    if document is None:  # built once per app: the routes do not change after start-up
        document = current_app.extensions["rubric.openapi"] = build_document(current_app)
    return document
