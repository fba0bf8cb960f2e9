"""JSON columns: encoded with orjson, decoded back to the same values, never to invalid JSON."""

import math

import numpy as np
import pytest
import sqlalchemy as sa

from server.extensions import db
from server.models import Submission
from server.models.types import json_text, json_value
from tests.scaleout.support import store_without_message


def test_a_stored_result_reads_back_equal_with_nan_as_null(demo):
    submission_id = store_without_message("student@example.edu")
    row = db.session.get(Submission, submission_id)
    row.result = {
        "score": np.float64(2.5),
        "demo": {"student": [[3.0, 2.94, math.nan, math.inf]]},
        "feedback": "λ ‖w‖² — déjà",
        "counts": {1: 2},
    }
    db.session.commit()
    db.session.expire_all()

    text = db.session.scalar(
        sa.select(sa.cast(Submission.result, sa.Text)).where(Submission.id == submission_id)
    )
    assert db.session.get(Submission, submission_id).result == {
        "score": 2.5,
        "demo": {"student": [[3.0, 2.94, None, None]]},
        "feedback": "λ ‖w‖² — déjà",
        "counts": {"1": 2},
    }
    assert "NaN" not in text and "Infinity" not in text  # PostgreSQL's JSON refuses both


def test_text_written_by_the_json_module_still_reads():
    assert json_value('{"demo": [NaN, 1.5]}')["demo"][1] == 1.5
    assert math.isnan(json_value('{"demo": [NaN, 1.5]}')["demo"][0])
    assert json_value(json_text({"a": [0.1, 1e-07]})) == {"a": [0.1, 1e-07]}


def test_what_json_cannot_hold_is_refused():
    with pytest.raises(TypeError, match="object"):
        json_text({"when": object()})
