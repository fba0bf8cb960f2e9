"""instance/ (the secret key) and the SQLite database are readable by their owner only."""

import os
import shlex
import stat
import subprocess
import sys

import sqlalchemy as sa

from server.config import PROJECT_ROOT, load_secret_key, make_private
from tests.conftest import make_app


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_rubric_db_upgrade_creates_the_database_file_0600(tmp_path):
    database = tmp_path / "rubric.sqlite3"
    env = os.environ | {"RUBRIC_DATABASE_URL": f"sqlite:///{database}", "RUBRIC_SECRET_KEY": "k"}
    command = shlex.join([sys.executable, "-m", "server.cli", "db", "upgrade"])
    # With the usual umask, which would leave a new file world-readable (0644).
    subprocess.run(
        ["sh", "-c", f"umask 022 && exec {command}"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert mode(database) == 0o600


def test_the_write_ahead_log_and_shared_memory_files_are_0600(tmp_path):
    database = tmp_path / "rubric.sqlite3"
    old = os.umask(0o022)
    try:
        app = make_app(f"sqlite:///{database}")
        with app.app_context(), app.extensions["sqlalchemy"].engine.connect() as connection:
            connection.execute(sa.text("CREATE TABLE t (x INTEGER)"))
            connection.commit()
            assert mode(database) == 0o600
            assert mode(f"{database}-wal") == 0o600 and mode(f"{database}-shm") == 0o600
    finally:
        os.umask(old)


def test_a_new_instance_folder_and_its_secret_key_are_private(tmp_path):
    instance = tmp_path / "instance"
    old = os.umask(0o022)
    try:
        make_private(str(instance), "postgresql+psycopg://nobody@127.0.0.1/none")
        key_env = os.environ.pop("RUBRIC_SECRET_KEY", None)
        try:
            load_secret_key(str(instance))
        finally:
            if key_env is not None:
                os.environ["RUBRIC_SECRET_KEY"] = key_env
    finally:
        os.umask(old)
    assert mode(instance) == 0o700
    assert mode(instance / "secret_key") == 0o600


def test_an_existing_world_readable_database_is_tightened(tmp_path):
    database = tmp_path / "old.sqlite3"
    database.touch(mode=0o644)
    (tmp_path / "old.sqlite3-wal").touch(mode=0o644)
    os.chmod(database, 0o644)
    make_private(str(tmp_path / "instance"), f"sqlite:///{database}")
    assert mode(database) == mode(f"{database}-wal") == 0o600
