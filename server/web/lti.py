"""The LTI 1.3 tool endpoints: OIDC login, launch and the tool's key set."""

import logging

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for

from server.extensions import csrf
from server.lti import accounts, keys, links, platforms
from server.lti.launch import (
    STATE_LIFETIME,
    HttpLimits,
    LaunchRefused,
    auth_request_url,
    start_login,
    validate,
)
from server.web.auth import log_in

bp = Blueprint("lti", __name__, url_prefix="/lti")
log = logging.getLogger("rubric.lti")
STATE_COOKIE = "rubric_lti_state"


def refused(reason: str):
    """The 400 page naming what was wrong, and its log line."""
    log.warning("lti: refused %s %s: %s", request.method, request.path, reason)
    return render_template("lti_error.html", reason=reason), 400


def key_folder():
    """The folder of the tool's private keys."""
    return keys.key_dir(current_app.config, current_app.instance_path)


@bp.get("/jwks.json")
def jwks():
    """The tool's public keys: the current one and retired ones not yet expired."""
    response = jsonify(keys.jwks(key_folder()))
    response.cache_control.max_age = 300
    response.cache_control.public = True
    return response


# What Canvas may ask for with a developer key's token: grade passback and rosters.
SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
    "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
]


@bp.get("/config.json")
def canvas_config():
    """Canvas's JSON configuration of an LTI 1.3 developer key (paste its URL in Canvas)."""
    launch_url = url_for("lti.launch", _external=True)
    # Until deep linking lands, Rubric opens from the course navigation only.
    placement = {
        "placement": "course_navigation",
        "message_type": "LtiResourceLinkRequest",
        "target_link_uri": launch_url,
        "text": "Rubric",
    }
    return jsonify(
        {
            "title": "Rubric",
            "description": "Auto-graded quizzes and NumPy coding exercises.",
            "oidc_initiation_url": url_for("lti.login", _external=True),
            "target_link_uri": launch_url,
            "public_jwk_url": url_for("lti.jwks", _external=True),
            "scopes": SCOPES,
            "extensions": [
                {
                    "platform": "canvas.instructure.com",
                    "domain": request.host,
                    "privacy_level": "public",  # name and e-mail in the launch
                    "settings": {"placements": [placement]},
                }
            ],
            "custom_fields": {},
        }
    )


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # the LMS starts the login; the state and nonce protect it
def login():
    """Third-party initiated login: store state and nonce, send the browser to the LMS."""
    values = request.values
    issuer, hint = values.get("iss", ""), values.get("login_hint", "")
    target = values.get("target_link_uri", "")
    if not issuer or not hint or not target:
        return refused("the login needs iss, login_hint and target_link_uri")
    if len(target) > 1000:  # the length of the column that keeps it
        return refused("the target_link_uri is longer than 1000 characters")
    platform = platforms.find_platform(issuer, values.get("client_id") or None)
    if platform is None:
        return refused(f"unknown issuer {issuer!r} (or client id): register it first")
    deployment = values.get("lti_deployment_id")
    if deployment and not platforms.has_deployment(platform, deployment):
        return refused(f"unknown deployment {deployment!r} for this platform")
    state = start_login(platform, target)
    redirect_uri = url_for("lti.launch", _external=True)
    response = redirect(auth_request_url(platform, state, redirect_uri, values))
    # SameSite=None: the launch comes back as a cross-site POST; Partitioned keeps it
    # inside an LMS iframe where third-party cookies are blocked. When it is lost all
    # the same, the launch is accepted on the single-use, fresh server-side state.
    response.set_cookie(
        STATE_COOKIE,
        state.state,
        max_age=int(STATE_LIFETIME.total_seconds()),
        path="/lti/",
        secure=True,
        httponly=True,
        samesite="None",
        partitioned=True,
    )
    return response


@bp.post("/launch")
@csrf.exempt  # the LMS posts the id_token here; the token's signature protects it
def launch():
    """Validate the id_token, log the user in, enrol them, and open the course or assignment."""
    config = current_app.config
    http = HttpLimits(
        timeout=config["RUBRIC_LTI_HTTP_TIMEOUT"],
        cooldown=config["RUBRIC_LTI_JWKS_COOLDOWN"],
    )
    form = request.form
    try:
        valid = validate(
            form.get("id_token", ""),
            form.get("state", ""),
            request.cookies.get(STATE_COOKIE),
            http,
        )
    except LaunchRefused as exc:
        return refused(str(exc))
    user = accounts.user_for(valid)
    where = links.destination(valid)
    log_in(user)
    log.info("lti: launch of user %s from %s", user.id, valid.platform.issuer)
    if where.course is None:
        role = accounts.role_of(accounts.launch_roles(valid))
        page = render_template(
            "lti_unlinked.html",
            issuer=valid.platform.issuer,
            context_id=where.context_id,
            instructor=role == accounts.Role.INSTRUCTOR,
        )
        return _forget_state(page)
    accounts.enrol(user, where.course, accounts.launch_roles(valid))
    if where.assignment is not None:
        target = url_for("web.assignment", course=where.course.slug, slug=where.assignment.slug)
    else:
        target = url_for("web.course", course=where.course.slug)
    return _forget_state(redirect(target))


def _forget_state(response):
    """Drop the used state cookie."""
    if not isinstance(response, tuple):
        response = current_app.make_response(response)
    response.delete_cookie(
        STATE_COOKIE, path="/lti/", secure=True, httponly=True, samesite="None", partitioned=True
    )
    return response
