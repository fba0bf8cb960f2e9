"""Quiz question kinds: each shows itself and scores a response (server/content/models.py
checks their fields when a quiz is loaded).

A kind is a small class in `KINDS` (the CTFd registry shape); views and the
content loader dispatch through `kind_of(name)` and never branch on the kind.
"""

import math
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from server.content import expressions
from server.scoring.params import draw_params


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
