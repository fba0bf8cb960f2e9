"""What the class's counted code submissions pass, and which known mistakes they made.

A stored result names no mistake (a student's JSON must not carry instructor-only
names), but the grader puts the matched mistake's hint first in the feedback of each
test it recognised (server/grading/grader.py grade_test): that hint, read against the
mistakes of the exact exercise version the submission was graded against, names it.
"""

import hashlib
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Exercise, Submission
from server.submissions.exercises import current_exercise, loaded_version

CHUNK = 500  # ids per IN (...) list
UNKNOWN_GROUPS = 10
# Line numbers differ from one student's file to the next for the same error.
LINE = re.compile(r"\bline \d+")


@dataclass
class Graded:
    """One counted submission's tests, and the known mistakes read from them."""

    id: int
    user_id: int
    exercise_id: int
    parts: list[dict]
    full: bool
    mistakes: set[str] = field(default_factory=set)


def graded_results(counted: dict[int, int]) -> list[Graded]:
    """Read the tests of counted submissions (submission id -> student id), not the rest.

    Only the result's "parts" leave the database: the weight-decay demo and the sweep
    are most of a result's bytes and say nothing here.
    """
    ids = sorted(counted)
    out = []
    for start in range(0, len(ids), CHUNK):
        query = sa.select(
            Submission.id,
            Submission.exercise_id,
            Submission.score,
            Submission.max_score,
            Submission.result["parts"],
        ).where(Submission.id.in_(ids[start : start + CHUNK]))
        for sid, exercise_id, score, maximum, parts in db.session.execute(query):
            full = score is not None and score >= maximum - 1e-9
            out.append(Graded(sid, counted[sid], exercise_id, parts or [], full))
    return sorted(out, key=lambda g: g.id)


def known_mistakes(exercise_ids: set[int], newest: Exercise) -> dict[int, list[tuple[str, str]]]:
    """Each version's (hint, name) pairs, longest hint first; and the newest version's."""
    rows = db.session.execute(
        sa.select(Exercise.id, Exercise.slug, Exercise.content_hash).where(
            Exercise.id.in_(exercise_ids | {newest.id})
        )
    )
    out = {}
    for exercise_id, slug, content_hash in rows:
        engine = loaded_version(exercise_id, (slug, content_hash))
        pairs = [(m.hint, m.name) for m in engine.mistakes]
        out[exercise_id] = sorted(pairs, key=lambda p: -len(p[0]))
    return out


def mark_mistakes(graded: list[Graded], known: dict[int, list[tuple[str, str]]]) -> None:
    """Name the known mistakes each submission made, from the hints its tests show.

    Two mistakes may give the same output on some input (|w| and sqrt(w²) agree on a
    single weight), and the grader then shows the first one's hint there. So within
    each function, the mistake recognised on the most of its tests is the one made
    (every one of them on a tie); different functions may show different mistakes.
    """
    for submission in graded:
        pairs = known.get(submission.exercise_id, [])
        for part in submission.parts:
            seen = Counter(
                name
                for test in part.get("tests", [])
                if test.get("outcome") != "passed"
                and (name := _hinted(test.get("feedback") or "", pairs))
            )
            if seen:
                most = max(seen.values())
                submission.mistakes |= {name for name, count in seen.items() if count == most}


def _hinted(feedback: str, pairs: list[tuple[str, str]]) -> str | None:
    """The known mistake whose hint opens this feedback, if any."""
    for hint, name in pairs:
        if feedback == hint or feedback.startswith(hint + "\n"):
            return name
    return None


def _tests(submission: Graded):
    """Every test of a submission, with its part's name."""
    for part in submission.parts:
        for test in part.get("tests", []):
            yield part.get("name", ""), test


def pass_rates(graded: list[Graded]) -> list[dict]:
    """Each test's pass rate over the counted submissions that ran it, in result order."""
    runs: Counter = Counter()
    passes: Counter = Counter()
    for submission in graded:
        for part, test in _tests(submission):
            key = (part, test.get("name", ""))
            runs[key] += 1
            passes[key] += test.get("outcome") == "passed"
    return [
        {"part": part, "name": name, "pass_rate": round(passes[(part, name)] / count, 4)}
        for (part, name), count in runs.items()
    ]


def mistake_ranking(graded: list[Graded], newest: list[tuple[str, str]]) -> list[dict]:
    """Known mistakes by how many students' counted submissions made them, most first.

    The newest version's mistakes are all listed, those made by nobody with 0; a
    mistake only an older version knew is listed when someone made it.
    """
    hints = {name: hint for hint, name in newest}
    made: dict[str, list[int]] = defaultdict(list)
    for submission in graded:
        for name in submission.mistakes:
            made[name].append(submission.id)
    names = set(hints) | set(made)
    ranking = [
        {
            "name": name,
            "hint": hints.get(name, ""),
            "students": len(made[name]),
            "submissions": sorted(made[name]),
        }
        for name in names
    ]
    return sorted(ranking, key=lambda m: (-m["students"], m["name"]))


def fingerprint(submission: Graded) -> tuple[str, list[dict]]:
    """A stable key of what a submission did on the VISIBLE tests, and those tests' outcomes.

    Hidden tests never enter it: a group's key and its shown detail hold only what
    the student could see for themselves.
    """
    shown = []
    for part, test in _tests(submission):
        if not test.get("visible"):
            continue
        detail = (
            "" if test["outcome"] == "passed" else LINE.sub("line ?", test.get("feedback") or "")
        )
        shown.append(
            {
                "part": part,
                "name": test.get("name", ""),
                "outcome": test["outcome"],
                "feedback": detail,
            }
        )
    text = "\n".join(f"{t['part']}|{t['name']}|{t['outcome']}|{t['feedback']}" for t in shown)
    return hashlib.sha256(text.encode()).hexdigest()[:16], shown


def unknown_mistakes(graded: list[Graded], top: int = UNKNOWN_GROUPS) -> list[dict]:
    """Wrong counted submissions that match no known mistake, grouped by visible outcomes.

    Largest groups first, each with its student count and one example submission.
    """
    groups: dict[str, dict] = {}
    for submission in graded:
        if submission.full or submission.mistakes or not submission.parts:
            continue
        key, shown = fingerprint(submission)
        group = groups.setdefault(
            key, {"fingerprint": key, "students": 0, "example": submission.id, "visible": shown}
        )
        group["students"] += 1
    ranked = sorted(groups.values(), key=lambda g: (-g["students"], g["example"]))
    return ranked[:top]


def exercise_stats(assignment: Assignment, counted: dict[int, int]) -> dict:
    """Pass rates, the known-mistake ranking and the unknown groups of counted submissions."""
    graded = graded_results(counted)
    newest = current_exercise(assignment)
    known = known_mistakes({g.exercise_id for g in graded}, newest)
    mark_mistakes(graded, known)
    return {
        "tests": pass_rates(graded),
        "mistakes": mistake_ranking(graded, known[newest.id]),
        "unknown": unknown_mistakes(graded),
    }
