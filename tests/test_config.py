"""Configuration from the environment, and the secret key kept under instance/."""

import stat
from concurrent.futures import ThreadPoolExecutor

from server.config import from_environment, load_secret_key


def test_secret_key_is_generated_once_and_private(tmp_path, monkeypatch):
    monkeypatch.delenv("RUBRIC_SECRET_KEY", raising=False)
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = set(pool.map(lambda _: load_secret_key(str(tmp_path)), range(16)))
    (key,) = keys
    assert len(key) == 64
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"]


def test_secret_key_from_the_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("RUBRIC_SECRET_KEY", "from-env")
    assert load_secret_key(str(tmp_path)) == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_database_defaults_to_sqlite_under_instance(tmp_path, monkeypatch):
    monkeypatch.delenv("RUBRIC_DATABASE_URL", raising=False)
    assert from_environment(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{tmp_path}/rubric.sqlite3"
    )
    monkeypatch.setenv("RUBRIC_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/test")
    assert from_environment(str(tmp_path))["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


def test_the_connection_pool_keeps_one_connection_per_thread(tmp_path, monkeypatch):
    from server import create_app
    from server.extensions import db

    monkeypatch.setenv("RUBRIC_WEB_THREADS", "8")
    settings = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/pool.sqlite3", "TESTING": True}
    app = create_app(settings | {"RUBRIC_GRADING_THREADS": 3})
    with app.app_context():
        assert db.engine.pool.size() == 8 + 3 + 2  # requests, gradings, sweep and listener
        db.engine.dispose()
    explicit = {"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 4}}
    with create_app(settings | explicit).app_context():
        assert db.engine.pool.size() == 4  # an operator's own setting wins
        db.engine.dispose()
