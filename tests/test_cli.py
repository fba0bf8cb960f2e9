"""The `rubric` commands for accounts and the demo course."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from werkzeug.security import check_password_hash

from server.accounts import hash_password, user_for_token
from server.cli import main
from server.extensions import db
from server.models import ApiToken, Assignment, Enrollment, User


def test_seed_demo_is_idempotent_and_prints_logins(runner, app):
    runner.invoke(args=["content", "sync"])
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "student@example.edu" in first.output and "instructor@example.edu" in first.output
    counts = [db.session.scalar(db.select(db.func.count(m.id))) for m in (User, Enrollment)]
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    assert [db.session.scalar(db.select(db.func.count(m.id))) for m in (User, Enrollment)] == counts
    assert counts == [10, 10]
    assignments = db.session.scalars(db.select(Assignment)).all()
    assert {(a.slug, a.kind.value) for a in assignments} == {
        ("l2-regularization-quiz", "quiz"),
        ("l2-regularization", "exercise"),
    }
    assert all(a.attempt_limit is None and a.content_slug == a.slug for a in assignments)


def test_token_create_prints_only_a_working_token(runner, demo):
    result = runner.invoke(args=["token", "create", "student@example.edu"])
    assert result.exit_code == 0
    token = result.output.strip()
    assert "\n" not in token
    assert user_for_token(token).email == "student@example.edu"
    stored = db.session.scalars(db.select(ApiToken.token_hash)).all()
    assert token not in stored and len(stored) == 1


def test_passwords_are_stored_hashed(app, demo):
    user = db.session.scalar(db.select(User).filter_by(email="student@example.edu"))
    method = app.config["RUBRIC_PASSWORD_HASH_METHOD"].split(":")[0]  # the suite's cheap one
    assert "student" not in user.password_hash and user.password_hash.startswith(method + ":")


def test_a_service_hashes_passwords_with_scrypt(app):
    app.config.pop("RUBRIC_PASSWORD_HASH_METHOD")  # as in an app configured from the environment
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt:") and check_password_hash(stored, "correct horse")
    assert not check_password_hash(stored, "correct horse ")


def test_token_create_for_unknown_user_fails_clearly(runner, demo):
    result = runner.invoke(args=["token", "create", "nobody@example.edu"])
    assert result.exit_code == 1
    assert "no user with e-mail 'nobody@example.edu'" in result.output


def make_token(runner, email: str) -> str:
    result = runner.invoke(args=["token", "create", email])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def test_token_revoke_one_token_leaves_the_others_working(runner, demo):
    leaked, kept = (make_token(runner, "student@example.edu") for _ in range(2))

    result = runner.invoke(args=["token", "revoke", "--token", leaked])
    again = runner.invoke(args=["token", "revoke", "--token", leaked])

    assert result.exit_code == 0 and result.output.strip() == "revoked 1 token(s)"
    assert user_for_token(leaked) is None and user_for_token(kept).email == "student@example.edu"
    assert again.exit_code == 1 and "no such token" in again.output


def test_token_revoke_a_users_tokens_only_theirs(runner, demo, client):
    mine = [make_token(runner, "student@example.edu") for _ in range(2)]
    theirs = make_token(runner, "student2@example.edu")

    result = runner.invoke(args=["token", "revoke", "Student@example.edu"])

    assert result.exit_code == 0 and result.output.strip() == "revoked 2 token(s)"
    for token in mine:
        response = client.get("/api/v1/courses/demo/assignments", headers=bearer(token))
        assert response.status_code == 401
    assert client.get("/api/v1/courses/demo/assignments", headers=bearer(theirs)).status_code == 200


def test_token_revoke_needs_exactly_one_of_email_and_token(runner, demo):
    neither = runner.invoke(args=["token", "revoke"])
    both = runner.invoke(args=["token", "revoke", "student@example.edu", "--token", "x"])
    unknown = runner.invoke(args=["token", "revoke", "nobody@example.edu"])

    assert neither.exit_code == both.exit_code == 2 and "not both" in both.output
    assert unknown.exit_code == 1 and "no user with e-mail 'nobody@example.edu'" in unknown.output


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def stored_expiry(token: str):
    """Return when a token expires, as stored (None: never)."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    return db.session.scalar(db.select(ApiToken.expires_at).filter_by(token_hash=digest))


def test_token_create_expires_in_90_days_unless_told(runner, demo):
    default = make_token(runner, "student@example.edu")
    week = runner.invoke(args=["token", "create", "student@example.edu", "--expires-in", "7"])
    never = runner.invoke(args=["token", "create", "student@example.edu", "--no-expiry"])

    now = datetime.now(UTC)
    assert abs(stored_expiry(default) - (now + timedelta(days=90))) < timedelta(minutes=1)
    assert abs(stored_expiry(week.output.strip()) - (now + timedelta(days=7))) < timedelta(
        minutes=1
    )
    assert never.exit_code == 0 and stored_expiry(never.output.strip()) is None


def test_token_create_refuses_contradictory_or_bad_expiry(runner, demo):
    both = runner.invoke(
        args=["token", "create", "student@example.edu", "--no-expiry", "--expires-in", "3"]
    )
    zero = runner.invoke(args=["token", "create", "student@example.edu", "--expires-in", "0"])

    assert both.exit_code == 2 and "not both" in both.output
    assert zero.exit_code == 2 and "--expires-in" in zero.output


def test_expired_token_answers_401_token_expired(runner, demo, client):
    token = make_token(runner, "student@example.edu")
    url = "/api/v1/courses/demo/assignments"
    assert client.get(url, headers=bearer(token)).status_code == 200
    digest = hashlib.sha256(token.encode()).hexdigest()
    past = datetime.now(UTC) - timedelta(seconds=1)
    db.session.execute(db.update(ApiToken).filter_by(token_hash=digest).values(expires_at=past))
    db.session.commit()

    response = client.get(url, headers=bearer(token))

    assert response.status_code == 401
    error = response.get_json()["error"]
    assert error["code"] == "token_expired" and "expired" in error["message"]
    assert error["expired_at"] == past.isoformat(timespec="seconds")


def test_a_bad_setting_stops_rubric_with_one_line(monkeypatch):
    monkeypatch.setenv("RUBRIC_FRAME_ANCESTORS", "canvas.example.edu")
    monkeypatch.setattr("sys.argv", ["rubric", "serve", "--help"])

    with pytest.raises(SystemExit) as stopped:
        main()

    assert str(stopped.value.code).startswith(
        "rubric: RUBRIC_FRAME_ANCESTORS: 'canvas.example.edu' is not an origin"
    )
