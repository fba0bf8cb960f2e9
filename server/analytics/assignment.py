"""One assignment's class statistics, in SPEC's shape plus what the page shows besides."""

from server.analytics import exercises, quizzes, scores
from server.analytics.counted import StudentWork, counted_work
from server.models import Assignment, AssignmentKind
from server.scoring.gradebook import points_possible

# SPEC's keys of GET .../stats; the rest of assignment_stats is for the page (and extra keys).
SPEC_KEYS = ("students", "submitted", "score", "tests", "mistakes", "questions")


def assignment_stats(assignment: Assignment) -> dict:
    """Everything the statistics page shows of an assignment."""
    work = counted_work(assignment)
    maximum = points_possible(assignment)
    counted_scores = [w.score for w in work if w.score is not None and not w.excused]
    first = [w.first.score for w in work if w.first is not None]
    stats = {
        "students": len(work),
        "submitted": sum(w.submitted for w in work),
        "max_score": maximum,
        "score": scores.distribution(counted_scores, maximum),
        "first_attempt_score": scores.distribution(first, maximum),
        "attempts_to_full_marks": scores.attempts_summary(
            [w.attempts_to_full() for w in work if w.graded]
        ),
        "tests": [],
        "mistakes": [],
        "unknown_mistakes": [],
        "questions": [],
    }
    if assignment.kind == AssignmentKind.QUIZ:
        stats["questions"] = quizzes.question_stats(assignment, _raw_totals(work))
    else:
        found = exercises.exercise_stats(assignment, _counted_ids(work))
        stats |= {
            "tests": found["tests"],
            "mistakes": found["mistakes"],
            "unknown_mistakes": found["unknown"],
        }
    return stats


def _counted_ids(work: list[StudentWork]) -> dict[int, int]:
    """Counted submission id -> its student."""
    return {w.counted.id: w.user_id for w in work if w.counted is not None}


def _raw_totals(work: list[StudentWork]) -> dict[int, float]:
    """Counted attempt id -> its raw total score (item analysis ranks by the quiz itself)."""
    return {w.counted.id: w.counted.raw for w in work if w.counted is not None}


def api_stats(stats: dict) -> dict:
    """The JSON of GET .../stats: SPEC's keys, then the extras, without the page's links."""
    out = {key: stats[key] for key in SPEC_KEYS}
    out["mistakes"] = [
        {"name": m["name"], "hint": m["hint"], "students": m["students"]} for m in stats["mistakes"]
    ]
    out["first_attempt_score"] = stats["first_attempt_score"]
    out["attempts_to_full_marks"] = stats["attempts_to_full_marks"]
    out["unknown_mistakes"] = [
        {"students": g["students"], "example": g["example"], "visible": g["visible"]}
        for g in stats["unknown_mistakes"]
    ]
    return out
