"""A grading result arranged for the pages: per function, per test, with values to show."""

import re
from collections import Counter
from typing import Any

from server.grading.exercise import example
from server.models import Submission, SubmissionStatus
from server.submissions.exercises import loaded

OUTCOME_LABELS = {
    "passed": "Passed",
    "wrong_answer": "Wrong answer",
    "runtime_error": "Error",
    "timeout": "Too slow",
    "memory_limit": "Out of memory",
    "missing": "Missing",
    "invalid_output": "Not a number array",
    "mutated_input": "Changed its input",
}
# The grader writes a visible wrong answer as "CALL: expected E, got A (why; rtol=…, atol=…)."
VISIBLE_DETAIL = re.compile(
    r"^(?P<call>.+?): expected (?P<expected>.+?), got (?P<actual>.+) "
    r"\((?P<why>[^()]*; rtol=\S+, atol=\S+)\)\.$"
)
OUTCOMES = {"full", "partial", "zero", "pending", "error"}
# The grader's own per-test messages: they stay with their test even when repeated.
GENERIC = ("Wrong answer on a hidden test", "Your function", "Not run", "Function not found")


def result_blocks(submission: Submission, hidden_details: bool = False) -> list[dict[str, Any]]:
    """Return one block per function; instructors also get each hidden test's call and answer."""
    result = submission.result or {}
    examples = _examples(submission)
    hidden = _hidden_examples(submission) if hidden_details else {}
    return [_part(part, examples, hidden) for part in result.get("parts", [])]


def _part(part: dict, examples: dict, hidden: dict) -> dict[str, Any]:
    """Arrange one function's tests; a message repeated on several tests is shown once, above."""
    tests = [_test(part["name"], t, examples, hidden) for t in part["tests"]]
    counts = Counter(m for t in tests for m in dict.fromkeys(t["messages"]))
    # A known mistake's hint typically repeats on every test it fails: say it once.
    shared = [m for m, n in counts.items() if n > 1 and not m.startswith(GENERIC)]
    for test in tests:
        test["messages"] = [m for m in test["messages"] if m not in shared]
    return {
        "name": part["name"],
        "score": part["score"],
        "max_score": part["max_score"],
        "hints": shared,
        "tests": tests,
    }


def outcome_filter(submission: Submission, outcome: str) -> bool:
    """Tell whether a submission matches the instructor's outcome filter."""
    if outcome not in OUTCOMES:
        return True
    if outcome == "pending":
        return submission.status in (SubmissionStatus.QUEUED, SubmissionStatus.RUNNING)
    if outcome == "error":
        return submission.status == SubmissionStatus.ERROR
    if submission.score is None:
        return False
    if outcome == "full":
        return submission.score >= submission.max_score
    if outcome == "zero":
        return submission.score == 0
    return 0 < submission.score < submission.max_score


def _test(function: str, test: dict, examples: dict, hidden: dict) -> dict[str, Any]:
    """Arrange one test: its outcome, the call and values to show, and its messages."""
    shown = examples.get((function, test["name"])) or hidden.get((function, test["name"])) or {}
    lines = [line for line in test["feedback"].splitlines() if line.strip()]
    actual = None
    for line in lines:
        if test["visible"] and (match := VISIBLE_DETAIL.match(line)):
            actual = match["actual"]
            lines.remove(line)
            break
    return {
        **test,
        "label": OUTCOME_LABELS.get(test["outcome"], test["outcome"]),
        "call": shown.get("call"),
        "expected": shown.get("expected_repr"),
        "actual": actual,
        "messages": lines,
    }


def _examples(submission: Submission) -> dict[tuple[str, str], dict]:
    """Return the visible examples the student may see, by (function, test name)."""
    functions = submission.exercise.public.get("functions", [])
    return {(f["name"], e["name"]): e for f in functions for e in f.get("examples", [])}


def _hidden_examples(submission: Submission) -> dict[tuple[str, str], dict]:
    """Return every hidden test's call and expected value, for instructors only."""
    exercise = loaded(submission.exercise)
    return {(t.function, t.name): example(t) for t in exercise.tests if not t.visible}
