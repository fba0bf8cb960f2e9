"""Log lines are JSON and carry the submission id they are about."""

import json
import logging

from server.logs import JsonFormatter


def test_a_record_becomes_one_json_line_with_its_extras():
    record = logging.makeLogRecord(
        {"name": "rubric.grading", "levelname": "INFO", "msg": "graded %s", "args": ("ok",)}
    )
    record.submission_id = 42
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "graded ok"
    assert entry["submission_id"] == 42 and entry["logger"] == "rubric.grading"
