"""Helpers of the console tests: signing in with the node's test client, reading a page's CSRF
token and its field errors. Browser tests use tests/browser.py; these speak HTTP."""

from __future__ import annotations

import re
import secrets
import tempfile
from html import unescape
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer
from nodekit import Node, registration

from province_node.synthetic import write_csv
from province_node.web.console.field_messages import value_at
from province_node.web.console.register_form import FIELD_PATHS

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_FIELD_ERROR = re.compile(
    r'<p class="field-error" id="([^"]+)-error"><strong>错误：</strong>([^<]*)</p>'
)


async def sign_in(node: Node, role: str = "registrar") -> str:
    """Sign the node's test client in with a role's token; the session's CSRF token."""
    resp = await node.client.post(
        "/login", data={"token": node.tokens[role], "next": "/login"}, allow_redirects=False
    )
    assert resp.status == 303, await resp.text()
    page = await node.client.get("/logout-form-carrier", allow_redirects=False)
    # Any page of a signed-in session carries the token in its sign-out form; the 404 page is
    # one every console has.
    return csrf_of(await page.text())


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    match = _CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return unescape(match.group(1))


def field_errors(html: str) -> dict[str, str]:
    """The error messages shown next to fields: field name → message."""
    return {name: unescape(text) for name, text in _FIELD_ERROR.findall(html)}


def registration_form(index: int = 1, **overrides: str) -> list[tuple[str, str]]:
    """The register form's fields (console /register) for nodekit.registration(index); keyword
    arguments replace fields (scopes: one or more joined by ";")."""
    body = registration(index)
    fields = {"kind": "new", "scopes": ";".join(body["scopes"])}
    for name, path in FIELD_PATHS.items():
        value = value_at(body, path)
        if isinstance(value, str):
            fields[name] = value
    fields.update(overrides)
    scopes = fields.pop("scopes")
    return [*fields.items(), *(("scopes", s) for s in scopes.split(";") if s)]


class FakeHub:
    """A stand-in for the national hub's read API (CONTRACT §5) that the console asks: explain,
    history, sync status; each answer is set by the test (None: that route answers 503)."""

    def __init__(self) -> None:
        self.explanation: dict[str, Any] | None = None
        self.history: dict[str, Any] | None = {"items": []}
        self.status: dict[str, Any] | None = {"provinces": []}
        self.asked: list[str] = []
        app = web.Application()
        app.router.add_get("/v1/sync/explain", self._explain)
        app.router.add_get("/v1/physicians/{cert_no}/history", self._history)
        app.router.add_get("/v1/sync/status", self._status)
        self.server = TestServer(app)

    @property
    def url(self) -> str:
        """The base URL the node is configured with (hub_url)."""
        return str(self.server.make_url("")).rstrip("/")

    @staticmethod
    def _answer(body: dict[str, Any] | None) -> web.Response:
        if body is None:
            return web.json_response({"error": {"code": "unavailable"}}, status=503)
        return web.json_response(body)

    async def _explain(self, request: web.Request) -> web.Response:
        self.asked.append(request.path_qs)
        return self._answer(self.explanation)

    async def _history(self, request: web.Request) -> web.Response:
        return self._answer(self.history)

    async def _status(self, request: web.Request) -> web.Response:
        return self._answer(self.status)


def explanation(state: str, seq: int, **extra: Any) -> dict[str, Any]:
    """An explanation of a province 50 change as the hub sends it (CONTRACT §5)."""
    return {
        "visible": state == "applied",
        "state": state,
        "reason": f"Change {seq} is {state}.",
        "province": "50",
        "eta_seconds": extra.pop("eta_seconds", None),
        "evidence": {"event_seq": seq, "hub_applied_seq": extra.pop("hub_applied_seq", seq)},
        **extra,
    }


_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def idempotency_key_of(html: str) -> str:
    """The Idempotency-Key of the first changing form on a page."""
    match = _KEY.search(html)
    assert match, "the page has no form with an idempotency_key"
    return unescape(match.group(1))


async def post_action(
    node: Node, cert_no: str, kind: str, fields: dict[str, str], csrf: str, key: str | None = None
) -> tuple[int, str, str]:
    """POST a lifecycle action's form as the console draws it: (status, Location, page text)."""
    data = {"csrf": csrf, "idempotency_key": key or secrets.token_urlsafe(8), **fields}
    resp = await node.client.post(
        f"/registrations/{cert_no}/actions/{kind}", data=data, allow_redirects=False
    )
    return resp.status, resp.headers.get("Location", ""), await resp.text()


def csv_file(good: int, bad: int = 0, *, first: int = 1) -> bytes:
    """An import CSV (province_node.synthetic.write_csv) of `good` valid rows, then `bad` rows
    with a wrong ID check character; people numbered from `first` as nodekit.registration
    numbers them."""
    rows = [registration(i) for i in range(first, first + good + bad)]
    for body in rows[good:]:
        number = body["id_number"]
        body["id_number"] = number[:17] + ("1" if number[17] != "1" else "2")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rows.csv"
        write_csv(path, rows)
        return path.read_bytes()
