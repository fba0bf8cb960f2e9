"""What the class's counted code submissions pass, and which known mistakes they made.

A stored result names no mistake (a student's JSON must not carry instructor-only
names), but the grader puts the matched mistake's hint first in the feedback of each
test it recognised (server/grading/grader.py grade_test): that hint, read against the
mistakes of the exact exercise version the submission was graded against, names it.

What the statistics need of one result (each test's outcome, the mistakes, the
visible-test fingerprint) is read once per process and kept, keyed by the submission,
its version and its grading time: a regrade records a new time, so it is read again.
"""

import hashlib
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Exercise, Submission
from server.submissions.exercises import current_exercise, loaded_version

CHUNK = 500  # ids per IN (...) list
UNKNOWN_GROUPS = 10
FULL_MARKS_SLACK = 1e-9
# Line numbers differ from one student's file to the next for the same error.
LINE = re.compile(r"\bline \d+")
KEPT_FACTS = 100_000  # per process, a few hundred bytes each; a full memo starts over


@dataclass(frozen=True)
class Facts:
    """What the statistics read of one graded result."""

    layout: tuple[tuple[str, str], ...]  # (part, test) in result order, shared by a version
    passed: tuple[bool, ...]  # each test's, in the same order
    mistakes: frozenset[str]
    fingerprint: str  # of the visible tests' outcomes and feedback
    visible: tuple[dict, ...]


@dataclass(frozen=True)
class Graded:
    """One counted submission and the facts of its result."""

    id: int
    user_id: int
    full: bool
    facts: Facts


_facts: dict[tuple[int, int, datetime | None], Facts] = {}
_facts_lock = threading.Lock()


def graded_results(counted: dict[int, int]) -> list[Graded]:
    """The facts of counted submissions (submission id -> student id), read once each.

    Only the result's "parts" leave the database, and only for results not read
    before: the weight-decay demo and the sweep are most of a result's bytes.
    """
    rows = []
    for chunk in _chunks(sorted(counted)):
        query = sa.select(
            Submission.id,
            Submission.exercise_id,
            Submission.graded_at,
            Submission.score,
            Submission.max_score,
        ).where(Submission.id.in_(chunk))
        rows += db.session.execute(query).all()
    keys = {row.id: (row.id, row.exercise_id, row.graded_at) for row in rows}
    missing = [row for row in rows if keys[row.id] not in _facts]
    if missing:
        _read_facts(missing, keys)
    out = []
    for row in rows:
        facts = _facts.get(keys[row.id]) or _EMPTY
        full = row.score is not None and row.score >= row.max_score - FULL_MARKS_SLACK
        out.append(Graded(row.id, counted[row.id], full, facts))
    return sorted(out, key=lambda g: g.id)


_EMPTY = Facts((), (), frozenset(), "", ())
# One layout object per distinct test list: most results of a version share it.
_layouts: dict[tuple, tuple] = {}


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


def _read_facts(rows: list, keys: dict) -> None:
    """Read the parts of these results and keep their facts."""
    known = _known_mistakes({row.exercise_id for row in rows})
    found = {}
    for chunk in _chunks([row.id for row in rows]):
        query = sa.select(Submission.id, Submission.result["parts"]).where(Submission.id.in_(chunk))
        for sid, parts in db.session.execute(query):
            key = keys[sid]
            found[key] = facts_of(parts or [], known.get(key[1], []))
    with _facts_lock:
        if len(_facts) + len(found) > KEPT_FACTS:
            _facts.clear()
        _facts.update(found)


def _known_mistakes(exercise_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    """Each version's (hint, name) pairs, longest hint first."""
    rows = db.session.execute(
        sa.select(Exercise.id, Exercise.slug, Exercise.content_hash).where(
            Exercise.id.in_(exercise_ids)
        )
    )
    out = {}
    for exercise_id, slug, content_hash in rows:
        engine = loaded_version(exercise_id, (slug, content_hash))
        # A notebook exercise (server/notebooks) has no known mistakes.
        pairs = [(m.hint, m.name) for m in getattr(engine, "mistakes", ())]
        out[exercise_id] = sorted(pairs, key=lambda p: -len(p[0]))
    return out


def facts_of(parts: list[dict], known: list[tuple[str, str]]) -> Facts:
    """Read one result: test outcomes, mistakes made, visible-test fingerprint."""
    layout, passes, mistakes, visible = [], [], set(), []
    for part in parts:
        name = part.get("name", "")
        seen: Counter = Counter()
        for test in part.get("tests", []):
            passed = test.get("outcome") == "passed"
            layout.append((name, test.get("name", "")))
            passes.append(passed)
            feedback = test.get("feedback") or ""
            if not passed and (mistake := _hinted(feedback, known)):
                seen[mistake] += 1
            if test.get("visible"):
                visible.append(_shown(name, test, passed, feedback))
        mistakes |= _most_seen(seen)
    text = "\n".join(f"{t['part']}|{t['name']}|{t['outcome']}|{t['feedback']}" for t in visible)
    fingerprint = hashlib.sha256(text.encode()).hexdigest()[:16]
    shared = _layouts.setdefault(tuple(layout), tuple(layout))
    return Facts(shared, tuple(passes), frozenset(mistakes), fingerprint, tuple(visible))


def _most_seen(seen: Counter) -> set[str]:
    """The mistake recognised on most of a function's tests (all of them on a tie).

    Two mistakes may give the same output on some input (|w| and sqrt(w²) agree on a
    single weight), and the grader then shows the first one's hint there; different
    functions may show different mistakes.
    """
    if not seen:
        return set()
    most = max(seen.values())
    return {name for name, count in seen.items() if count == most}


def _hinted(feedback: str, pairs: list[tuple[str, str]]) -> str | None:
    """The known mistake whose hint opens this feedback, if any."""
    for hint, name in pairs:
        if feedback == hint or feedback.startswith(hint + "\n"):
            return name
    return None


def _shown(part: str, test: dict, passed: bool, feedback: str) -> dict:
    """A visible test as the unknown-mistake groups show it: line numbers left out."""
    detail = "" if passed else LINE.sub("line ?", feedback)
    return {"part": part, "name": test.get("name", ""), "outcome": test.get("outcome", ""),
            "feedback": detail}  # fmt: skip


def pass_rates(graded: list[Graded]) -> list[dict]:
    """Each test's pass rate over the counted submissions that ran it, in result order."""
    by_layout: dict[tuple, list[tuple[bool, ...]]] = defaultdict(list)
    for submission in graded:
        by_layout[submission.facts.layout].append(submission.facts.passed)
    runs: Counter = Counter()
    passes: Counter = Counter()
    for layout, vectors in by_layout.items():
        for key, column in zip(layout, zip(*vectors, strict=True), strict=True):
            runs[key] += len(vectors)
            passes[key] += sum(column)
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
        for name in submission.facts.mistakes:
            made[name].append(submission.id)
    ranking = [
        {"name": name, "hint": hints.get(name, ""), "students": len(made[name]),
         "submissions": sorted(made[name])}
        for name in set(hints) | set(made)
    ]  # fmt: skip
    return sorted(ranking, key=lambda m: (-m["students"], m["name"]))


def unknown_mistakes(graded: list[Graded], top: int = UNKNOWN_GROUPS) -> list[dict]:
    """Wrong counted submissions that match no known mistake, grouped by visible outcomes.

    Only visible tests enter a group's key and what it shows: hidden tests never do.
    Largest groups first, each with its student count and one example submission.
    """
    groups: dict[str, dict] = {}
    for submission in graded:
        facts = submission.facts
        if submission.full or facts.mistakes or not facts.layout:
            continue
        group = groups.setdefault(
            facts.fingerprint,
            {"students": 0, "example": submission.id, "visible": list(facts.visible)},
        )
        group["students"] += 1
    ranked = sorted(groups.values(), key=lambda g: (-g["students"], g["example"]))
    return ranked[:top]


def exercise_stats(assignment: Assignment, counted: dict[int, int]) -> dict:
    """Pass rates, the known-mistake ranking and the unknown groups of counted submissions."""
    graded = graded_results(counted)
    newest = current_exercise(assignment)
    known = _known_mistakes({newest.id})[newest.id]
    return {
        "tests": pass_rates(graded),
        "mistakes": mistake_ranking(graded, known),
        "unknown": unknown_mistakes(graded),
    }
