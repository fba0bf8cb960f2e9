"""docs/schemas/ holds what the models give, and the bundled content passes its own schema."""

import json
import re
import tomllib
from typing import get_args

import jsonschema
import pytest
from pydantic import BaseModel

from server.config import PROJECT_ROOT
from server.content.models import ExerciseFile, QuizFile
from server.content.schemas import SCHEMA_DIR, write_schemas

BUNDLED = {
    "exercise.schema.json": PROJECT_ROOT / "exercises" / "l2-regularization" / "exercise.toml",
    "quiz.schema.json": PROJECT_ROOT / "quizzes" / "l2-regularization-quiz.toml",
}


def test_committed_schemas_are_what_the_models_give(app, tmp_path):
    with app.app_context():
        written = write_schemas(tmp_path)
    assert {p.name for p in written} == {"exercise.schema.json", "quiz.schema.json", "openapi.json"}
    for fresh in written:
        committed = SCHEMA_DIR / fresh.name
        stale = not committed.is_file() or committed.read_text() != fresh.read_text()
        assert not stale, f"docs/schemas/{fresh.name} is stale: run `rubric content schema`"


def test_the_schema_command_writes_into_a_folder(runner, tmp_path):
    result = runner.invoke(args=["content", "schema", "--into", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    schema = json.loads((tmp_path / "out" / "quiz.schema.json").read_text())
    assert schema["$schema"].endswith("2020-12/schema") and schema["title"] == "Quiz file"
    assert schema["additionalProperties"] is False and "description" in schema


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_content_passes_the_published_schema(name):
    schema = json.loads((SCHEMA_DIR / name).read_text())
    jsonschema.validate(tomllib.loads(BUNDLED[name].read_text()), schema)


@pytest.mark.parametrize(
    ("name", "old", "new"),
    [
        ("quiz.schema.json", "atol = 1e-6", "atol = -1"),
        ("quiz.schema.json", 'kind = "numeric"', 'kind = "essay"'),
        ("quiz.schema.json", 'a = "Ridge regression"', 'A = "Ridge regression"'),
        ("quiz.schema.json", "alpha = {", "1alpha = {"),
        ("exercise.schema.json", "rtol = 1e-6", "rtl = 1e-6"),
        ("exercise.schema.json", "memory_mb = 256", "memory_mb = 9999"),
    ],
)
def test_the_published_schema_catches_what_the_loader_does(name, old, new):
    schema = json.loads((SCHEMA_DIR / name).read_text())
    text = BUNDLED[name].read_text()
    assert old in text
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(tomllib.loads(text.replace(old, new, 1)), schema)


def _field_names(model: type[BaseModel]) -> set[str]:
    """Every field name of a model and of the tables inside it."""
    names = set(model.model_fields)
    for field in model.model_fields.values():
        for inner in _models_in(field.annotation):
            names |= _field_names(inner)
    return names


def _models_in(annotation) -> list[type[BaseModel]]:
    """The models an annotation such as list[A | B] or dict[str, A] refers to."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def test_the_authoring_guide_names_every_field():
    text = (PROJECT_ROOT / "docs" / "authoring.md").read_text()
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # the tables, not the examples
    documented = {w for span in re.findall(r"`([^`]+)`", text) for w in re.findall(r"\w+", span)}
    for model in (ExerciseFile, QuizFile):
        missing = _field_names(model) - documented
        assert not missing, f"docs/authoring.md does not describe {sorted(missing)}"
