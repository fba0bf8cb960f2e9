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
