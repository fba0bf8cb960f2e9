"""The OpenAPI 3 document of the API; a test checks it covers every route."""

from server.api import bp
from server.api.inputs import MAX_ID

ERROR = {"$ref": "#/components/responses/Error"}


def _op(
    summary: str, ok: dict, *errors: int, body: dict | None = None, optional_body=False, params=()
) -> dict:
    operation = {
        "summary": summary,
        "parameters": [{"$ref": f"#/components/parameters/{p}"} for p in params],
        # Any request may be malformed (400: e.g. a NUL in its URL) or lack its token (401).
        "responses": ok | {str(code): ERROR for code in sorted({400, 401, *errors})},
    }
    if body:
        content = {"application/json": body}
        operation["requestBody"] = {"required": not optional_body, "content": content}
    return operation


def _json(schema: str, description: str = "OK") -> dict:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


PATHS = {
    "/courses": {
        "get": _op(
            "List the courses the user belongs to (every course for an admin), with the "
            "user's role in each",
            {"200": _json("CourseList")},
        ),
    },
    "/courses/{course}/assignments": {
        "get": _op(
            "List the assignments a user may see",
            {"200": _json("AssignmentList")},
            404,
            params=["course"],
        ),
    },
    "/courses/{course}/assignments/{slug}": {
        "get": _op(
            "Show an assignment: prompt and questions, never answers",
            {"200": _json("AssignmentDetail")},
            404,
            params=["course", "slug"],
        ),
    },
    "/courses/{course}/assignments/{slug}/attempts": {
        "post": _op(
            "Submit a quiz attempt; it is scored and recorded",
            {"201": _json("Attempt", "The graded attempt")},
            400,
            404,
            409,
            413,
            422,
            body={"schema": {"$ref": "#/components/schemas/AttemptRequest"}},
            params=["course", "slug"],
        ),
    },
    "/courses/{course}/assignments/{slug}/submissions": {
        "post": _op(
            "Submit code to an exercise; it is stored before this answer and graded later",
            {"202": _json("Submission", "Stored and queued; poll its URL (Location header)")},
            400,
            404,
            409,
            413,
            422,
            429,
            body={"schema": {"$ref": "#/components/schemas/SubmissionRequest"}},
            params=["course", "slug", "idempotency"],
        ),
        "get": _op(
            "List submissions to an exercise, newest first, without their results: a "
            "student's own, or everyone's for an instructor; each says if it counts",
            {"200": _json("SubmissionList")},
            403,
            404,
            409,
            422,
            params=["course", "slug", "student", "status"],
        ),
    },
    "/courses/{course}/assignments/{slug}/regrade": {
        "post": _op(
            "Queue the submissions graded on an older version of the exercise to be graded "
            "again on the newest (instructors); the old scores count until the new results "
            "land, and regrades wait for an idle queue",
            {"202": _json("Regrade", "Queued")},
            400,
            403,
            404,
            409,
            422,
            body={"schema": {"$ref": "#/components/schemas/RegradeRequest"}},
            optional_body=True,
            params=["course", "slug"],
        ),
    },
    "/submissions/{submission_id}": {
        "get": _op(
            "A submission's status and, once graded, its result; with ?wait=S the answer "
            "comes once it is graded (or failed grading), or after S seconds",
            {"200": _json("Submission")},
            404,
            422,
            params=["submission_id", "wait"],
        ),
    },
    "/courses/{course}/gradebook": {
        "get": _op(
            "Every student's counted score on every assignment (instructors only)",
            {
                "200": _json("Gradebook")
                | {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Gradebook"}},
                        "text/csv": {"schema": {"type": "string"}},
                    }
                }
            },
            403,
            404,
            422,
            params=["course", "format"],
        ),
    },
    "/openapi.json": {
        "get": {
            "summary": "This document",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document"}},
        },
    },
}


def _listing(key: str, items: dict, **fields: dict) -> dict:
    """An object holding an array of items under key, after any other fields."""
    return {"type": "object", "properties": fields | {key: {"type": "array", "items": items}}}


NUMBER_OR_NULL = {"type": ["number", "null"]}
TEST_RESULT = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "outcome": {
            "type": "string",
            "enum": [
                "passed",
                "wrong_answer",
                "runtime_error",
                "timeout",
                "memory_limit",
                "missing",
                "invalid_output",
                "mutated_input",
            ],
        },
        "score": {"type": "number"},
        "max_score": {"type": "number"},
        "visible": {"type": "boolean"},
        "feedback": {"type": "string"},
    },
}
# What every view of a submission has, in one submission and in a listing.
SUBMISSION_FIELDS = {
    "id": {"type": "integer"},
    "assignment": {"type": "string"},
    "number": {"type": "integer"},
    "status": {"type": "string", "enum": ["queued", "running", "graded", "error"]},
    "submitted_at": {"type": "string", "format": "date-time"},
    "graded_at": {"type": ["string", "null"], "format": "date-time"},
    "score": NUMBER_OR_NULL,
    "max_score": {"type": "number"},
}
SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {
                        "type": "string",
                        "examples": ["not_found", "invalid_answer", "token_expired"],
                    },
                    "message": {"type": "string"},
                    "field": {
                        "type": "string",
                        "description": "the query parameter or header that was refused",
                    },
                    "questions": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "per question id, why its answer was refused",
                    },
                    "expired_at": {
                        "type": "string",
                        "format": "date-time",
                        "description": "with code token_expired: when the API token expired",
                    },
                },
            }
        },
    },
    "AssignmentSummary": {
        "type": "object",
        "properties": {
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "kind": {"type": "string", "enum": ["quiz", "exercise"]},
            "due_at": {"type": ["string", "null"], "format": "date-time"},
            "attempt_limit": {"type": ["integer", "null"]},
            "score_policy": {"type": "string", "enum": ["best", "last"]},
            "attempts_used": {"type": "integer"},
            "attempts_left": {"type": ["integer", "null"]},
        },
    },
    "CourseList": _listing(
        "courses",
        {
            "type": "object",
            "properties": {
                "slug": {"type": "string"},
                "title": {"type": "string"},
                "role": {"type": "string", "enum": ["student", "instructor"]},
            },
        },
    ),
    "AssignmentList": _listing("assignments", {"$ref": "#/components/schemas/AssignmentSummary"}),
    "Question": {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "kind": {"type": "string", "enum": ["single_choice", "multiple_choice", "numeric"]},
            "points": {"type": "number"},
            "prompt": {"type": "string", "description": "with this student's own parameters"},
            "choices": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "text": {"type": "string"}},
                },
            },
        },
    },
    "AssignmentDetail": {
        "allOf": [
            {"$ref": "#/components/schemas/AssignmentSummary"},
            {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "version": {"type": "integer"},
                    "max_score": {"type": "number"},
                    "questions": {
                        "type": "array",
                        "items": {"$ref": "#/components/schemas/Question"},
                    },
                },
            },
        ],
    },
    "AttemptRequest": {
        "type": "object",
        "required": ["answers"],
        "properties": {
            "answers": {
                "type": "object",
                "description": "question id -> a choice id (single choice), a list of choice "
                "ids (multiple choice; [] is blank), or a number (numeric). A number may be "
                "a JSON number or a string in ASCII notation: optional sign, digits, '.' "
                "decimal point, optional exponent ('-0.25', '+1', '.5', '1.5e-3'; spaces "
                "around it are ignored); a decimal comma, other digits or '_' are 422. null "
                "or an empty string is blank; omitted and blank questions score 0. Any "
                "other type (a list or object for a number, a boolean) is 422 naming the "
                "question",
                "additionalProperties": {},
                "examples": [{"q1": "b", "q2": 0.998, "q4": ["a", "b"]}],
            }
        },
    },
    "Attempt": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "assignment": {"type": "string"},
            "number": {"type": "integer"},
            "score": {"type": "number"},
            "max_score": {"type": "number"},
            "submitted_at": {"type": "string", "format": "date-time"},
            "questions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "prompt": {"type": "string"},
                        "response": {},
                        "outcome": {
                            "type": "string",
                            "enum": ["correct", "partial", "incorrect", "unanswered"],
                        },
                        "score": {"type": "number"},
                        "max_score": {"type": "number"},
                        "explanation": {"type": "string"},
                    },
                },
            },
        },
    },
    "SubmissionRequest": {
        "type": "object",
        "required": ["code"],
        "properties": {
            "code": {
                "type": "string",
                "pattern": "\\S",
                "description": "the whole Python file; blank is 422 invalid_code",
            }
        },
    },
    "Submission": {
        "type": "object",
        "properties": SUBMISSION_FIELDS
        | {
            "error": {"type": "string", "description": "when the grader itself failed"},
            "result": {"$ref": "#/components/schemas/GradingResult"},
        },
    },
    "RegradeRequest": {
        "type": "object",
        "properties": {"student": {"type": "string", "description": "only this student's"}},
    },
    "Regrade": {
        "type": "object",
        "properties": {
            "assignment": {"type": "string"},
            "queued": {"type": "integer", "description": "submissions queued again"},
            "version": {"type": "integer", "description": "the exercise version they go to"},
        },
    },
    "SubmissionList": _listing(
        "submissions",
        {
            "type": "object",
            "properties": SUBMISSION_FIELDS
            | {
                "student": {
                    "type": "object",
                    "properties": {"email": {"type": "string"}, "name": {"type": "string"}},
                },
                "counts": {
                    "type": "boolean",
                    "description": "the submission whose score the gradebook counts "
                    "for its student, under the assignment's policy (best or last)",
                },
            },
        },
        assignment={"type": "string"},
    ),
    "GradingResult": {
        "type": "object",
        "properties": {
            "exercise": {"type": "string"},
            "status": {"type": "string"},
            "score": {"type": "number"},
            "max_score": {"type": "number"},
            "feedback": {"type": "string"},
            "parts": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "score": {"type": "number"},
                        "max_score": {"type": "number"},
                        "tests": {"type": "array", "items": TEST_RESULT},
                    },
                },
            },
            "duration_ms": {"type": "number"},
        },
    },
    "Gradebook": {
        "type": "object",
        "properties": {
            "course": {"type": "string"},
            "assignments": {"type": "array", "items": {"type": "object"}},
            "students": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "student": {"type": "object"},
                        "scores": {
                            "type": "object",
                            "additionalProperties": {
                                "type": "object",
                                "properties": {
                                    "score": NUMBER_OR_NULL,
                                    "max_score": NUMBER_OR_NULL,
                                    "attempts": {"type": "integer"},
                                },
                            },
                        },
                        "total": {"type": "number"},
                    },
                },
            },
        },
    },
}

DOCUMENT = {
    "openapi": "3.1.0",
    "info": {
        "title": "Rubric API",
        "version": "1",
        "description": "Auto-graded quizzes and NumPy exercises. Authenticate with "
        "'Authorization: Bearer TOKEN' (make one with `rubric token create EMAIL`).",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
        "responses": {
            "Error": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }
        },
        "parameters": {
            "course": {
                "name": "course",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "example": "demo",
            },
            "slug": {
                "name": "slug",
                "in": "path",
                "required": True,
                "schema": {"type": "string"},
                "example": "l2-regularization",
            },
            "submission_id": {
                "name": "submission_id",
                "in": "path",
                "required": True,
                "description": "a row id: ASCII digits, 1 to 2^31-1 (otherwise 404)",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "example": 1,
            },
            "idempotency": {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": "a retried POST with the same key and the same body returns the "
                "first submission instead of making a second; the same key with another "
                "assignment or other code is 422 idempotency_key_reused; longer than 128 "
                "characters is 422 invalid_idempotency_key (never cut)",
                "schema": {"type": "string", "maxLength": 128},
            },
            "wait": {
                "name": "wait",
                "in": "query",
                "required": False,
                "description": "long poll: hold the request until the submission is graded or "
                "its grading failed (status graded or error), at most this many seconds (20 at "
                "most); then answer its current state. A server with every thread but one "
                "already waiting answers at once: then pause before asking again. 422 "
                "invalid_wait (with field 'wait') when not a number of seconds from 0 to 20 "
                "in ASCII digits",
                "schema": {"type": "number", "minimum": 0, "maximum": 20, "default": 0},
            },
            "student": {
                "name": "student",
                "in": "query",
                "required": False,
                "description": "an instructor's listing narrowed to one student's email; a "
                "student may name only themselves (403 otherwise)",
                "schema": {"type": "string"},
            },
            "status": {
                "name": "status",
                "in": "query",
                "required": False,
                "description": "keep only submissions in this state; 422 for another value",
                "schema": {"type": "string", "enum": ["queued", "running", "graded", "error"]},
            },
            "format": {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["json", "csv"]},
            },
        },
    },
}


@bp.get("/openapi.json")
def openapi_document():
    """Return the OpenAPI 3 document of this API."""
    return DOCUMENT
