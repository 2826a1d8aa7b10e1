"""GET/POST /login and POST /logout (CONTRACT §4: the sign-in's form field is `token`).

A registrar's or a viewer's token opens a session; the hub's token does not (it reads sync
state, it does not work in the console). Failed sign-ins count toward the same lockout as the
API's bad tokens (province_node.auth: the throttle of the client's address).
"""

from __future__ import annotations

from aiohttp import web

from province_node.auth import Role
from province_node.errors import Unauthorized
from province_node.web.appkeys import AUTH, SESSIONS
from province_node.web.console.access import (
    check_origin,
    clear_session_cookie,
    cookie_name,
    current_session,
    posted_form,
    set_session_cookie,
    signed_in,
)
from province_node.web.console.operations import (
    FORM_FIELDS,
    FORM_REFUSED,
    SIGNED_OUT,
    TOO_LARGE,
    console_operation,
    page,
)
from province_node.web.console.render import render_page
from schemas.errors import TooManyAuthFailures
from schemas.openapi import Param
from schemas.page_route import Route, form_body, html_response, see_other
from schemas.throttle import client_key

# Sign-in roles, the more privileged first: a token that is both is a registrar's.
_CONSOLE_ROLES = (Role.REGISTRAR, Role.VIEWER)


def safe_next(raw: str | None) -> str:
    """Where to go after signing in: a path of this node, never another site (`//host`, a
    scheme, a backslash all fall back to the console's first page). Any control character or
    space does too: a browser drops tabs and newlines from a Location, so "/<TAB>/evil.example"
    would arrive as "//evil.example"."""
    if not raw or not raw.startswith("/") or raw.startswith("//") or "\\" in raw:
        return "/"
    if any(ch.isspace() or not ch.isprintable() for ch in raw):
        return "/"
    return raw


def _login_page(
    request: web.Request,
    *,
    next_path: str,
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
    notice: str | None = None,
) -> web.Response:
    return render_page(
        request,
        "login.html",
        {
            "next": next_path,
            "errors": {"token": error} if error else {},
            "notice": notice,
        },
        status=status,
        headers=headers,
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    """GET /login: the sign-in form (a signed-in operator goes straight on)."""
    next_path = safe_next(request.query.get("next"))
    if current_session(request) is not None:
        raise web.HTTPSeeOther(next_path)
    notice = "您已退出登录。" if request.query.get("signed_out") else None
    return _login_page(request, next_path=next_path, notice=notice)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /login: a token in, a session cookie out; a wrong token is named beside the field."""
    check_origin(request)
    form = await request.post()
    next_path = safe_next(_text(form.get("next")))
    token = (_text(form.get("token")) or "").strip()
    if not token:
        return _login_page(request, next_path=next_path, error="请输入令牌。", status=422)
    auth = request.app[AUTH]
    try:
        roles = auth.roles(f"Bearer {token}", client_key(request.remote))
    except TooManyAuthFailures as exc:
        wait = exc.headers.get("Retry-After", "")
        return _login_page(
            request,
            next_path=next_path,
            error=f"登录失败次数过多，请 {wait} 秒后再试。",
            status=429,
            headers=exc.headers,
        )
    except Unauthorized:
        return _login_page(
            request, next_path=next_path, error="令牌不正确，请检查后重新输入。", status=401
        )
    role = next((r for r in _CONSOLE_ROLES if r in roles), None)
    if role is None:
        return _login_page(
            request,
            next_path=next_path,
            error="此令牌不能登录控制台：请使用登记员或查询员令牌。",
            status=403,
        )
    # A new id at every sign-in: an id planted before it (session fixation) is never promoted.
    request.app[SESSIONS].close(request.cookies.get(cookie_name(request)))
    session = request.app[SESSIONS].open(role)
    response = web.HTTPSeeOther(next_path)
    set_session_cookie(request, response, session)
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    """POST /logout: end the session and forget the cookie."""
    session = signed_in(request)
    await posted_form(request, session)
    request.app[SESSIONS].close(session.id)
    response = web.HTTPSeeOther("/login?signed_out=1")
    clear_session_cookie(request, response)
    raise response


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


ROUTES = (
    Route(
        console_operation(
            "GET",
            "/login",
            "console_login_form",
            "The sign-in form (a signed-in operator goes straight on to next)",
            [page("The form"), see_other("Already signed in: to next")],
            params=[
                Param("next", "query", str, "the console's page to go to after signing in"),
                Param("signed_out", "query", str, "any value: the form says you signed out"),
            ],
            signed_in=False,
        ),
        login_form,
    ),
    Route(
        console_operation(
            "POST",
            "/login",
            "console_login",
            "Sign in with a registrar's or viewer's token: a session cookie",
            [
                see_other("Signed in (Set-Cookie: the session): to next"),
                html_response(401, "The form: the token is not right"),
                html_response(
                    403, "The form: the token's role has no console; or sent from another site"
                ),
                TOO_LARGE,
                html_response(422, "The form: no token"),
                html_response(
                    429, "The form: too many failed sign-ins from this client (Retry-After)"
                ),
            ],
            body=form_body(
                {
                    "token": "a registrar's or viewer's token of this node",
                    "next": "the console's page to go to after signing in",
                },
                ["token"],
            ),
            signed_in=False,
        ),
        login,
    ),
    Route(
        console_operation(
            "POST",
            "/logout",
            "console_logout",
            "Sign out: the session ends, the cookie is forgotten",
            [see_other("To /login?signed_out=1"), SIGNED_OUT, FORM_REFUSED, TOO_LARGE],
            body=form_body({"csrf": FORM_FIELDS["csrf"]}, ["csrf"]),
        ),
        logout,
    ),
)
