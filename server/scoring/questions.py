"""Quiz question kinds: each validates its fields, shows itself and scores a response.

A kind is a small class in `KINDS` (the CTFd registry shape); views and the
content loader dispatch through `kind_of(name)` and never branch on the kind.
"""

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from server.content import expressions
from server.scoring.params import draw_params, validate_param_specs


class AnswerError(ValueError):
    """A response that cannot be scored (wrong type, unknown choice)."""


@dataclass(frozen=True)
class Marking:
    """The score one response earned."""

    score: float
    outcome: str  # "correct", "partial", "incorrect" or "unanswered"


def _outcome(score: float, points: float) -> str:
    if score >= points:
        return "correct"
    return "partial" if score > 0 else "incorrect"


def fill_prompt(prompt: str, params: dict[str, float]) -> str:
    """Put a student's parameter values into `{name}` placeholders of a prompt."""
    return re.sub(
        r"\{(\w+)\}", lambda m: _format_number(params[m[1]]) if m[1] in params else m[0], prompt
    )


def _format_number(value: float) -> str:
    return f"{value:g}"


class QuestionKind:
    """Base of every kind: the fields all questions share."""

    name: ClassVar[str]
    fields: ClassVar[set[str]] = {"prompt", "explanation"}

    def validate(self, spec: dict[str, Any]) -> list[tuple[str, str]]:
        """Return (field, problem) pairs for a question's kind-specific fields."""
        problems = [(f, "unknown field") for f in sorted(spec.keys() - self.fields)]
        if not isinstance(spec.get("prompt"), str) or not spec["prompt"].strip():
            problems.append(("prompt", "must be a non-empty string"))
        if not isinstance(spec.get("explanation", ""), str):
            problems.append(("explanation", "must be a string"))
        return problems

    def public(self, spec: dict[str, Any], params: dict[str, float]) -> dict[str, Any]:
        """Return what a student may see before answering: never the answer."""
        return {"prompt": fill_prompt(spec["prompt"], params)}

    def params_for(self, spec: dict[str, Any], seed: str) -> dict[str, float]:
        """Return the student's parameter values (none unless the kind randomizes)."""
        return {}

    def parse(self, spec: dict[str, Any], raw: Any) -> Any:
        """Turn a raw response into the kind's value, or raise AnswerError."""
        raise NotImplementedError

    def score(self, spec: dict[str, Any], params: dict[str, float], response: Any) -> float:
        """Return the fraction of the points a parsed response earns, in [0, 1]."""
        raise NotImplementedError

    def mark(self, spec, params, response, points: float) -> Marking:
        """Score a parsed response (None means unanswered)."""
        if response is None:
            return Marking(0.0, "unanswered")
        score = round(points * self.score(spec, params, response), 6)
        return Marking(score, _outcome(score, points))


class ChoiceKind(QuestionKind):
    """Shared parts of single and multiple choice."""

    fields = QuestionKind.fields | {"choices", "answer"}

    def validate(self, spec):
        problems = super().validate(spec)
        choices = spec.get("choices")
        if not isinstance(choices, dict) or len(choices) < 2:
            return problems + [("choices", "must be a table of at least two labelled choices")]
        for label, text in choices.items():
            if not re.fullmatch(r"[a-z0-9]{1,8}", label):
                problems.append((f"choices.{label}", "label must be 1-8 lowercase letters/digits"))
            if not isinstance(text, str) or not text.strip():
                problems.append((f"choices.{label}", "must be a non-empty string"))
        return problems

    def public(self, spec, params):
        labelled = [{"id": label, "text": text} for label, text in spec["choices"].items()]
        return super().public(spec, params) | {"choices": labelled}

    def _choice(self, spec, raw: Any) -> str:
        allowed = ", ".join(spec["choices"])
        if not isinstance(raw, str):
            raise AnswerError(f"expected a choice label ({allowed}), got {_type_name(raw)}")
        if raw not in spec["choices"]:
            raise AnswerError(f"{raw[:40]!r} is not one of the choices ({allowed})")
        return raw


class SingleChoice(ChoiceKind):
    """Exactly one correct choice."""

    name = "single_choice"

    def validate(self, spec):
        problems = super().validate(spec)
        if isinstance(spec.get("choices"), dict) and spec.get("answer") not in spec["choices"]:
            problems.append(("answer", "must be the label of one of the choices"))
        return problems

    def parse(self, spec, raw):
        return self._choice(spec, raw)

    def score(self, spec, params, response):
        return 1.0 if response == spec["answer"] else 0.0


class MultipleChoice(ChoiceKind):
    """Any number of correct choices, with partial credit.

    Rule: (correct choices ticked − wrong choices ticked) / correct choices,
    never below zero; so ticking every box earns nothing unless all are right.
    """

    name = "multiple_choice"

    def validate(self, spec):
        problems = super().validate(spec)
        answer, choices = spec.get("answer"), spec.get("choices")
        if not isinstance(answer, list) or not answer:
            problems.append(("answer", "must be a non-empty list of choice labels"))
        elif isinstance(choices, dict) and not set(answer) <= choices.keys():
            problems.append(("answer", f"{sorted(set(answer) - choices.keys())} are not choices"))
        return problems

    def parse(self, spec, raw):
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            raise AnswerError("expected a list of choice labels")
        # No box ticked is a blank answer, as on the form.
        return sorted({self._choice(spec, item) for item in raw}) or None

    def score(self, spec, params, response):
        correct = set(spec["answer"])
        chosen = set(response)
        return max(0.0, (len(chosen & correct) - len(chosen - correct)) / len(correct))


class Numeric(QuestionKind):
    """A number within an absolute and relative tolerance of the answer.

    With `params`, each student gets their own values and `answer` is an
    expression of them, evaluated safely.
    """

    name = "numeric"
    fields = QuestionKind.fields | {"answer", "atol", "rtol", "params"}

    def validate(self, spec):
        problems = super().validate(spec)
        for field in ("atol", "rtol"):
            value = spec.get(field, 0.0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                problems.append((field, "must be a number >= 0"))
        if "atol" not in spec and "rtol" not in spec:
            problems.append(("atol", "give atol or rtol (a tolerance of zero is never met)"))
        param_problems = validate_param_specs(spec.get("params", {}))
        return problems + param_problems + self._validate_answer(spec, not param_problems)

    def _validate_answer(self, spec, params_ok: bool) -> list[tuple[str, str]]:
        answer = spec.get("answer")
        if isinstance(answer, bool) or not isinstance(answer, int | float | str):
            return [("answer", "must be a number or an expression")]
        if isinstance(answer, str):
            try:
                unknown = (
                    expressions.names(expressions.parse(answer)) - spec.get("params", {}).keys()
                )
                if unknown:
                    return [("answer", f"uses unknown parameters {sorted(unknown)}")]
                if params_ok:  # prove it evaluates for some student
                    expressions.evaluate(answer, self.params_for(spec, "check"))
            except expressions.ExpressionError as exc:
                return [("answer", str(exc))]
        return []

    def params_for(self, spec, seed):
        return draw_params(spec.get("params", {}), seed)

    def correct_value(self, spec, params) -> float:
        """Return the answer for these parameter values."""
        answer = spec["answer"]
        return expressions.evaluate(answer, params) if isinstance(answer, str) else float(answer)

    def parse(self, spec, raw):
        if isinstance(raw, bool) or not isinstance(raw, int | float | str):
            raise AnswerError(f"expected a number, got {_type_name(raw)}")
        if isinstance(raw, str):
            raw = _typed_number(raw)
        try:
            value = float(raw)
        except OverflowError:  # an integer beyond any float
            value = math.inf
        if not math.isfinite(value):
            raise AnswerError("expected a finite number")
        return value

    def score(self, spec, params, response):
        expected = self.correct_value(spec, params)
        tolerance = spec.get("atol", 0.0) + spec.get("rtol", 0.0) * abs(expected)
        return 1.0 if abs(response - expected) <= tolerance else 0.0


# A number as a student types it: ASCII digits, an optional sign, decimal point and
# exponent ("-0.998", "+1", ".5", "9.98e-1"). float() alone would also take Unicode
# digits ("٠.٩٩٨"), underscores ("0.99_8"), "nan" and "infinity".
TYPED_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _typed_number(raw: str) -> str:
    """Return a typed answer stripped of surrounding spaces, if it is a plain number."""
    text = raw.strip()
    if TYPED_NUMBER.fullmatch(text):
        return text
    if re.fullmatch(r"[+-]?[0-9]*,[0-9]+", text):
        raise AnswerError(f"write the decimal point as '.', not ',': {text[:40]!r}")
    raise AnswerError(f"expected a number such as 0.25, -3 or 1.5e-3, got {text[:40]!r}")


def _type_name(raw: Any) -> str:
    """Name a JSON value's type, without echoing a value that may be huge or deep."""
    names = {bool: "a boolean", list: "a list", dict: "an object", type(None): "null"}
    return names.get(type(raw), type(raw).__name__)


KINDS: dict[str, QuestionKind] = {
    kind.name: kind() for kind in (SingleChoice, MultipleChoice, Numeric)
}


def kind_of(name: str) -> QuestionKind:
    """Return the question kind registered under a name."""
    return KINDS[name]
