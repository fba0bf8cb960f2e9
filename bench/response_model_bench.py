"""What validating a graded submission's answer through its pydantic model would cost.

The API answers GET /submissions/ID by splicing the stored result's JSON text into the
submission's fields (server/submissions/views.py), never decoding it. This compares
that with answering through the model (validate the stored text, dump it again), on a
real graded result of the bundled L2 exercise (the reference, with its demo chart).
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.api.models import Submission  # noqa: E402
from server.grading.demo import grade_with_demo  # noqa: E402
from server.grading.exercise import load_exercise  # noqa: E402


def per_call_us(function, repeat: int) -> float:
    """Median of five runs of repeat calls, in microseconds per call."""
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            function()
        runs.append((time.perf_counter() - start) / repeat * 1e6)
    return sorted(runs)[2]


def main() -> None:
    """Print the cost per answer of each way."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    exercise = ROOT / "exercises" / "l2-regularization"
    result = grade_with_demo(load_exercise(exercise), (exercise / "reference.py").read_text())
    stored = json.dumps(result)
    fields = {"id": 1, "assignment": "l2-regularization", "number": 1, "status": "graded"}
    fields |= {"submitted_at": "2026-01-01T00:00:00+00:00", "graded_at": None}
    fields |= {"score": 10.0, "max_score": 10.0}

    def splice() -> str:
        return json.dumps(fields)[:-1] + ', "result": ' + stored + "}"

    def through_model() -> str:
        return Submission.model_validate_json(splice()).model_dump_json(exclude_unset=True)

    print(f"graded result: {len(stored) / 1000:.1f} kB of JSON")
    print(f"  splice the stored text (today)     {per_call_us(splice, args.repeat):8.1f} us")
    print(f"  validate + dump through the model  {per_call_us(through_model, args.repeat):8.1f} us")


if __name__ == "__main__":
    main()
