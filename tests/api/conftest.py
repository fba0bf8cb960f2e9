"""API test fixtures: the demo course's users, each as an Authorization header."""

import pytest


@pytest.fixture
def student(demo, token_for):
    return token_for("student@example.edu")


@pytest.fixture
def other(demo, token_for):
    """A second student of the demo course."""
    return token_for("student2@example.edu")


@pytest.fixture
def instructor(demo, token_for):
    return token_for("instructor@example.edu")
