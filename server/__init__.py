"""Rubric: auto-graded quizzes and sandboxed NumPy exercises."""

import os

from flask import Flask

from server import config, security
from server.extensions import csrf, db, limiter, login_manager, migrate
from server.logs import configure_logging
from server.models.types import json_text, json_value


def create_app(test_config: dict | None = None) -> Flask:
    """Build the Flask app: defaults, then the environment or the test dict."""
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.DEFAULTS)
    app.config.from_mapping(config.from_environment(app.instance_path))
    app.config.from_mapping(test_config or {})
    # Before the secret key is written there and before SQLite creates its file.
    config.make_private(app.instance_path, app.config["SQLALCHEMY_DATABASE_URI"])
    if test_config is None:
        app.config["SECRET_KEY"] = config.load_secret_key(app.instance_path)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "json_serializer": json_text,
        "json_deserializer": json_value,
        "pool_size": _pool_size(app.config),
        **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
    }
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # A SQLite file cannot drop a connection the way a server can: pinging it at
        # every checkout would add a query to every transaction.
        options = app.config["SQLALCHEMY_ENGINE_OPTIONS"] | {"pool_pre_ping": False}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    app.json.sort_keys = False  # keep results in the order SPEC documents them
    if not app.testing:
        configure_logging(os.environ.get("RUBRIC_LOG_LEVEL", "INFO"))

    security.init_app(app)  # first: a bad setting stops the start before anything else
    db.init_app(app)
    app.teardown_request(_release_session)
    migrate.init_app(app, db)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", _limiter_storage(app.config, app.instance_path))
    limiter.init_app(app)

    from server import api, cli, ops, web
    from server.api.inputs import IdConverter
    from server.web import lti as lti_views
    from server.web import lti_grades, lti_roster, manual_grading

    # Before any route is added: every <int:...> id is then bounded to what a row id can be.
    app.url_map.converters["int"] = IdConverter
    app.register_blueprint(web.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(ops.bp)
    app.register_blueprint(lti_views.bp)
    app.register_blueprint(lti_grades.bp)
    app.register_blueprint(lti_roster.bp)
    app.register_blueprint(manual_grading.bp)
    csrf.exempt(api.bp)  # the API authenticates with bearer tokens, not cookies
    cli.register(app)
    return app


def _pool_size(settings) -> int:
    """Keep a database connection for every thread that may hold one at once.

    A request thread (web_threads, gunicorn's own setting), a grading thread,
    the sweep and the announcements' listener: with SQLAlchemy's default of 5, a worker
    of 8 threads opened and closed a PostgreSQL connection for most requests.
    """
    return max(5, config.web_threads() + settings["RUBRIC_GRADING_THREADS"] + 2)


def _limiter_storage(config, instance_path: str) -> str:
    """Share rate-limit counters through Redis when there is one, else through a file.

    Counting in each process's memory would let each gunicorn worker take the whole
    limit; the file (server/api/ratelimit.py) is shared by every worker of the machine.
    """
    from server.api.ratelimit import counters_file  # registers the sqlite:// storage

    broker = config.get("RUBRIC_BROKER_URL") or ""
    if broker.startswith(("redis://", "rediss://")):
        return broker
    return f"sqlite://{counters_file(config['SQLALCHEMY_DATABASE_URI'], instance_path)}"


def _release_session(_exc: BaseException | None) -> None:
    """End the request's session before Flask-SQLAlchemy does, surviving a dropped connection.

    Flask-SQLAlchemy closes the session when the app context ends, after the answer
    is made; if PostgreSQL terminated the connection meanwhile, that close raises
    and gunicorn turns an answered request into a bare 500.
    """
    from server.submissions.sessions import release_session

    release_session()
