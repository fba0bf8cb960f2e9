"""Per-student question parameters: random, but the same on every reload."""

import hashlib
import random
from decimal import Decimal
from typing import Any


def draw_params(specs: dict[str, dict[str, Any]], seed: str) -> dict[str, float]:
    """Draw each parameter from its range or choices, deterministically from the seed."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    return {name: _draw(spec, rng) for name, spec in sorted(specs.items())}


def _draw(spec: dict[str, Any], rng: random.Random) -> float:
    if "choices" in spec:
        return float(rng.choice(spec["choices"]))
    low, high, step = (Decimal(str(spec[k])) for k in ("min", "max", "step"))
    steps = int((high - low) / step)
    # Decimal keeps 0.001 * 37 from printing as 0.037000000000000005.
    return float(low + step * rng.randint(0, steps))


def student_seed(assignment_id: int, user_id: int, question_key: str) -> str:
    """Return the seed that ties a question's parameters to one student and assignment."""
    return f"{assignment_id}:{user_id}:{question_key}"


def validate_param_specs(specs: Any) -> list[tuple[str, str]]:
    """Return (field, problem) pairs for a `params` table."""
    if not isinstance(specs, dict):
        return [("params", "must be a table of parameters")]
    problems = []
    for name, spec in specs.items():
        field = f"params.{name}"
        if not name.isidentifier():
            problems.append((field, "name must be an identifier"))
        elif not isinstance(spec, dict):
            problems.append((field, "must be {min, max, step} or {choices}"))
        elif "choices" in spec:
            problems += _check_choices(field, spec)
        else:
            problems += _check_range(field, spec)
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_choices(field: str, spec: dict) -> list[tuple[str, str]]:
    choices = spec["choices"]
    if set(spec) != {"choices"}:
        return [(field, "give either choices or min/max/step, not both")]
    if not isinstance(choices, list) or not choices or not all(map(_is_number, choices)):
        return [(f"{field}.choices", "must be a non-empty list of numbers")]
    return []


def _check_range(field: str, spec: dict) -> list[tuple[str, str]]:
    if set(spec) != {"min", "max", "step"}:
        return [(field, "must have exactly min, max and step (or only choices)")]
    for key in ("min", "max", "step"):
        if not _is_number(spec[key]):
            return [(f"{field}.{key}", "must be a number")]
    if spec["step"] <= 0 or spec["max"] < spec["min"]:
        return [(field, "needs step > 0 and max >= min")]
    return []
