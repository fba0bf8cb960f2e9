"""`rubric lti platform add|list`, `rubric lti context link`, `rubric lti rotate-key`."""

import sqlalchemy as sa

from server.config import from_environment
from server.extensions import db
from server.models import Course, LtiContext, LtiDeployment, LtiPlatform

ADD = [
    "lti",
    "platform",
    "add",
    "--issuer",
    "https://canvas.example.edu",
    "--client-id",
    "10000000000001",
    "--deployment-id",
    "1:abc",
    "--auth-login-url",
    "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "--auth-token-url",
    "https://sso.canvaslms.com/login/oauth2/token",
    "--keyset-url",
    "https://sso.canvaslms.com/api/lti/security/jwks",
    "--name",
    "Canvas",
]


def with_option(args: list[str], option: str, value: str) -> list[str]:
    changed = list(args)
    changed[changed.index(option) + 1] = value
    return changed


def test_platform_add_registers_and_prints_the_tools_urls(runner, app):
    result = runner.invoke(args=ADD)
    assert result.exit_code == 0, result.output
    assert "registered: https://canvas.example.edu" in result.output
    for line in (
        "login: http://",
        "/lti/login",
        "launch: ",
        "/lti/launch",
        "jwks: ",
        "/lti/jwks.json",
    ):
        assert line in result.output
    platform = db.session.scalar(sa.select(LtiPlatform))
    assert (platform.client_id, platform.name) == ("10000000000001", "Canvas")


def test_platform_add_is_idempotent_and_adds_deployments(runner, app):
    runner.invoke(args=ADD)
    again = runner.invoke(args=[*ADD, "--deployment-id", "2:def"])
    assert again.exit_code == 0 and "updated" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LtiPlatform)) == 1
    ids = db.session.scalars(sa.select(LtiDeployment.deployment_id).order_by(LtiDeployment.id))
    assert list(ids) == ["1:abc", "2:def"]


def test_a_plain_http_url_is_refused_with_one_line(runner, app):
    result = runner.invoke(args=with_option(ADD, "--keyset-url", "http://lms.example.edu/jwks"))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "--keyset-url" in result.output and "https" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LtiPlatform)) == 0


def test_http_on_localhost_is_allowed_for_development(runner, app):
    local = with_option(ADD, "--keyset-url", "http://127.0.0.1:9000/jwks")
    assert runner.invoke(args=local).exit_code == 0


def test_platform_list_shows_each_platform(runner, app):
    runner.invoke(args=ADD)
    result = runner.invoke(args=["lti", "platform", "list"])
    assert "https://canvas.example.edu\t10000000000001\tCanvas\t1:abc" in result.output


def test_context_link_binds_an_lms_course(runner, app):
    runner.invoke(args=ADD)
    db.session.add(Course(slug="ml101", title="ML 101"))
    db.session.commit()
    args = ["lti", "context", "link", "--issuer", "https://canvas.example.edu"]
    result = runner.invoke(args=[*args, "--context-id", "c-1", "ml101"])
    assert result.exit_code == 0, result.output
    link = db.session.scalar(sa.select(LtiContext))
    assert (link.context_id, link.course.slug) == ("c-1", "ml101")


def test_context_link_refuses_an_unknown_course_or_issuer(runner, app):
    runner.invoke(args=ADD)
    args = ["lti", "context", "link", "--context-id", "c-1"]
    no_course = runner.invoke(args=[*args, "--issuer", "https://canvas.example.edu", "nope"])
    assert no_course.exit_code == 2 and "no course" in no_course.output
    db.session.add(Course(slug="ml101", title="ML 101"))
    db.session.commit()
    no_issuer = runner.invoke(args=[*args, "--issuer", "https://other.example", "ml101"])
    assert no_issuer.exit_code == 2 and "no platform" in no_issuer.output


def test_rotate_key_makes_a_new_current_key(runner, app, tmp_path):
    app.config["RUBRIC_LTI_KEY_DIR"] = str(tmp_path / "keys")
    first = runner.invoke(args=["lti", "rotate-key"])
    second = runner.invoke(args=["lti", "rotate-key"])
    assert first.exit_code == 0 and second.exit_code == 0
    assert first.output.split()[2] != second.output.split()[2]
    assert len(list((tmp_path / "keys").glob("*.pem"))) == 2


def test_platform_add_prints_urls_under_the_public_base_url(runner, app, monkeypatch, tmp_path):
    monkeypatch.setenv("RUBRIC_BASE_URL", "https://rubric.example.edu")
    # Read from the environment as create_app reads it.
    app.config["RUBRIC_BASE_URL"] = from_environment(str(tmp_path))["RUBRIC_BASE_URL"]
    result = runner.invoke(args=ADD)
    assert "login: https://rubric.example.edu/lti/login" in result.output
    assert "launch: https://rubric.example.edu/lti/launch" in result.output
    assert "jwks: https://rubric.example.edu/lti/jwks.json" in result.output
