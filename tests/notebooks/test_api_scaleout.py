"""Scale-out: a `rubric worker` process grades a notebook submission from its stored version."""

from __future__ import annotations

from tests.notebooks.web_support import STUDENTS, SUBMIT, cell_scores, cli_scores, handed_in


def test_a_worker_grades_a_notebook_submission(cluster, app, client, token_for, ps1):
    # With the cluster, this app grades nothing itself: it sends the work to the workers,
    # which read the notebook exercise's version from the database, never from a folder.
    assert app.config["RUBRIC_BROKER_URL"]
    headers = token_for(STUDENTS["bitdiddle"])
    response = client.post(SUBMIT, json={"notebooks": handed_in("bitdiddle")}, headers=headers)
    assert response.status_code == 202, response.json
    url = f"/api/v1/submissions/{response.json['id']}?wait=20"
    answer = client.get(url, headers=headers).json
    for _ in range(5):
        if answer["status"] == "graded":
            break
        answer = client.get(url, headers=headers).json
    assert answer["status"] == "graded", answer
    assert cell_scores(answer["result"]) == cli_scores(ps1, "bitdiddle")
