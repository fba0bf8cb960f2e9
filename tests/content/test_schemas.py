"""docs/schemas/ holds what the models give, and the bundled content passes its own schema."""

import json
import tomllib

import jsonschema
import pytest

from server.config import PROJECT_ROOT
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
