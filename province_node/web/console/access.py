"""What each console page asks of a request before it acts: a signed-in session, a registrar's
for a change, and on every form a CSRF token that matches the session's.

CSRF, twice over: every form carries the session's token (hidden field `csrf`; scripts send it
as X-CSRF-Token) and a POST whose Origin (or Sec-Fetch-Site) names another site is refused
before the token is looked at. The sign-in form has no session yet, so the origin check is its
protection (a browser always sends Origin on a cross-site POST). The cookie is SameSite=Lax
besides: a link from elsewhere may open a page, never post a form.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from aiohttp import web
from multidict import MultiDictProxy

from province_node.errors import Forbidden, Unauthorized
from province_node.web.appkeys import SESSIONS
from province_node.web.console.sessions import Session

# The cookie's name; under TLS the __Host- prefix makes the browser insist on Secure, Path=/
# and no Domain, so no other host can set or read it.
COOKIE = "regsync_console"
TLS_COOKIE = "__Host-regsync_console"
CSRF_FIELD = "csrf"
# What aiohttp's request.post() returns.
PostForm = MultiDictProxy[str | bytes | bytearray | web.FileField]
CSRF_HEADER = "X-CSRF-Token"


def cookie_name(request: web.Request) -> str:
    """The session cookie's name on this connection."""
    return TLS_COOKIE if request.secure else COOKIE


def set_session_cookie(
    request: web.Request, response: web.StreamResponse, session: Session
) -> None:
    """Name the session in an HttpOnly, SameSite=Lax cookie (Secure under TLS), for the browser's
    session only (no Max-Age: closing the browser signs out too)."""
    response.set_cookie(
        cookie_name(request),
        session.id,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=request.secure,
    )


def clear_session_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Tell the browser to forget the session cookie."""
    response.del_cookie(cookie_name(request), path="/", secure=request.secure, samesite="Lax")


def current_session(request: web.Request) -> Session | None:
    """The request's live session, or None.

    Only what a person does keeps a session alive: a page opened or a form sent (a browser says
    Sec-Fetch-Mode: navigate). A page's own scripts (the health and visibility refreshes, the
    import's progress, Sec-Fetch-Mode: cors or same-origin) read the session without restarting
    its idle clock, so a desk left on 节点状态 still signs out after the idle time.
    """
    touch = request.headers.get("Sec-Fetch-Mode", "navigate") == "navigate"
    return request.app[SESSIONS].get(request.cookies.get(cookie_name(request)), touch=touch)


def sign_in_address(request: web.Request, back: str | None = None) -> str:
    """/login, with the page to come back to (a path of this node only): `back`, else this
    request's path and query."""
    return f"/login?next={quote(back or request.path_qs, safe='/')}"


def signed_in(request: web.Request, back: str | None = None) -> Session:
    """The session, or: a page (GET) goes to the sign-in form and comes back after (to `back`
    when the address holds what the sign-in's address must not); anything else is refused with
    401 (a script or a form whose session ended)."""
    session = current_session(request)
    if session is not None:
        return session
    if request.method in ("GET", "HEAD"):
        raise web.HTTPSeeOther(sign_in_address(request, back))
    raise Unauthorized("您尚未登录或登录已过期，请重新登录。", code="signed_out")


def registrar(request: web.Request) -> Session:
    """A registrar's session; a viewer's is refused (403)."""
    session = signed_in(request)
    if not session.can_write:
        raise Forbidden("只读账号只能查询，不能办理业务；请使用登记员令牌登录。", code="read_only")
    return session


def same_origin(request: web.Request) -> bool:
    """Whether a POST comes from this node's own pages, as the browser tells it.

    Sec-Fetch-Site, when sent, is the browser's own verdict and decides. Otherwise Origin must
    be this node's; "null" is refused (the console's pages send Referrer-Policy: same-origin,
    under which a browser serialises its own origin on a same-origin POST; no-referrer would
    make every POST say "null"). A client that is not a browser sends neither and passes: the
    CSRF token is what protects a session's forms, this check guards the sign-in.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme == request.scheme and parts.netloc == request.host


def check_origin(request: web.Request) -> None:
    """Refuse (403) a form sent from another site's page."""
    if not same_origin(request):
        raise Forbidden("请求来自其他网站，已拒绝。请在本系统页面内操作。", code="cross_site")


async def posted_form(request: web.Request, session: Session) -> PostForm:
    """The form of a POST, after the origin and CSRF checks (403 when either fails)."""
    check_origin(request)
    form = await request.post()
    presented = form.get(CSRF_FIELD)
    check_csrf(
        session, presented if isinstance(presented, str) else request.headers.get(CSRF_HEADER)
    )
    return form


def check_csrf(session: Session, presented: str | None) -> None:
    """Refuse (403) a form whose CSRF token is not the session's (a form read by its own
    handler, e.g. a streamed upload, checks the token it found here)."""
    if not session.csrf_matches(presented):
        raise Forbidden(
            "表单已失效或缺少安全校验码（CSRF），未执行任何操作。请刷新页面后重试。",
            code="csrf_failed",
        )


def check_csrf_header(request: web.Request, session: Session) -> None:
    """The CSRF check of a script's request that carries no form (X-CSRF-Token)."""
    check_origin(request)
    if not session.csrf_matches(request.headers.get(CSRF_HEADER)):
        raise Forbidden(
            "缺少安全校验码（CSRF），未执行任何操作。请刷新页面后重试。", code="csrf_failed"
        )
