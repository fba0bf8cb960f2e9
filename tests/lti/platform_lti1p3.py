"""A real LTI 1.3 platform (an LMS) for the tests, served over HTTP from a thread.

The platform logic is PyPI's lti1p3platform, written independently of Rubric: its
OIDC login initiation, its launch message building and RS256 signing, its JWKS and its
client-credentials token grant. This module is the small Flask app around it, plus the
checks the library leaves to its host (written here by hand, each says why), plus the
knobs the attack tests turn: sign with another key, a wrong `aud`, an expired token, a
JWKS that hangs.
"""

from __future__ import annotations

import functools
import html
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, jsonify, redirect, request
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from werkzeug.serving import make_server

LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
LTI_CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/scope/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"


def new_private_key() -> str:
    """A fresh 2048-bit RSA private key in PEM, as the library takes keys."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@functools.cache  # loading a private key checks it: ~0.2 s of CPU, on every request else
def public_pem(private_pem: str) -> str:
    """The public half of a PEM private key."""
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class User:
    """Who launches: the LMS's opaque `sub`, identity claims and LIS roles."""

    sub: str = "lms-user-1"
    name: str | None = "Ada Lovelace"
    email: str | None = "ada@lms.example"
    roles: list[str] = field(default_factory=lambda: [LEARNER])
    status: str = "Active"  # NRPS membership status: Active, Inactive or Deleted


@dataclass
class Knobs:
    """What an attacker or a broken platform changes in the next launches."""

    forge_signature: bool = False  # sign with another key, under the published kid
    audience: str | None = None  # the `aud` to claim instead of the client id
    expires_in: int = 300  # seconds; negative makes an already expired token
    jwks_hang: bool = False  # the JWKS endpoint answers only when the test ends
    token_issuer: str | None = None  # the `iss` to claim instead of the platform's
    service_status: int | None = None  # token, AGS and NRPS answer this (e.g. 503) instead
    tokens_revoked_before: float = 0.0  # access tokens issued before this time are refused
    deployment_id: str | None = None  # the token's deployment, one the tool never registered
    service_delay: float = 0.0  # seconds each AGS and NRPS call takes (a slow LMS)


@dataclass
class Settings:
    """One registration of the tool in this platform, and the launch it makes."""

    issuer: str = ""  # the platform's URL when left empty
    client_id: str = "rubric-client"
    deployment_id: str = "deployment-1"
    user: User = field(default_factory=User)
    context_id: str = "lms-course-101"
    context_title: str = "Machine Learning 101"
    context_label: str | None = None  # the course's short code, e.g. "ML101"
    resource_link_id: str = "resource-link-1"
    custom: dict[str, str] = field(default_factory=dict)
    target_link_uri: str = ""  # where the link goes; the tool's launch URL when empty
    services: bool = True  # offer the line items (AGS) and memberships (NRPS) claims
    deep_linking: bool = False  # an instructor adding an activity: LtiDeepLinkingRequest
    deep_link_data: str | None = None  # the opaque data claim the tool must echo
    accept_types: set[str] = field(default_factory=lambda: {"ltiResourceLink"})
    accept_multiple: bool = True  # whether the tool may return several content items
    knobs: Knobs = field(default_factory=Knobs)
    # The frame offering LTI postMessage storage (e.g. "lti_storage", or "_parent"): the
    # login initiation names it in lti_storage_target and /course serves it. None: none.
    storage_target: str | None = None


class FixedKidRegistration(Registration):
    """The library's registration, signing under the kid of the published key.

    By hand because the library derives the kid from the signing key itself, so a token
    signed by another key would name an unknown kid: a forgery must claim the real one.
    """

    published_kid: str | None = None

    def get_kid(self) -> str | None:
        return self.published_kid or super().get_kid()


class PlatformConfig(LTI1P3PlatformConfAbstract):
    """The library's platform configuration over one registration."""

    def init_platform_config(self, **kwargs: Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: Any) -> Registration:
        return self._registration


class Login(OIDCLoginAbstract):
    """The library's third-party initiated login, as a Flask redirect."""

    def set_lti_message_hint(self, **kwargs: Any) -> None:
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str):
        return redirect(url)


class Launch(LTIAdvantageMessageLaunchAbstract):
    """The library's launch: reads the tool's authorization request, renders the form post."""

    def get_preflight_response(self) -> dict[str, Any]:
        return dict(self._request.values)

    def render_launch_form(self, launch_data: dict[str, Any], **kwargs: Any) -> str:
        # By hand: the library's template module does not import with current setuptools.
        return auto_submit_form(launch_data["launch_url"], launch_data)


def auto_submit_form(action: str, launch_data: dict[str, Any]) -> str:
    """The HTML page a platform answers with: a form posting itself to the tool."""
    inputs = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(launch_data[name])}">'
        for name in ("id_token", "state")
    )
    return (
        "<!doctype html><title>Launching</title>"
        f'<form id="launch" method="post" action="{html.escape(action)}">{inputs}</form>'
        "<script>document.getElementById('launch').submit()</script>"
    )


class Services:
    """Minimal Assignment and Grade Services and NRPS, recording what the tool sends."""

    def lineitem_url(self, resource_link_id: str) -> str:
        """The line item of a resource link, created on first use as an LMS does."""
        item = f"item-{resource_link_id}"
        self.lineitems.setdefault(
            item,
            {
                "id": f"{self.url}/lineitems/{item}",
                "label": resource_link_id,
                "scoreMaximum": 100,
                "resourceLinkId": resource_link_id,
            },
        )
        return f"{self.url}/lineitems/{item}"

    def authorized(self, scope: str) -> None:
        """Refuse a request without a bearer token of this platform granting the scope."""
        self.answer_as_broken()
        time.sleep(self.settings.knobs.service_delay)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            abort(401)
        token = header.removeprefix("Bearer ")
        config = self.config()
        config.get_registration()
        try:
            granted = config.validate_token(token, [scope])
        except Exception:  # noqa: BLE001 -- the library raises several kinds
            granted = False
        if not granted or self.revoked(token):
            abort(401)

    def answer_as_broken(self) -> None:
        """The service_status knob: a platform in trouble answers with that status."""
        if self.settings.knobs.service_status is not None:
            abort(self.settings.knobs.service_status)

    def revoked(self, token: str) -> bool:
        """By hand: the library has no revocation; tokens issued before the knob are."""
        issued = jwt.decode(token, options={"verify_signature": False}).get("iat", 0)
        return issued < self.settings.knobs.tokens_revoked_before

    def list_lineitems(self):
        """GET line items (AGS lineitem.readonly)."""
        self.authorized(AGS + "lineitem.readonly")
        body = jsonify(list(self.lineitems.values()))
        body.mimetype = "application/vnd.ims.lis.v2.lineitemcontainer+json"
        return body

    def add_lineitem(self):
        """POST a new line item (AGS lineitem), as deep linking and the tool do."""
        self.authorized(AGS + "lineitem")
        item = f"item-{len(self.lineitems) + 1}"
        body = dict(request.get_json(force=True), id=f"{self.url}/lineitems/{item}")
        self.lineitems[item] = body
        self.received.append(("lineitem", body))
        answer = jsonify(body)
        answer.mimetype = "application/vnd.ims.lis.v2.lineitem+json"
        return answer, 201

    def score(self, item: str):
        """POST a score to a line item (AGS score); kept for the test to read."""
        self.authorized(AGS + "score")
        if item not in self.lineitems:
            abort(404)
        if request.mimetype != "application/vnd.ims.lis.v1.score+json":
            abort(415)
        self.scores.append((item, request.get_json(force=True)))
        return "", 204

    def memberships(self):
        """GET the context's members (NRPS), from the members the test set."""
        self.authorized(NRPS_SCOPE)
        settings = self.settings
        members = [
            {
                "status": user.status,
                "user_id": user.sub,
                "name": user.name,
                "email": user.email,
                "roles": user.roles,
            }
            for user in [settings.user, *self.members]
        ]
        context = {"id": settings.context_id, "title": settings.context_title}
        page, size = request.args.get("page", 0, type=int), self.members_page_size
        if size:  # one page of members, and a Link to the next one (NRPS 2.0, 2.4.3)
            members = members[page * size : (page + 1) * size]
        body = jsonify({"id": request.url, "context": context, "members": members})
        body.mimetype = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
        if size and (page + 1) * size < 1 + len(self.members):
            body.headers["Link"] = f'<{self.url}/memberships?page={page + 1}>; rel="next"'
        return body


class Platform(Services):
    """The LMS: settings and keys for the tests, a Flask app for the tool."""

    def __init__(self, tool_base: str = "") -> None:
        self.url = ""  # known once served
        self.tool_base = tool_base  # Rubric's origin, for /lti/login, /lti/launch, JWKS
        self.settings = Settings()
        self.key = new_private_key()
        self.other_key = new_private_key()
        self.retired_keys: list[str] = []  # still published after a rotation
        self.jwks_fetches = 0  # how often the tool fetched the key set
        self.received: list[tuple[str, dict[str, Any]]] = []  # what the tool sent us
        self.launches: list[dict[str, str]] = []  # every form post made, for replays
        self.release = threading.Event()  # ends a hanging JWKS answer
        self.lineitems: dict[str, dict[str, Any]] = {}  # the gradebook's columns, by id
        self.scores: list[tuple[str, dict[str, Any]]] = []  # (line item id, score) received
        self.members: list[User] = []  # the roster beyond the launching user, for NRPS
        self.members_page_size = 0  # NRPS members per page (0: all on one page)
        self.content_items: list[dict[str, Any]] = []  # what deep linking returned
        self.activities: list[dict[str, Any]] = []  # resource links made from content items
        self.deep_link_nonces: set[str] = set()  # used by verified deep-linking responses
        self.server: Server | None = None  # set by running_platform; stop() and start()
        self.app = self.make_app()

    @property
    def issuer(self) -> str:
        """The `iss` of this platform's tokens."""
        return self.settings.issuer or self.url

    @property
    def kid(self) -> str:
        """The kid of the published key."""
        return Registration.get_jwk(public_pem(self.key))["kid"]

    def registration(self) -> FixedKidRegistration:
        """The library's registration of the tool, from the current settings."""
        forged = self.settings.knobs.forge_signature
        registration = (
            FixedKidRegistration()
            .set_iss(self.issuer)
            .set_client_id(self.settings.client_id)
            .set_deployment_id(self.settings.deployment_id)
            .set_launch_url(f"{self.tool_base}/lti/launch")
            .set_oidc_login_url(f"{self.tool_base}/lti/login")
            .set_tool_key_set_url(f"{self.tool_base}/lti/jwks.json")
            .set_platform_public_key(public_pem(self.key))
            .set_platform_private_key(self.other_key if forged else self.key)
        )
        if self.settings.deep_linking:
            registration.set_deeplink_launch_url(f"{self.tool_base}/lti/launch")
        registration.published_kid = self.kid
        return registration

    def config(self) -> PlatformConfig:
        """The library's platform configuration for the current settings."""
        return PlatformConfig(registration=self.registration())

    def start_url(self) -> str:
        """Where a user's click on the activity goes: this platform's launch starter."""
        return f"{self.url}/start"

    def tool_registration(self) -> dict[str, str]:
        """What an administrator types into `rubric lti platform add`."""
        return {
            "issuer": self.issuer,
            "client_id": self.settings.client_id,
            "deployment_id": self.settings.deployment_id,
            "auth_login_url": f"{self.url}/auth",
            "auth_token_url": f"{self.url}/token",
            "keyset_url": f"{self.url}/jwks",
        }

    def make_app(self) -> Flask:
        """The platform's HTTP endpoints."""
        app = Flask("lti-test-platform")
        app.add_url_rule("/start", view_func=self.start)
        app.add_url_rule("/auth", view_func=self.authorize, methods=["GET", "POST"])
        app.add_url_rule("/jwks", view_func=self.jwks)
        app.add_url_rule("/token", view_func=self.token, methods=["POST"])
        app.add_url_rule("/course", view_func=self.course)
        app.add_url_rule("/gradebook", view_func=self.gradebook)
        app.add_url_rule("/storage", view_func=self.storage_frame)
        app.add_url_rule("/lineitems", view_func=self.list_lineitems)
        app.add_url_rule("/lineitems", view_func=self.add_lineitem, methods=["POST"])
        app.add_url_rule("/lineitems/<item>/scores", view_func=self.score, methods=["POST"])
        app.add_url_rule("/memberships", view_func=self.memberships)
        app.add_url_rule("/deep_link_return", view_func=self.deep_link_return, methods=["POST"])
        return app

    def start(self):
        """Initiate the login at the tool (the library's redirect), as a click does."""
        login = Login(request, self.config())
        login.set_lti_message_hint(hint=self.settings.resource_link_id)
        if self.settings.target_link_uri:
            login.set_launch_url(self.settings.target_link_uri)
        response = login.initiate_login(self.settings.user.sub)
        if self.settings.storage_target:
            # By hand: the library knows nothing of LTI Client Side postMessages.
            response.location += "&" + urlencode(
                {"lti_storage_target": self.settings.storage_target}
            )
        return response

    def authorize(self):
        """The OIDC authorization endpoint: check the tool's request, post the id_token."""
        self.check_authorization_request(request.values)
        launch = Launch(request, self.config())
        self.set_claims(launch)
        launch.set_id_token_expiration(self.settings.knobs.expires_in)
        page = launch.lti_launch()
        self.launches.append(form_fields(page))
        return page

    def check_authorization_request(self, values) -> None:
        """By hand: the library checks only nonce, state, redirect_uri and client_id.

        A platform must also refuse a redirect_uri it does not know and a request that
        is not OIDC's implicit id_token flow with a form post (LTI 1.3 core, 5.1.1.2).
        """
        expected = {
            "scope": "openid",
            "response_type": "id_token",
            "response_mode": "form_post",
            "prompt": "none",
            "login_hint": self.settings.user.sub,
            "lti_message_hint": self.settings.resource_link_id,
        }
        wrong = [name for name, value in expected.items() if values.get(name) != value]
        if values.get("redirect_uri") != f"{self.tool_base}/lti/launch":
            wrong.append("redirect_uri")
        if wrong:
            abort(400, f"bad authorization request: {', '.join(wrong)}")

    def set_claims(self, launch: Launch) -> None:
        """The user, context, resource link and the knobs' claims, through the library."""
        settings = self.settings
        user = settings.user
        launch.set_user_data(user.sub, user.roles, user.name, user.email)
        launch.set_launch_context_claim(
            settings.context_id,
            ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            settings.context_title,
            settings.context_label,
        )
        if settings.deep_linking:
            # A deep-linking request carries no resource link (LTI-DL 2.0, 4.4).
            launch.set_dl(
                f"{self.url}/deep_link_return",
                "Add an activity",
                "",
                settings.accept_types,
                settings.deep_link_data,
            )
            # By hand: the library always offers accept_multiple; an LMS may not.
            dl_settings = launch._deep_linking_launch_data[DL_CLAIM + "deep_linking_settings"]
            dl_settings["accept_multiple"] = settings.accept_multiple
        else:
            launch.set_resource_link_claim(settings.resource_link_id)
        if settings.custom:
            launch.set_custom_parameters_claim(settings.custom)
        if settings.target_link_uri:
            launch.set_launch_url(settings.target_link_uri)
        if settings.services:
            launch.set_ags(f"{self.url}/lineitems", self.lineitem_url(settings.resource_link_id))
            launch.set_nrps(f"{self.url}/memberships")
        # Extra claims replace the library's own iss and aud.
        if settings.knobs.audience is not None:
            launch.set_extra_claims({"aud": settings.knobs.audience})
        if settings.knobs.deployment_id is not None:
            launch.set_extra_claims({LTI_CLAIM + "deployment_id": settings.knobs.deployment_id})
        if settings.knobs.token_issuer is not None:
            launch.set_extra_claims({"iss": settings.knobs.token_issuer})

    def rotate_key(self) -> None:
        """Sign with a new key from now on; the old one stays published, as platforms do."""
        self.retired_keys.append(self.key)
        self.key = new_private_key()

    def jwks(self):
        """The platform's public keys: the library's JWK of the current and retired keys."""
        self.jwks_fetches += 1
        if self.settings.knobs.jwks_hang:
            self.release.wait(timeout=60)
        keys = self.config().get_jwks()["keys"]
        keys += [Registration.get_jwk(public_pem(key)) for key in self.retired_keys]
        return jsonify({"keys": keys})

    def token(self):
        """The OAuth2 token endpoint: the library's client-credentials grant."""
        form = request.form.to_dict()
        self.received.append(("token", form))
        self.answer_as_broken()
        config = self.config()
        config.get_registration()
        try:
            self.check_assertion(form)
            return jsonify(config.get_access_token(form))
        except Exception as error:  # noqa: BLE001 -- any refusal is invalid_client
            return jsonify(error="invalid_client", error_description=str(error)), 400

    def check_assertion(self, form: dict[str, Any]) -> None:
        """By hand: the library verifies the signature but not iss, sub, aud or type.

        IMS Security Framework 4.1.1: iss and sub are the client id, aud names this
        token endpoint.
        """
        if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE:
            raise ValueError("client_assertion_type must be jwt-bearer")
        claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
        client_id = self.settings.client_id
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise ValueError("iss and sub must be the client id")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if f"{self.url}/token" not in audiences:
            raise ValueError("aud must be the token endpoint")

    def deep_link_return(self):
        """Take the tool's LtiDeepLinkingResponse: the library checks its signature and items."""
        config = self.config()
        config.get_registration()
        try:
            token = request.form["JWT"]
            items = config.validate_deeplinking_resp({"JWT": token})
            self.check_deep_linking_response(jwt.decode(token, options={"verify_signature": False}))
        except Exception as error:  # noqa: BLE001 -- any refusal is the same 400 page
            return f"<!doctype html><title>Refused</title><p>{html.escape(str(error))}", 400
        self.content_items.extend(items)
        for item in items:
            self.add_activity(item)
        return added_page(items)

    def check_deep_linking_response(self, claims: dict[str, Any]) -> None:
        """By hand: the library verifies no aud, iss, deployment, nonce, data (LTI-DL 2.0, 4.5)."""
        if claims.get("iss") != self.settings.client_id:
            raise ValueError("iss must be the tool's client id")
        audience = claims.get("aud")
        if self.issuer not in (audience if isinstance(audience, list) else [audience]):
            raise ValueError("aud must be the platform's issuer")
        if claims.get(LTI_CLAIM + "deployment_id") != self.settings.deployment_id:
            raise ValueError("deployment_id is not this deployment")
        if claims.get(LTI_CLAIM + "version") != "1.3.0":
            raise ValueError("version must be 1.3.0")
        if not isinstance(claims.get("iat"), int) or not isinstance(claims.get("exp"), int):
            raise ValueError("iat and exp are required")
        self.check_deep_linking_nonce(claims.get("nonce"))
        self.check_deep_linking_data(claims)
        self.check_content_items(claims.get(DL_CLAIM + "content_items"))

    def check_deep_linking_nonce(self, nonce: Any) -> None:
        """A response's nonce is used once: a replayed response is refused."""
        if not isinstance(nonce, str) or not nonce:
            raise ValueError("nonce is required")
        if nonce in self.deep_link_nonces:
            raise ValueError("nonce already used: a replayed response")
        self.deep_link_nonces.add(nonce)

    def check_deep_linking_data(self, claims: dict[str, Any]) -> None:
        """The request's data claim comes back exactly, and only if it was sent."""
        sent = self.settings.deep_link_data
        if sent is None and DL_CLAIM + "data" in claims:
            raise ValueError("data returned but none was sent")
        if sent is not None and claims.get(DL_CLAIM + "data") != sent:
            raise ValueError("data is not the value sent in the request")

    def check_content_items(self, items: Any) -> None:
        """Resource links with a launch URL and a line item, as many as the settings allow."""
        if not isinstance(items, list):
            raise ValueError("content_items must be a list")
        if len(items) > 1 and not self.settings.accept_multiple:
            raise ValueError("several content items, but accept_multiple is false")
        for item in items:
            if item.get("type") not in self.settings.accept_types:
                raise ValueError(f"content item type {item.get('type')!r} not accepted")
            # url may be left out (the tool's default launch URL), never point elsewhere.
            if "url" in item and not str(item["url"]).startswith(f"{self.tool_base}/"):
                raise ValueError("the content item's url is not the tool's")
            maximum = (item.get("lineItem") or {}).get("scoreMaximum")
            if not isinstance(maximum, (int, float)) or maximum <= 0:
                raise ValueError("lineItem.scoreMaximum must be a positive number")

    def add_activity(self, item: dict[str, Any]) -> None:
        """Create the resource link and its gradebook column, as an LMS does on return."""
        link_id = f"dl-link-{len(self.activities) + 1}"
        self.activities.append({"resource_link_id": link_id, **item})
        line = item.get("lineItem") or {}
        self.lineitems[f"item-{link_id}"] = {
            "id": f"{self.url}/lineitems/item-{link_id}",
            "label": line.get("label", item.get("title", "")),
            "scoreMaximum": line["scoreMaximum"],
            "resourceId": line.get("resourceId", ""),
            "resourceLinkId": link_id,
        }

    def open_activity(self, index: int = -1) -> None:
        """The next launch is a click on an activity deep linking added."""
        activity = self.activities[index]
        self.settings.deep_linking = False
        self.settings.resource_link_id = activity["resource_link_id"]
        self.settings.custom = dict(activity.get("custom") or {})
        self.settings.target_link_uri = activity.get("url", "")

    def course(self):
        """An LMS course page on this platform's origin, framing the launch."""
        return (
            "<!doctype html><title>LMS course</title><h1>Week 3</h1>"
            f"{self.storage_markup()}"
            f'<iframe id="tool" src="{html.escape(self.start_url())}" width="900"'
            ' height="900" title="Rubric"></iframe>'
        )

    def gradebook(self):
        """The LMS's gradebook: the newest score received per line item and user."""
        newest = {(item, score["userId"]): score for item, score in self.scores}
        rows = "".join(
            f"<tr><td>{html.escape(item)}</td><td>{html.escape(user)}</td>"
            f"<td>{score['scoreGiven']:g} / {score['scoreMaximum']:g}</td></tr>"
            for (item, user), score in newest.items()
        )
        return (
            "<!doctype html><title>LMS gradebook</title><table id='grades'>"
            f"<tr><th>column</th><th>user</th><th>score</th></tr>{rows}</table>"
        )

    def storage_markup(self) -> str:
        """The course page's postMessage storage, as Canvas and Moodle offer it.

        The page answers lti.capabilities naming the storage frame; that frame (or the
        page itself for "_parent") answers lti.put_data and lti.get_data. By hand: the
        LTI Client Side postMessages spec, https://www.imsglobal.org/spec/lti-cs-pm/v0p1.
        """
        target = self.settings.storage_target
        if not target:
            return ""
        frame = "" if target == "_parent" else target
        capabilities = f"<script>{CAPABILITIES_JS % json.dumps(frame)}</script>"
        if not frame:
            return capabilities + f"<script>{STORAGE_JS}</script>"
        return capabilities + f'<iframe name="{html.escape(frame)}" src="/storage" hidden></iframe>'

    def storage_frame(self):
        """The platform's storage frame: answers lti.put_data and lti.get_data."""
        return f"<!doctype html><title>LTI storage</title><script>{STORAGE_JS}</script>"


# The platform's answer to lti.capabilities: which frame stores data (%s, "" for itself).
CAPABILITIES_JS = """
const storageFrame = %s;
window.addEventListener("message", (event) => {
  const message = event.data || {};
  if (message.subject !== "lti.capabilities") return;
  const where = storageFrame ? {frame: storageFrame} : {};
  event.source.postMessage({
    subject: "lti.capabilities.response",
    message_id: message.message_id,
    supported_messages: [
      {subject: "lti.capabilities"},
      Object.assign({subject: "lti.put_data"}, where),
      Object.assign({subject: "lti.get_data"}, where),
    ],
  }, event.origin);
});
"""

# The storage itself: values kept in the page's memory, apart for each tool's origin.
STORAGE_JS = """
const stored = new Map();
window.addEventListener("message", (event) => {
  const message = event.data || {};
  if (!["lti.put_data", "lti.get_data"].includes(message.subject)) return;
  const slot = event.origin + " " + message.key;
  const answer = {subject: message.subject + ".response", message_id: message.message_id,
                  key: message.key};
  if (message.subject === "lti.put_data") {
    stored.set(slot, message.value);
    answer.value = message.value;
  } else if (stored.has(slot)) {
    answer.value = stored.get(slot);
  } else {
    answer.error = {code: "bad_request", message: "no value stored under this key"};
  }
  event.source.postMessage(answer, event.origin);
});
"""


def added_page(items: list[dict[str, Any]]) -> str:
    """The LMS's page after a verified deep-linking response: what it added."""
    rows = "".join(
        f'<li class="activity">{html.escape(item.get("title", ""))}'
        f' <code class="item">{html.escape(json.dumps(item, sort_keys=True))}</code></li>'
        for item in items
    )
    return f"<!doctype html><title>Added</title><p>{len(items)} activity added</p><ul>{rows}</ul>"


def form_fields(page: str) -> dict[str, str]:
    """The action and hidden fields of the platform's auto-submitting form."""
    fields: dict[str, str] = {}

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            attributes = dict(attrs)
            if tag == "form":
                fields["action"] = attributes.get("action") or ""
            if tag == "input" and attributes.get("name"):
                fields[attributes["name"]] = attributes.get("value") or ""

    Parser().feed(page)
    return fields


class Server:
    """A WSGI app served from a background thread; it can stop and start on the same port."""

    def __init__(self, wsgi_app, host: str) -> None:
        self.wsgi_app, self.host, self.port = wsgi_app, host, 0
        self.server = self.thread = None

    def start(self) -> str:
        """Serve (on the former port after a stop, so URLs stay valid); return the origin."""
        self.server = make_server(self.host, self.port, self.wsgi_app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        """Stop serving: connections are refused until start() (an LMS that is down)."""
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()


@contextmanager
def serving(wsgi_app, host: str = "127.0.0.1"):
    """Serve a WSGI app from a background thread; yield its origin."""
    server = Server(wsgi_app, host)
    origin = server.start()
    try:
        yield origin
    finally:
        server.stop()


@contextmanager
def running_platform(tool_base: str = "", host: str = "localhost"):
    """A platform served on a free port of `host`; a hanging JWKS is released at the end.

    `platform.server.stop()` and `.start()` take it down and bring it back on its URL.
    """
    platform = Platform(tool_base)
    platform.server = Server(platform.app, host)
    platform.url = platform.server.start()
    try:
        yield platform
    finally:
        platform.release.set()
        if platform.server.server.socket.fileno() != -1:
            platform.server.stop()


def register_in_rubric(rubric_app, platform: Platform, course: str = "demo") -> None:
    """Register the platform with `rubric lti platform add`, link its course to COURSE."""
    options = [
        (f"--{name.replace('_', '-')}", value)
        for name, value in platform.tool_registration().items()
    ]
    settings = platform.settings
    rubric_cli(rubric_app, "lti", "platform", "add", "--name", "Test LMS", *sum(options, ()))
    rubric_cli(
        rubric_app, "lti", "context", "link", "--issuer", platform.issuer,
        "--context-id", settings.context_id, course,
    )  # fmt: skip


def rubric_cli(rubric_app, *args: str) -> str:
    """Run a `rubric` command in the app; fail on a non-zero exit."""
    result = rubric_app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output
