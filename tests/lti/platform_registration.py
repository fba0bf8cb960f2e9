"""The LMS's side of LTI Dynamic Registration, added to the running test platform.

lti1p3platform has no Dynamic Registration, so this is by hand, after IMS LTI Dynamic
Registration 1.0: the platform's OpenID configuration (3.4) and its registration
endpoint (3.5), which checks the registration token and the tool's request, and
answers with a client id and a deployment id. A successful registration becomes the
platform's registration of the tool, so its next launches use what it granted.
"""

from __future__ import annotations

import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask import jsonify, request

from .platform_lti1p3 import NRPS_SCOPE, Platform

TOOL_CONFIGURATION = "https://purl.imsglobal.org/spec/lti-tool-configuration"


class DynamicRegistration:
    """The platform's openid-configuration and registration endpoints, and their knobs."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.token = secrets.token_urlsafe(16)  # what the LMS hands the tool in the URL
        self.config_issuer: str | None = None  # knob: the issuer the configuration claims
        self.requests: list[dict[str, Any]] = []  # every registration request received
        self.granted = 0
        self.token_expired = False  # knob: the registration endpoint refuses the token
        self.config_delay = 0.0  # knob: seconds the configuration takes to answer
        self.config_extra: dict[str, Any] = {}  # knob: more members in the configuration
        self.same_client = False  # knob: grant the first client id and deployment again
        app = platform.app
        app.add_url_rule("/.well-known/openid-configuration", view_func=self.configuration)
        app.add_url_rule("/register", view_func=self.register, methods=["POST"])
        app.add_url_rule("/admin/add-tool", view_func=self.add_tool_page)

    @property
    def config_url(self) -> str:
        """The openid_configuration parameter the LMS gives the tool."""
        return f"{self.platform.url}/.well-known/openid-configuration"

    def start_params(self) -> dict[str, str]:
        """What the LMS appends to the tool's registration URL."""
        return {"openid_configuration": self.config_url, "registration_token": self.token}

    def bearer_ok(self) -> bool:
        """The request carries this registration's token."""
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def configuration(self):
        """The platform's OpenID configuration; like Moodle, only for the token's holder."""
        if not self.bearer_ok():
            return jsonify(error="invalid_token"), 401
        time.sleep(self.config_delay)
        url = self.platform.url
        return jsonify(
            self.config_extra
            | {
                "issuer": self.config_issuer or self.platform.issuer,
                "authorization_endpoint": f"{url}/auth",
                "token_endpoint": f"{url}/token",
                "jwks_uri": f"{url}/jwks",
                "registration_endpoint": f"{url}/register",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", NRPS_SCOPE],
                "https://purl.imsglobal.org/spec/lti-platform-configuration": {
                    "product_family_code": "test-lms",
                    "version": "1.0",
                    "messages_supported": [
                        {"type": "LtiResourceLinkRequest"},
                        {"type": "LtiDeepLinkingRequest"},
                    ],
                },
            }
        )

    def register(self):
        """Check the token and the tool's request; grant a client id and a deployment."""
        if not self.bearer_ok() or self.token_expired:
            return jsonify(error="invalid_token"), 401
        body = request.get_json(force=True, silent=True) or {}
        self.requests.append(body)
        wrong = self.problems(body)
        if wrong:
            description = ", ".join(wrong)
            return jsonify(error="invalid_client_metadata", error_description=description), 400
        self.granted = 1 if self.same_client else self.granted + 1
        settings = self.platform.settings
        settings.client_id = f"dynamic-client-{self.granted}"
        settings.deployment_id = f"dynamic-deployment-{self.granted}"
        tool = dict(body[TOOL_CONFIGURATION], deployment_id=settings.deployment_id)
        return jsonify(body | {"client_id": settings.client_id, TOOL_CONFIGURATION: tool})

    def add_tool_page(self):
        """The administrator's page: the tool's registration URL in an iframe, closed on
        the tool's org.imsglobal.lti.close message, as Moodle's tool registration does."""
        start = f"{request.args['tool_url']}&{urlencode(self.start_params())}"
        return (
            "<!doctype html><title>Add a tool</title><p id='status'>registering</p>"
            f'<iframe id="tool" src="{html.escape(start)}" width="900" height="700"></iframe>'
            "<script>window.addEventListener('message', (event) => {"
            "  if (event.data && event.data.subject === 'org.imsglobal.lti.close') {"
            "    document.getElementById('tool').remove();"
            "    document.getElementById('status').textContent = 'closed';"
            "  }"
            "});</script>"
        )

    def problems(self, body: dict[str, Any]) -> list[str]:
        """What is wrong in the tool's registration request (Dynamic Registration 3.5.2)."""
        tool_base = self.platform.tool_base
        expected = {
            "application_type": "web",
            "response_types": ["id_token"],
            "initiate_login_uri": f"{tool_base}/lti/login",
            "redirect_uris": [f"{tool_base}/lti/launch"],
            "jwks_uri": f"{tool_base}/lti/jwks.json",
            "token_endpoint_auth_method": "private_key_jwt",
        }
        wrong = [name for name, value in expected.items() if body.get(name) != value]
        if set(body.get("grant_types") or []) != {"implicit", "client_credentials"}:
            wrong.append("grant_types")
        if NRPS_SCOPE not in str(body.get("scope", "")).split():
            wrong.append("scope")
        tool = body.get(TOOL_CONFIGURATION) or {}
        if tool.get("domain") != urlsplit(tool_base).netloc:
            wrong.append("domain")
        if tool.get("target_link_uri") != f"{tool_base}/lti/launch":
            wrong.append("target_link_uri")
        kinds = {message.get("type") for message in tool.get("messages") or []}
        if not {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"} <= kinds:
            wrong.append("messages")
        if "sub" not in (tool.get("claims") or []):
            wrong.append("claims")
        return wrong
