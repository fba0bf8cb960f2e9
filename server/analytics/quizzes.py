"""Item analysis of a quiz over the class's counted attempts.

For each question: the share of counted attempts that got it fully right, each
choice's share, and the classic upper-lower discrimination index:

    D = p_upper - p_lower

where the students are ranked by their counted attempt's total (raw) score, the
upper and lower groups are the top and bottom 27% (n = round(0.27 N), at least 1,
ties broken by student id), and p is a group's mean fraction of the question's
points (for a right/wrong question, the share who got it right). D runs from -1 to 1:
near 0 the question does not separate strong from weak students, negative it favours
the weak ones. With fewer than two counted attempts D is null.
"""

from collections import defaultdict

import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment, Question, QuizAnswer
from server.scoring.quizzes import current_quiz

GROUP_SHARE = 0.27
CHUNK = 500


def _answers(attempt_ids: list[int]):
    """(attempt id, question key, response, outcome, score, max) of these attempts."""
    for start in range(0, len(attempt_ids), CHUNK):
        query = (
            sa.select(
                QuizAnswer.attempt_id,
                Question.key,
                QuizAnswer.response,
                QuizAnswer.outcome,
                QuizAnswer.score,
                QuizAnswer.max_score,
            )
            .join(Question, Question.id == QuizAnswer.question_id)
            .where(QuizAnswer.attempt_id.in_(attempt_ids[start : start + CHUNK]))
        )
        yield from db.session.execute(query)


def groups(totals: dict[int, float]) -> tuple[list[int], list[int]]:
    """The lower and upper 27% of attempts (by id) ranked by total score."""
    if len(totals) < 2:
        return [], []
    ranked = sorted(totals, key=lambda attempt: (totals[attempt], attempt))
    size = max(1, round(GROUP_SHARE * len(ranked)))
    return ranked[:size], ranked[-size:]


def _share(values: list[float]) -> float:
    return sum(values) / len(values)


def question_stats(assignment: Assignment, counted: dict[int, float]) -> list[dict]:
    """Each question's correct rate, discrimination and choice shares.

    counted: counted attempt id -> that attempt's raw total score.
    """
    fraction: dict[str, dict[int, float]] = defaultdict(dict)
    correct: dict[str, int] = defaultdict(int)
    picked: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for attempt_id, key, response, outcome, score, maximum in _answers(sorted(counted)):
        fraction[key][attempt_id] = score / maximum if maximum else 0.0
        correct[key] += outcome == "correct"
        for label in _labels(response):
            picked[key][label] += 1
    lower, upper = groups(counted)
    choices = {q.key: list(q.spec.get("choices", {})) for q in current_quiz(assignment).questions}
    keys = list(choices) + sorted(set(fraction) - set(choices))
    out = []
    for key in keys:
        answered = fraction.get(key, {})
        n = len(answered)
        discrimination = None
        if lower and upper and n:
            d = _share([answered.get(a, 0.0) for a in upper]) - _share(
                [answered.get(a, 0.0) for a in lower]
            )
            discrimination = round(d, 4)
        labels = choices.get(key, [])  # a numeric question has none
        shares = {label: round(picked[key][label] / n, 4) if n else 0.0 for label in labels}
        rate = round(correct[key] / n, 4) if n else None
        out.append(
            {"id": key, "correct_rate": rate, "discrimination": discrimination, "choices": shares}
        )
    return out


def _labels(response) -> list[str]:
    """The choice labels a response picked (none for a number or a blank)."""
    if isinstance(response, str):
        return [response]
    if isinstance(response, list):
        return [r for r in response if isinstance(r, str)]
    return []
