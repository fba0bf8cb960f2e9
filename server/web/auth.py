"""Log-in and log-out, the account page (sessions, password) and the log-in throttle."""

import logging
from datetime import timedelta
from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from server import accounts
from server.extensions import db, login_manager
from server.models import User
from server.models.types import utcnow
from server.web import bp

login_manager.login_view = "web.login"
# The cookie holds the log-in session's id (User.get_session_id), never the user's id:
# a session ended on the server cannot be brought back with a copied cookie.
login_manager.id_attribute = "get_session_id"
log = logging.getLogger("rubric.auth")


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Return the user of the cookie's log-in session, if it is still live."""
    return accounts.user_for_session(session_id, _session_limits())


def _session_limits() -> accounts.SessionLimits:
    config = current_app.config
    return accounts.SessionLimits(
        lifetime=timedelta(hours=config["RUBRIC_SESSION_LIFETIME_HOURS"]),
        idle=timedelta(minutes=config["RUBRIC_SESSION_IDLE_MINUTES"]),
    )


def _throttle() -> accounts.Throttle:
    config = current_app.config
    return accounts.Throttle(
        free_per_account=config["RUBRIC_LOGIN_FREE_ATTEMPTS"],
        free_per_address=config["RUBRIC_LOGIN_FREE_ATTEMPTS_PER_ADDRESS"],
        max_delay=timedelta(seconds=config["RUBRIC_LOGIN_MAX_DELAY_SECONDS"]),
    )


def log_in(user: User) -> None:
    """Open a server-side session for the user and put its id in the cookie."""
    agent = request.user_agent.string or ""
    accounts.open_session(user, agent, request.remote_addr or "", _session_limits())
    db.session.commit()
    login_user(user)


class LoginForm(FlaskForm):
    """E-mail and password."""

    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class PasswordForm(FlaskForm):
    """The current password, and the new one twice."""

    current = PasswordField("Current password", validators=[DataRequired()])
    new = PasswordField(
        "New password",
        validators=[DataRequired(), Length(8, 200, "Between 8 and 200 characters, please.")],
    )
    confirm = PasswordField(
        "New password again", validators=[DataRequired(), EqualTo("new", "The two differ.")]
    )


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the log-in form and log the user in, unless too many attempts failed."""
    if current_user.is_authenticated:
        return redirect(url_for("web.index"))
    form = LoginForm()
    if form.validate_on_submit():
        keys = accounts.throttle_keys(form.email.data, request.remote_addr or "")
        if wait := accounts.claim_attempt(_throttle(), keys):
            return _throttled(form, keys, *wait)
        user = accounts.authenticate(form.email.data, form.password.data)
        if user is not None:
            accounts.attempt_succeeded(keys)
            log_in(user)  # commits both
            return redirect(_safe_next(request.args.get("next")))
        flash("Wrong e-mail or password.", "error")
    return render_template("login.html", form=form), 200 if not form.errors else 400


def _throttled(form: LoginForm, keys: dict[str, str], scope: str, seconds: int):
    """Answer 429 without checking the password, and log the attempt."""
    extra = {"scope": scope, "key": keys[scope], "retry_after": seconds}
    log.warning("log-in throttled", extra=extra | {"address": request.remote_addr})
    flash(f"Too many failed log-ins. Try again in {seconds} seconds.", "error")
    page = render_template("login.html", form=form)
    return page, 429, {"Retry-After": str(seconds)}


@bp.post("/logout")
@login_required
def logout():
    """End this log-in session on the server, and forget it in the browser."""
    accounts.end_session(current_user.session_id)
    db.session.commit()
    logout_user()
    return redirect(url_for("web.login"))


@bp.get("/account")
@login_required
def account():
    """The account page: the log-in sessions, and the password form."""
    return account_page(PasswordForm())


def account_page(form: PasswordForm, status: int = 200, new_token: str = ""):
    """Render the account page; a token just made is shown this once."""
    sessions = accounts.sessions_of(current_user)
    mine = next((s for s in sessions if accounts.is_session(s, current_user.session_id)), None)
    tokens = accounts.tokens_of(current_user)
    page = render_template(
        "account.html",
        form=form,
        sessions=sessions,
        current=mine,
        tokens=tokens,
        now=utcnow(),
        new_token=new_token,
    )
    return page, status


@bp.post("/account/password")
@login_required
def change_password():
    """Change the password (the current one first); every other session ends."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return account_page(form, 400)
    if not accounts.change_password(current_user, form.current.data, form.new.data):
        form.current.errors = ["This is not your current password."]
        return account_page(form, 400)
    db.session.commit()
    flash("Your password is changed. Your other sessions are logged out.", "info")
    return redirect(url_for("web.account"))


@bp.post("/account/sessions/end")
@login_required
def end_all_sessions():
    """Log out every session of this user, this one included."""
    accounts.end_sessions(current_user)
    db.session.commit()
    logout_user()
    flash("All your sessions are logged out.", "info")
    return redirect(url_for("web.login"))


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Revoke one of the user's own API tokens."""
    if not accounts.revoke_token_of(current_user, token_id):
        abort(404)
    db.session.commit()
    flash("The API token is revoked.", "info")
    return redirect(url_for("web.account", _anchor="tokens"))


def _safe_next(target: str | None) -> str:
    """Only follow local paths after log-in, never another site."""
    # Browsers drop tabs and newlines and read "\\" as "/", so "/\\evil.example" or
    # "/\t/evil.example" would become "//evil.example": refuse them all.
    if not target or "\\" in target or any(ord(c) < 33 for c in target):
        return url_for("web.index")
    parts = urlsplit(target)
    if target.startswith("/") and not target.startswith("//") and not parts.netloc:
        return target
    return url_for("web.index")
