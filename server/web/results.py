"""A grading result arranged for the pages: per function, per test, with values to show."""

import re
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
NOT_RUN = ("Not run", "not run:")


def result_blocks(
    submission: Submission, result: dict | None, hidden_details: bool = False
) -> list[dict[str, Any]]:
    """Return one block per function of the result as shown (before release: withheld).

    Instructors also get each hidden test's call and answer.
    """
    return parts_view(
        (result or {}).get("parts", []),
        visible_examples(submission.exercise),
        _hidden_examples(submission) if hidden_details else {},
    )


def parts_view(parts: list[dict], examples: dict, hidden: dict) -> list[dict[str, Any]]:
    """Arrange a result's parts (a graded submission's or a visible-tests check's)."""
    return [_part(part, examples, hidden) for part in parts]


def summary(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Say first what matters: which functions pass, and the one hint to act on."""
    failing = [b for b in blocks if b["score"] < b["max_score"]]
    hint = next((h for b in failing for h in b["hints"]), None)
    return {"passing": [b["name"] for b in blocks if b not in failing], "hint": hint}


def _part(part: dict, examples: dict, hidden: dict) -> dict[str, Any]:
    """Arrange one function's tests: each hint once, above; identical failures as one row."""
    tests = [_test(part["name"], t, examples, hidden) for t in part["tests"]]
    # A known mistake's hint (or a test's) repeats on every test it fails: say it once.
    hints = [m for t in tests for m in t["messages"] if _is_hint(m, part["name"])]
    hints = list(dict.fromkeys(hints))
    for test in tests:
        test["messages"] = [m for m in test["messages"] if m not in hints]
    failed = [t for t in tests if t["outcome"] != "passed"]
    return {
        "name": part["name"],
        "score": part["score"],
        "max_score": part["max_score"],
        "hints": hints,
        "tests": tests,
        "failed": _grouped(failed),
        "passed": [t for t in tests if t["outcome"] == "passed"],
    }


def _is_hint(message: str, function: str) -> bool:
    """Tell a hint from the grader's per-test words (fixed texts, or a visible call's detail)."""
    return not message.startswith(GENERIC) and not message.startswith(f"{function}(")


def _grouped(tests: list[dict]) -> list[dict]:
    """Merge failures that read the same (no call shown, same outcome and words) into one row.

    "12 hidden tests: function not found" once, not twelve times; a visible test whose
    call and values are shown keeps its own row.
    """
    rows: list[dict] = []
    groups: dict[tuple, dict] = {}
    for test in tests:
        if test["call"]:
            rows.append({**test, "count": 1})
            continue
        key = (test["label"], test["visible"], tuple(test["messages"]))
        if key in groups:
            groups[key]["count"] += 1
            groups[key]["names"].append(test["name"])
            continue
        groups[key] = {**test, "count": 1, "names": [test["name"]]}
        rows.append(groups[key])
    return rows


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
    never_ran = any(line.startswith(NOT_RUN) or ": not run:" in line for line in lines)
    return {
        **test,
        "never_ran": never_ran,
        # A test that never ran was not too slow (nor out of memory): it was not run.
        "label": "Not run" if never_ran else OUTCOME_LABELS.get(test["outcome"], test["outcome"]),
        "call": shown.get("call"),
        "expected": shown.get("expected_repr"),
        "actual": actual,
        "messages": lines,
    }


def visible_examples(exercise) -> dict[tuple[str, str], dict]:
    """Return the visible examples the student may see, by (function, test name)."""
    functions = exercise.public.get("functions", [])
    return {(f["name"], e["name"]): e for f in functions for e in f.get("examples", [])}


def _hidden_examples(submission: Submission) -> dict[tuple[str, str], dict]:
    """Return every hidden test's call and expected value, for instructors only."""
    exercise = loaded(submission.exercise)
    return {(t.function, t.name): example(t) for t in exercise.tests if not t.visible}
