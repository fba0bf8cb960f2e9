"""Under gunicorn, only RUBRIC_TRUSTED_PROXIES decides whether a forwarded scheme is believed."""

import http.client

import pytest

from tests.conftest import BROKER_URL
from tests.scaleout.cluster import service_env
from tests.scaleout.processes import gunicorn


def _login_page_cookie(port: int) -> str:
    """GET /login as a proxy would forward an HTTPS request; return its Set-Cookie."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", "/login", headers={"X-Forwarded-Proto": "https"})
        with conn.getresponse() as response:
            response.read()
            assert response.status == 200
            return response.getheader("Set-Cookie", "")
    finally:
        conn.close()


@pytest.mark.parametrize(("proxies", "secure"), [("0", False), ("1", True)])
def test_a_forwarded_https_makes_the_cookie_secure_only_from_a_trusted_proxy(
    app, demo, tmp_path, proxies, secure
):
    # gunicorn on its own believes X-Forwarded-Proto from 127.0.0.1 (its
    # forwarded_allow_ips): a client on the host could then claim HTTPS.
    env = service_env(app.config["SQLALCHEMY_DATABASE_URI"], BROKER_URL)
    server = gunicorn(env | {"RUBRIC_TRUSTED_PROXIES": proxies}, tmp_path, workers=1)
    try:
        server.start()
        cookie = _login_page_cookie(server.port)
    finally:
        server.stop()
    assert cookie.startswith("session=")
    assert ("; Secure" in cookie) is secure
