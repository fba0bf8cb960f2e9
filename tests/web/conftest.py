"""Fixtures for the pages: a client per user, and the published L2 quiz."""

import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Assignment

from .support import INSTRUCTOR, QUIZ_SLUG, STUDENT, PageClient


@pytest.fixture
def client(app):
    """An anonymous client whose requests each get their own app context."""
    return PageClient(app, app.response_class, use_cookies=True)


@pytest.fixture
def new_client(app, demo):
    """Make a fresh client, logged in as the given user when one is given."""

    def make(user: tuple[str, str] | None = None) -> PageClient:
        client = PageClient(app, app.response_class, use_cookies=True)
        if user is not None:
            assert client.login(*user).status_code == 302
        return client

    return make


@pytest.fixture
def student(new_client):
    """A client logged in as the demo student."""
    return new_client(STUDENT)


@pytest.fixture
def instructor(new_client):
    """A client logged in as the demo instructor."""
    return new_client(INSTRUCTOR)


@pytest.fixture
def quiz_assignment(demo) -> Assignment:
    """The L2 quiz as published in the demo course."""
    return db.session.scalar(sa.select(Assignment).where(Assignment.slug == QUIZ_SLUG))
