"""The content files as pydantic models: exercise.toml and a quiz file, each described once.

Loading validates through these models, `rubric content schema` publishes their JSON
Schemas for authors' editors, and `problems()` words a ValidationError the way the
authoring docs do ("question q2: atol: must be a number >= 0").
"""

from __future__ import annotations

import ast
import math
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from server.content import expressions
from server.scoring.params import draw_params

SLUG = r"^[a-z0-9][a-z0-9-]*$"
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
QUESTION_ID = r"^[A-Za-z0-9_-]{1,64}$"
CHOICE_LABEL = r"^[a-z0-9]{1,8}$"
NOT_BLANK = r"\S"

# Strict: TOML's types are kept (a quoted "1e-6" is not a number, true is not 1).
Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
Text = Annotated[str, Field(strict=True)]
NonEmptyText = Annotated[str, Field(strict=True, pattern=NOT_BLANK)]


class Strict(BaseModel):
    """A table of a content file: misspelt fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def fail(message: str) -> PydanticCustomError:
    """Make a validation error whose message is shown to authors as it is."""
    return PydanticCustomError("content", message)


# ---- exercise.toml ---------------------------------------------------------------------


class ExerciseFunction(Strict):
    """A function students implement, as a [[functions]] table."""

    name: Annotated[str, Field(strict=True, pattern=IDENTIFIER)] = Field(
        description="The function's Python name, e.g. l2_penalty."
    )
    signature: NonEmptyText = Field(
        description='Its signature as students see it: "l2_penalty(w, lam) -> float".'
    )
    points: Number = Field(gt=0, description="Points of this function's tests together.")
    summary: Text = Field("", description="One line shown to students under the signature.")

    @field_validator("signature")
    @classmethod
    def _plain_signature(cls, signature: str, info: ValidationInfo) -> str:
        """Require plain positional parameters and the function's own name."""
        signature_params(signature, info.data.get("name"))
        return signature


def signature_params(signature: str, name: str | None = None) -> tuple[str, ...]:
    """Read the parameter names from "name(a, b) -> type", or raise a content error."""
    try:
        node = ast.parse(f"def {signature}: pass").body[0]
    except SyntaxError:
        raise fail(f"{signature!r} is not a Python signature") from None
    if not isinstance(node, ast.FunctionDef) or (name and node.name != name):
        raise fail(f"must start with the function's name {name!r}")
    a = node.args
    if a.vararg or a.kwarg or a.kwonlyargs or a.defaults:
        raise fail("only plain positional parameters are supported")
    return tuple(p.arg for p in a.posonlyargs + a.args)


class ExerciseTolerance(Strict):
    """[tolerance]: outputs pass np.allclose(actual, expected, rtol, atol)."""

    rtol: Number = Field(1e-7, ge=0, description="Relative tolerance.")
    atol: Number = Field(1e-12, ge=0, description="Absolute tolerance.")


class ExerciseLimits(Strict):
    """[limits]: resources of one sandbox run."""

    wall_seconds: Number = Field(2.0, gt=0, le=60, description="Wall-clock seconds.")
    cpu_seconds: Number = Field(2.0, gt=0, le=60, description="CPU seconds.")
    memory_mb: Annotated[int, Field(strict=True)] = Field(
        256, gt=0, le=4096, description="Memory in MiB."
    )
    output_bytes: Annotated[int, Field(strict=True)] = Field(
        64_000, gt=0, le=10_000_000, description="Bytes of printed output kept."
    )


class ExerciseFile(Strict):
    """exercise.toml: an exercise's slug, title, points, functions, tolerance and limits."""

    model_config = ConfigDict(title="exercise.toml")

    slug: Annotated[str, Field(strict=True, pattern=SLUG)] = Field(
        description="The exercise folder's name: lowercase letters, digits and dashes."
    )
    title: NonEmptyText = Field(description="Shown to students.")
    functions: list[ExerciseFunction] = Field(
        min_length=1, description="The functions to implement, one [[functions]] table each."
    )
    points: Number = Field(gt=0, description="Total points: the functions' points add up to it.")
    tolerance: ExerciseTolerance = Field(default_factory=ExerciseTolerance)
    limits: ExerciseLimits = Field(default_factory=ExerciseLimits)

    @field_validator("points")
    @classmethod
    def _points_add_up(cls, points: float, info: ValidationInfo) -> float:
        """The total must equal the functions' points, so no score is lost or invented."""
        functions = info.data.get("functions") or []
        total = math.fsum(f.points for f in functions)
        if functions and not math.isclose(points, total):
            raise fail(f"is {points:g} but the functions add up to {total:g}")
        return points


# ---- quiz files --------------------------------------------------------------------------


class ParamRange(Strict):
    """A per-student parameter drawn from min to max in steps."""

    min: Number
    max: Number
    step: Number = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> ParamRange:
        """An empty range would leave nothing to draw."""
        if self.max < self.min:
            raise fail("needs max >= min")
        return self


class ParamChoices(Strict):
    """A per-student parameter drawn from a list of values."""

    choices: list[Number] = Field(min_length=1)


def _param_shape(value: Any) -> str:
    """Tell the two parameter forms apart by their keys."""
    return "list" if isinstance(value, dict) and "choices" in value else "range"


Param = Annotated[
    Annotated[ParamRange, Tag("range")] | Annotated[ParamChoices, Tag("list")],
    Discriminator(_param_shape),
]
ParamName = Annotated[str, Field(pattern=IDENTIFIER)]
# Editors flag a key outside the pattern, as the loader does (patternProperties alone would not).
ONLY_PATTERN_KEYS = {"additionalProperties": False}
ChoiceLabel = Annotated[str, Field(pattern=CHOICE_LABEL)]


class Question(Strict):
    """Fields every question has."""

    id: Annotated[str, Field(strict=True, pattern=QUESTION_ID)] = Field(
        description="Fixed id (q1, q2…): answers and statistics refer to it."
    )
    points: Number = Field(gt=0)
    prompt: NonEmptyText = Field(description="Markdown; {name} shows a parameter's value.")
    explanation: Text = Field("", description="Shown after the attempt is scored.")


class ChoiceQuestion(Question):
    """Fields of single and multiple choice."""

    choices: dict[ChoiceLabel, NonEmptyText] = Field(
        min_length=2,
        description='Labelled choices: a = "…", b = "…".',
        json_schema_extra=ONLY_PATTERN_KEYS,
    )


class SingleChoiceQuestion(ChoiceQuestion):
    """One correct choice."""

    kind: Literal["single_choice"]
    answer: Text = Field(description="The label of the correct choice.")

    @field_validator("answer")
    @classmethod
    def _a_choice(cls, answer: str, info: ValidationInfo) -> str:
        """The answer must be one of the labels."""
        if "choices" in info.data and answer not in info.data["choices"]:
            raise fail("must be the label of one of the choices")
        return answer


class MultipleChoiceQuestion(ChoiceQuestion):
    """Any number of correct choices, with partial credit."""

    kind: Literal["multiple_choice"]
    answer: list[Text] = Field(min_length=1, description="The labels of the correct choices.")

    @field_validator("answer")
    @classmethod
    def _choices(cls, answer: list[str], info: ValidationInfo) -> list[str]:
        """Every answer must be one of the labels."""
        unknown = sorted(set(answer) - info.data.get("choices", {}).keys())
        if "choices" in info.data and unknown:
            raise fail(f"{unknown} are not choices")
        return answer


class NumericQuestion(Question):
    """A number within atol + rtol·|answer| of the answer."""

    kind: Literal["numeric"]
    params: dict[ParamName, Param] = Field(
        default_factory=dict,
        description="Per-student values, used in answer and prompt.",
        json_schema_extra=ONLY_PATTERN_KEYS,
    )
    answer: Number | Text = Field(description="A number, or an expression of the params.")
    atol: Number = Field(0.0, ge=0, description="Absolute tolerance.")
    rtol: Number = Field(0.0, ge=0, description="Relative tolerance.")
    new_numbers_each_attempt: bool = Field(
        False,
        description="Draw new params for each attempt (else a student keeps the same numbers).",
    )

    @field_validator("answer", mode="before")
    @classmethod
    def _number_or_text(cls, answer: Any) -> Any:
        """Say what is wanted once, rather than once per member of the union."""
        if isinstance(answer, bool) or not isinstance(answer, int | float | str):
            raise fail("must be a number or an expression")
        return answer

    @field_validator("answer")
    @classmethod
    def _evaluates(cls, answer: float | str, info: ValidationInfo) -> float | str:
        """An expression may use only the params, and must evaluate for some student."""
        if isinstance(answer, str) and "params" in info.data:
            params = {k: v.model_dump() for k, v in info.data["params"].items()}
            try:
                unknown = expressions.names(expressions.parse(answer)) - params.keys()
                if unknown:
                    raise fail(f"uses unknown parameters {sorted(unknown)}")
                expressions.evaluate(answer, draw_params(params, "check"))
            except expressions.ExpressionError as exc:
                raise fail(str(exc)) from None
        return answer

    @model_validator(mode="after")
    def _some_tolerance(self) -> NumericQuestion:
        """A tolerance of zero is never met by a float."""
        if "atol" not in self.model_fields_set and "rtol" not in self.model_fields_set:
            raise fail("give atol or rtol (a tolerance of zero is never met)")
        return self


AnyQuestion = Annotated[
    SingleChoiceQuestion | MultipleChoiceQuestion | NumericQuestion,
    Field(discriminator="kind"),
]
KIND_TAGS = {"single_choice", "multiple_choice", "numeric", "range", "list"}


class QuizFile(Strict):
    """A quiz file under quizzes/: its title, description and questions."""

    model_config = ConfigDict(title="Quiz file")

    title: NonEmptyText = Field(description="Shown to students.")
    description: Text = Field("", description="Markdown shown above the questions.")
    questions: list[AnyQuestion] = Field(min_length=1, description="One [[questions]] table each.")


# ---- errors in authors' words -------------------------------------------------------------

MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "string_type": "must be a string",
    "float_type": "must be a number",
    "finite_number": "must be a number",
    "int_type": "must be an integer",
    "greater_than": "must be a number > {gt:g}",
    "greater_than_equal": "must be a number >= {ge:g}",
    "less_than_equal": "must be at most {le:g}",
    "too_short": "needs at least {min_length} item(s)",
    "list_type": "must be an array",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "literal_error": "must be one of {expected}",
    "union_tag_invalid": "must be one of {expected_tags}",
    "union_tag_not_found": "is required",
}
PATTERNS = {
    NOT_BLANK: "must be a non-empty string",
    SLUG: "use lowercase letters, digits and dashes",
    IDENTIFIER: "{input!r} is not a Python identifier",
    QUESTION_ID: "must be a short identifier like q1",
    CHOICE_LABEL: "label must be 1-8 lowercase letters/digits",
}


def problems(error: ValidationError, model: type[BaseModel]) -> list[tuple[tuple, str]]:
    """Return (location, message) for each error, in authors' words, without pydantic's tags."""
    return [(_location(e), _message(e, model)) for e in error.errors(include_url=False)]


def _location(error: dict) -> tuple:
    """Drop the parts of a location that name no field: union tags and dict-key markers."""
    loc = tuple(p for p in error["loc"] if p not in KIND_TAGS and p != "[key]")
    return loc + ("kind",) if error["type"].startswith("union_tag") else loc


def _message(error: dict, model: type[BaseModel]) -> str:
    """Word one pydantic error the way the authoring docs do."""
    ctx = error.get("ctx", {})
    if error["type"] == "content":
        return error["msg"]
    if error["type"] == "extra_forbidden" and (allowed := _fields_at(model, error["loc"])):
        return f"unknown field (expected one of {allowed})"
    if error["type"] == "string_pattern_mismatch":
        return PATTERNS[ctx["pattern"]].format(input=error["input"])
    if error["type"] in ("literal_error", "union_tag_invalid"):
        ctx = {k: str(v).replace("'", "") for k, v in ctx.items()}
    template = MESSAGES.get(error["type"])
    return template.format(**ctx) if template else error["msg"]


def _fields_at(model: type[BaseModel] | None, loc: tuple) -> list[str] | None:
    """Name the fields of the table holding loc's last part (None inside a union)."""
    for part in loc[:-1]:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        tables = [a for a in (annotation, *get_args(annotation)) if _is_model(a)]
        model = tables[0] if tables else None
    return sorted(model.model_fields) if model else None


def _is_model(annotation: Any) -> bool:
    """Tell a table's model from other annotations."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def where(loc: tuple) -> str:
    """Write a location as authors name fields: functions[2].points, choices.a."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


class CaseFields(Strict):
    """The scalar fields of a tests.py Case (its inputs are checked as arrays)."""

    name: NonEmptyText
    points: Number | None = Field(None, gt=0)
    rtol: Number | None = Field(None, ge=0)
    atol: Number | None = Field(None, ge=0)
    hint: Text = ""
