"""Quiz files: one TOML file under quizzes/ per quiz, validated on load."""

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from server.content.models import QuizFile, where
from server.content.models import problems as described

SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
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
    try:
        QuizFile.model_validate(data)
    except ValidationError as error:
        found = described(error, QuizFile)
        problems += [Problem(str(path), _where(data, loc), msg) for loc, msg in found]
    problems += [Problem(str(path), where, msg) for where, msg in _duplicate_ids(data)]
    if problems:
        raise ContentError(problems)
    return QuizSpec(
        slug=slug,
        title=data["title"],
        description=data.get("description", ""),
        content_hash=hashlib.sha256(raw).hexdigest(),
        questions=[_question(q) for q in data["questions"]],
    )


def _question(data: dict[str, Any]) -> QuestionSpec:
    """Keep a question's kind-specific fields as written: they are stored and scored as is."""
    spec = {k: v for k, v in data.items() if k not in QUESTION_FIELDS}
    return QuestionSpec(data["id"], data["kind"], float(data["points"]), spec)


def _where(data: dict[str, Any], loc: tuple) -> str:
    """Name a location as authors do: "question q2: atol" rather than questions[1].atol."""
    if len(loc) < 2 or loc[0] != "questions" or not isinstance(loc[1], int):
        return where(loc)
    question = data["questions"][loc[1]]
    key = question.get("id") if isinstance(question, dict) else None
    label = f"question {key}" if isinstance(key, str) else f"question #{loc[1] + 1}"
    return f"{label}: {where(loc[2:])}" if loc[2:] else label


def _duplicate_ids(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Answers and statistics refer to questions by id, so ids must be unique."""
    questions = data.get("questions")
    tables = questions if isinstance(questions, list) else []
    ids = [q.get("id") for q in tables if isinstance(q, dict)]
    repeated = sorted({k for i, k in enumerate(ids) if isinstance(k, str) and k in ids[:i]})
    return [(f"question {key}: id", f"duplicate id {key!r}") for key in repeated]


def quiz_files(root: Path) -> list[Path]:
    """Return the quiz files under a content root's quizzes/ folder."""
    return sorted((root / "quizzes").glob("*.toml"))
