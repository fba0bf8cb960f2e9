"""A missing chromium fails the browser test on CI instead of silently skipping it."""

import pytest

from .conftest import require_chromium


def test_missing_chromium_fails_on_ci(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install chromium"):
        require_chromium(tmp_path / "chromium")


def test_missing_chromium_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        require_chromium(tmp_path / "chromium")
