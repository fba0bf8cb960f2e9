"""Quiz files: one TOML file under quizzes/ per quiz, validated on load."""

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.scoring.questions import KINDS, kind_of

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
QUIZ_FIELDS = {"title", "description", "questions"}
QUESTION_FIELDS = {"id", "kind", "points"}


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a content file, naming where it is."""

    path: str
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.where}: {self.message}"


class ContentError(ValueError):
    """A content file is invalid; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class QuestionSpec:
    """A validated question: its id, kind, points and kind-specific fields."""

    key: str
    kind: str
    points: float
    spec: dict[str, Any]


@dataclass(frozen=True)
class QuizSpec:
    """A validated quiz file."""

    slug: str
    title: str
    description: str
    content_hash: str
    questions: list[QuestionSpec] = field(default_factory=list)

    @property
    def max_score(self) -> float:
        """Return the total points of the quiz."""
        return sum(q.points for q in self.questions)


def load_quiz(path: Path) -> QuizSpec:
    """Read and validate one quiz file, raising ContentError with every problem."""
    raw = path.read_bytes()
    problems: list[Problem] = []
    slug = path.stem
    if not SLUG.fullmatch(slug):
        problems.append(Problem(str(path), "file name", "must be a lowercase slug like l2-quiz"))
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ContentError([Problem(str(path), "TOML", str(exc))]) from None
    problems += [Problem(str(path), where, msg) for where, msg in _quiz_problems(data)]
    if problems:
        raise ContentError(problems)
    questions = [_question(q) for q in data["questions"]]
    return QuizSpec(
        slug=slug,
        title=data["title"],
        description=data.get("description", ""),
        content_hash=hashlib.sha256(raw).hexdigest(),
        questions=questions,
    )


def _question(data: dict[str, Any]) -> QuestionSpec:
    spec = {k: v for k, v in data.items() if k not in QUESTION_FIELDS}
    return QuestionSpec(data["id"], data["kind"], float(data["points"]), spec)


def _quiz_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    problems = [(k, "unknown field") for k in sorted(data.keys() - QUIZ_FIELDS)]
    if not isinstance(data.get("title"), str) or not data["title"].strip():
        problems.append(("title", "must be a non-empty string"))
    if not isinstance(data.get("description", ""), str):
        problems.append(("description", "must be a string"))
    questions = data.get("questions")
    if not isinstance(questions, list) or not questions:
        return problems + [("questions", "needs at least one [[questions]] table")]
    seen: set[str] = set()
    for index, question in enumerate(questions, start=1):
        problems += _question_problems(index, question, seen)
    return problems


def _question_problems(index: int, q: dict[str, Any], seen: set[str]) -> list[tuple[str, str]]:
    key = q.get("id")
    label = f"question {key}" if isinstance(key, str) else f"question #{index}"
    problems = []
    if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", key):
        problems.append(("id", "must be a short identifier like q1"))
    elif key in seen:
        problems.append(("id", f"duplicate id {key!r}"))
    seen.add(key)
    points = q.get("points")
    if isinstance(points, bool) or not isinstance(points, int | float) or points <= 0:
        problems.append(("points", "must be a number > 0"))
    if q.get("kind") not in KINDS:
        problems.append(("kind", f"must be one of {', '.join(KINDS)}"))
    else:
        spec = {k: v for k, v in q.items() if k not in QUESTION_FIELDS}
        problems += kind_of(q["kind"]).validate(spec)
    return [(f"{label}: {where}", msg) for where, msg in problems]


def quiz_files(root: Path) -> list[Path]:
    """Return the quiz files under a content root's quizzes/ folder."""
    return sorted((root / "quizzes").glob("*.toml"))
