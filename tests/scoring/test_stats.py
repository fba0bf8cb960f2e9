"""Class statistics computed from real graded work of the demo course.

Code submissions are the l2 exercise's real mistake files (and real wrong code no
mistake describes), graded in the sandbox; quiz attempts go through submit_attempt.
Every expected figure is computed here from what was submitted.
"""

import statistics
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bench.stats_seed import graded, mistake_code, reference_code, store, unknown_code
from server.accounts import find_user
from server.analytics.assignment import api_stats, assignment_stats
from server.analytics.quizzes import GROUP_SHARE
from server.config import PROJECT_ROOT
from server.extensions import db
from server.grading import load_exercise
from server.models import Assignment, ScorePolicy, Submission
from server.scoring.quizzes import submit_attempt
from tests.api.test_quiz_api import correct_answers

EXERCISE, QUIZ = "l2-regularization", "l2-regularization-quiz"
STUDENTS = ["student@example.edu"] + [f"student{n}@example.edu" for n in range(2, 10)]

# What each demo student submitted, oldest first: ("mistake", name), ("unknown", name)
# or ("reference",). The counted one (best score) is what the statistics count.
SUBMITTED = {
    STUDENTS[0]: [("mistake", "forgot_factor_two")],
    STUDENTS[1]: [("mistake", "forgot_factor_two"), ("reference",)],
    STUDENTS[2]: [("mistake", "forgot_factor_two")],
    STUDENTS[3]: [("unknown", "crashes"), ("mistake", "forgot_factor_two")],
    STUDENTS[4]: [("mistake", "l1_instead_of_l2")],
    STUDENTS[5]: [("mistake", "decay_sign_flipped"), ("mistake", "l1_instead_of_l2")],
    STUDENTS[6]: [("unknown", "cubed")],
    STUDENTS[7]: [("unknown", "cubed")],
    # STUDENTS[8] submits nothing.
}


def assignment(slug: str) -> Assignment:
    return db.session.scalar(sa.select(Assignment).where(Assignment.slug == slug))


def code_of(exercise: Assignment, what: tuple) -> str:
    if what[0] == "mistake":
        return mistake_code(exercise, what[1])
    if what[0] == "unknown":
        return unknown_code(exercise, what[1])
    return reference_code(exercise)


@pytest.fixture
def exercise(demo) -> dict:
    """The exercise with SUBMITTED stored; returns the stats and each student's ids and scores."""
    found = assignment(EXERCISE)
    stored = {}
    for email, whats in SUBMITTED.items():
        ids = store(found, find_user(email).id, [code_of(found, w) for w in whats])
        stored[email] = list(zip(ids, whats, strict=True))
    return {"assignment": found, "stored": stored}


def counted_of(found: Assignment, stored: dict) -> dict:
    """Each student's counted (id, what, score): best raw score, earliest of equals."""
    out = {}
    for email, pieces in stored.items():
        scored = [(db.session.get(Submission, i).score, n, i, w) for n, (i, w) in enumerate(pieces)]
        best = max(s for s, *_ in scored)
        _, _, sid, what = next(p for p in scored if p[0] == best)
        out[email] = (sid, what, best)
    return out


def test_the_mistake_ranking_is_what_the_students_counted_submissions_made(exercise):
    found, stored = exercise["assignment"], exercise["stored"]
    stats = assignment_stats(found)
    counted = counted_of(found, stored)
    made = Counter(what[1] for _, what, _ in counted.values() if what[0] == "mistake")
    assert made, "the fixture must count some known mistakes"
    ranked = [(m["name"], m["students"]) for m in stats["mistakes"] if m["students"]]
    assert ranked == sorted(made.items(), key=lambda item: (-item[1], item[0]))
    # Every known mistake is listed; those nobody made with 0 students, after the rest.
    files = {p.stem for p in (found_dir() / "mistakes").glob("*.py")}
    assert {m["name"] for m in stats["mistakes"]} == files
    nobody = [m["name"] for m in stats["mistakes"] if m["students"] == 0]
    assert set(nobody) == files - set(made) and nobody == sorted(nobody)
    # Each mistake links to the counted submissions that made it, and carries its hint.
    hints = {m.name: m.hint for m in load_exercise(found_dir()).mistakes}
    for m in stats["mistakes"]:
        expected = sorted(
            sid for sid, what, _ in counted.values() if what == ("mistake", m["name"])
        )
        assert m["submissions"] == expected
        assert m["hint"] == hints[m["name"]]


def found_dir():
    return PROJECT_ROOT / "exercises" / EXERCISE


def test_scores_submitted_and_first_attempts(exercise):
    found, stored = exercise["assignment"], exercise["stored"]
    stats = assignment_stats(found)
    counted = counted_of(found, stored)
    assert stats["students"] == len(STUDENTS)
    assert stats["submitted"] == len(SUBMITTED)
    scores = [score for _, _, score in counted.values()]
    assert stats["score"]["mean"] == pytest.approx(statistics.fmean(scores))
    assert stats["score"]["median"] == pytest.approx(statistics.median(scores))
    bins = stats["score"]["histogram"]
    assert sum(b["count"] for b in bins) == len(scores)
    for score in scores:  # each score is in the bin that holds it
        hits = [
            b for b in bins if b["from"] <= score < b["to"] or (b is bins[-1] and score == b["to"])
        ]
        assert hits and hits[0]["count"] >= 1
    assert bins[-1]["to"] == pytest.approx(stats["max_score"])
    first = [db.session.get(Submission, pieces[0][0]).score for pieces in stored.values()]
    assert stats["first_attempt_score"]["mean"] == pytest.approx(statistics.fmean(first))
    # Only STUDENTS[1] reached full marks, on their second submission.
    assert stats["attempts_to_full_marks"]["reached"] == 1
    assert stats["attempts_to_full_marks"]["histogram"] == [{"attempts": 2, "students": 1}]


def test_pass_rates_count_each_counted_submission_once(exercise):
    found, stored = exercise["assignment"], exercise["stored"]
    stats = assignment_stats(found)
    counted = counted_of(found, stored)
    results = [db.session.get(Submission, sid).result for sid, _, _ in counted.values()]
    for row in stats["tests"]:
        outcomes = [
            t["outcome"]
            for r in results
            for p in r["parts"]
            if p["name"] == row["part"]
            for t in p["tests"]
            if t["name"] == row["name"]
        ]
        assert row["pass_rate"] == pytest.approx(outcomes.count("passed") / len(outcomes), abs=1e-4)
    assert len(stats["tests"]) == sum(len(p["tests"]) for p in results[0]["parts"])


def test_unknown_mistakes_group_wrong_work_no_mistake_describes(exercise):
    found, stored = exercise["assignment"], exercise["stored"]
    stats = assignment_stats(found)
    counted = counted_of(found, stored)
    unknown = Counter(what[1] for _, what, _ in counted.values() if what[0] == "unknown")
    groups = stats["unknown_mistakes"]
    assert sorted(g["students"] for g in groups) == sorted(unknown.values())
    examples = {sid: what for sid, what, _ in counted.values()}
    for group in groups:
        assert examples[group["example"]][0] == "unknown"
        assert group["students"] == unknown[examples[group["example"]][1]]
        # Only visible tests are shown: never a hidden test's name or outcome.
        assert group["visible"] and all(t["name"] in visible_test_names() for t in group["visible"])


def visible_test_names() -> set[str]:
    return {t.name for t in load_exercise(found_dir()).tests if t.visible}


def test_the_last_policy_counts_the_last_submission(exercise):
    found, stored = exercise["assignment"], exercise["stored"]
    found.score_policy = ScorePolicy.LAST
    db.session.commit()
    stats = assignment_stats(found)
    last = Counter(p[-1][1][1] for p in stored.values() if p[-1][1][0] == "mistake")
    ranked = {m["name"]: m["students"] for m in stats["mistakes"] if m["students"]}
    assert ranked == dict(last)


def test_api_view_has_the_spec_shape(exercise):
    view = api_stats(assignment_stats(exercise["assignment"]))
    assert list(view)[:6] == ["students", "submitted", "score", "tests", "mistakes", "questions"]
    assert set(view["score"]) == {"mean", "median", "histogram"}
    assert all(set(m) == {"name", "hint", "students"} for m in view["mistakes"])
    assert view["questions"] == []


# Quiz item analysis ---------------------------------------------------------------

# Per student, which questions they answer right; the rest get a wrong answer.
RIGHT = {
    STUDENTS[0]: {"q1", "q2", "q3", "q4", "q5"},
    STUDENTS[1]: {"q1", "q2", "q3", "q4"},
    STUDENTS[2]: {"q1", "q2", "q3"},
    STUDENTS[3]: {"q1", "q3"},
    STUDENTS[4]: {"q1", "q4"},
    STUDENTS[5]: {"q2"},
    STUDENTS[6]: {"q3"},
    STUDENTS[7]: set(),
}
WRONG = {"q1": "a", "q2": 0.5, "q3": "d", "q4": ["c"], "q5": 123.0}


@pytest.fixture
def quiz(demo) -> dict:
    """Each student of RIGHT makes one attempt; returns the stats and each attempt's result."""
    found = assignment(QUIZ)
    results = {}
    for email, right in RIGHT.items():
        answers = {k: (v if k in right else WRONG[k]) for k, v in correct_answers(email).items()}
        results[email] = submit_attempt(found, find_user(email), answers).result
    return {"stats": assignment_stats(found), "results": results}


def test_quiz_item_analysis_by_hand(quiz):
    stats, results = quiz["stats"], quiz["results"]
    n = len(results)
    totals = {email: r["raw_score"] for email, r in results.items()}
    ranked = sorted(totals, key=lambda e: (totals[e], find_user(e).id))
    size = max(1, round(GROUP_SHARE * n))
    lower, upper = ranked[:size], ranked[-size:]

    def fraction(email, key):
        q = next(q for q in results[email]["questions"] if q["id"] == key)
        return q["score"] / q["max_score"]

    by_id = {q["id"]: q for q in stats["questions"]}
    assert list(by_id) == ["q1", "q2", "q3", "q4", "q5"]
    for key, q in by_id.items():
        right = sum(key in RIGHT[e] for e in results)
        assert q["correct_rate"] == pytest.approx(right / n, abs=1e-4)
        d = statistics.fmean(fraction(e, key) for e in upper) - statistics.fmean(
            fraction(e, key) for e in lower
        )
        assert q["discrimination"] == pytest.approx(d, abs=1e-4)
    # Choice shares: how many counted attempts picked each label.
    for key in ("q1", "q3", "q4"):
        picked = Counter()
        for email in results:
            response = correct_answers(email)[key] if key in RIGHT[email] else WRONG[key]
            picked.update([response] if isinstance(response, str) else response)
        for label, share in by_id[key]["choices"].items():
            assert share == pytest.approx(picked[label] / n, abs=1e-4)
        assert set(by_id[key]["choices"]) == {"a", "b", "c", "d"}
    assert by_id["q2"]["choices"] == {}
    assert stats["tests"] == [] and stats["mistakes"] == []


def test_the_strongest_question_discriminates_most(quiz):
    """q5, answered right by the top student alone, separates the groups less than q2/q3."""
    by_id = {q["id"]: q for q in quiz["stats"]["questions"]}
    assert min(q["discrimination"] for q in by_id.values()) >= -1
    assert max(q["discrimination"] for q in by_id.values()) <= 1


def test_a_regraded_result_is_read_again(exercise):
    """The facts of a result are kept per process, but a new grading time reads it anew."""
    found, stored = exercise["assignment"], exercise["stored"]
    before = {m["name"]: m["students"] for m in assignment_stats(found)["mistakes"]}
    sid = stored[STUDENTS[0]][0][0]  # their only submission: forgot_factor_two
    submission = db.session.get(Submission, sid)
    right = graded(found, reference_code(found))
    submission.result, submission.score = right, right["score"]
    submission.graded_at = submission.graded_at + timedelta(minutes=5)
    db.session.commit()
    after = {m["name"]: m["students"] for m in assignment_stats(found)["mistakes"]}
    assert after["forgot_factor_two"] == before["forgot_factor_two"] - 1
