"""`rubric content schema`: publish the content files' JSON Schemas and the OpenAPI document.

Authors' editors read docs/schemas/*.schema.json (Taplo's `#:schema` line); a test keeps
the committed files equal to what the models give.
"""

import json
from pathlib import Path

from pydantic import BaseModel

from server.config import PROJECT_ROOT
from server.content.models import ExerciseFile, QuizFile

SCHEMA_DIR = PROJECT_ROOT / "docs" / "schemas"
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def content_schema(model: type[BaseModel]) -> dict:
    """Return a model's JSON Schema, naming its dialect (title and description come along)."""
    return {"$schema": DRAFT, **model.model_json_schema()}


def documents() -> dict[str, dict]:
    """Return every published document by file name (the OpenAPI one needs an app context)."""
    from server.api.openapi import openapi_document

    return {
        "exercise.schema.json": content_schema(ExerciseFile),
        "quiz.schema.json": content_schema(QuizFile),
        "openapi.json": openapi_document(),
    }


def render(document: dict) -> str:
    """Write a document deterministically: sorted keys, two-space indent, final newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(into: Path = SCHEMA_DIR) -> list[Path]:
    """Write every document into a folder, returning the files written."""
    into.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in documents().items():
        (into / name).write_text(render(document), encoding="utf-8")
        written.append(into / name)
    return written
