"""`content sync` of a notebook exercise: one stored version with every file of the folder."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

from server.grading.exercise import ExerciseError, bundle_hash
from server.notebooks.exercise import (
    NotebookError,
    NotebookExercise,
    load_notebook_exercise,
    load_notebook_files,
)

# Files that are not UTF-8 text (images, data) are kept base64-encoded under NAME.base64,
# since a stored version's bundle is text (Exercise.bundle).
BINARY_SUFFIX = ".base64"


def read_notebook_bundle(folder: Path) -> dict[str, str]:
    """Every file of the folder as {relative path: text}, binary files base64-encoded."""
    bundle = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if any(part.startswith(".") or part == "__pycache__" for part in name.split("/")):
            continue
        data = path.read_bytes()
        try:
            bundle[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            bundle[name + BINARY_SUFFIX] = base64.b64encode(data).decode("ascii")
    return bundle


def bundle_files(bundle: dict[str, str]) -> dict[str, bytes]:
    """A stored bundle's files as they were in the folder (read_notebook_bundle undone)."""
    files = {}
    for name, text in bundle.items():
        if name.endswith(BINARY_SUFFIX):
            files[name.removesuffix(BINARY_SUFFIX)] = base64.b64decode(text)
        else:
            files[name] = text.encode("utf-8")
    return files


def is_notebook_bundle(bundle: dict[str, str]) -> bool:
    """True when a stored version's files are a notebook exercise's."""
    try:
        return tomllib.loads(bundle.get("exercise.toml", "")).get("kind") == "notebook"
    except tomllib.TOMLDecodeError:
        return False


def load_stored(bundle: dict[str, str], slug: str) -> NotebookExercise:
    """Load a stored version of a notebook exercise from its bundle."""
    return load_notebook_files(bundle_files(bundle), Path(slug))


def public_view(exercise: NotebookExercise) -> dict:
    """What a student may see: names and points, never the source's cells."""
    return {
        "slug": exercise.slug,
        "title": exercise.title,
        "points": exercise.points,
        "kind": "notebook",
        "prompt": "A notebook assignment: download the notebooks, answer in them, submit them.",
        "starter": "",
        "functions": [],
        "notebooks": [
            {
                "name": spec.name,
                "points": spec.points,
                "cells": [
                    {"grade_id": c.grade_id, "kind": c.kind, "points": c.points} for c in spec.cells
                ],
            }
            for spec in exercise.notebooks
        ],
    }


def notebook_version(folder: Path) -> tuple[NotebookExercise, dict[str, str], str]:
    """Load the folder for storing: the exercise, its bundle and the bundle's hash."""
    try:
        exercise = load_notebook_exercise(folder)
    except NotebookError as exc:
        raise ExerciseError(folder, "", str(exc)) from None
    bundle = read_notebook_bundle(folder)
    return exercise, bundle, bundle_hash(bundle)
