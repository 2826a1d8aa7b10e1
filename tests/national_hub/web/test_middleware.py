"""The hub's error middleware: its domain table, its HTTP errors, and the 500 with an error id."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from national_hub.errors import (
    ConfigError,
    Conflict,
    IngestError,
    InvalidParameter,
    StoreError,
    TooManyAuthFailures,
    Unauthorized,
)
from national_hub.web.middleware import error_middleware
from schemas.errors import SchemaError


async def _answer(exc: BaseException) -> tuple[int, Any, dict[str, str]]:
    """Status, JSON body and headers when a handler raises exc behind the hub's middleware."""

    async def handler(request: web.Request) -> web.StreamResponse:
        raise exc

    app = web.Application(middlewares=[error_middleware])
    app.router.add_get("/boom", handler)
    async with TestClient(TestServer(app)) as client:
        resp = await client.get("/boom")
        return resp.status, await resp.json(), dict(resp.headers)


async def test_a_store_error_answers_503_store_unavailable() -> None:
    status, body, _ = await _answer(StoreError("the store is closed"))
    assert (status, body) == (
        503,
        {"error": {"code": "store_unavailable", "message": "the store is closed", "details": []}},
    )


async def test_a_schema_error_answers_400_invalid_request_with_its_details() -> None:
    details = [{"field": "cert_no", "message": "must be 15 digits"}]
    status, body, _ = await _answer(SchemaError("cert_no: must be 15 digits", details))
    assert (status, body["error"]["code"], body["error"]["details"]) == (
        400,
        "invalid_request",
        details,
    )


@pytest.mark.parametrize(
    "exc", [ConfigError("x"), IngestError("x"), RuntimeError("x")], ids=lambda e: type(e).__name__
)
async def test_an_unmapped_failure_answers_500_internal(exc: Exception) -> None:
    status, body, _ = await _answer(exc)
    assert (status, body["error"]["code"]) == (500, "internal")


async def test_a_500_names_the_error_id_under_which_it_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="national_hub.web.middleware"):
        _, body, _ = await _answer(RuntimeError("secret internals"))
    error_id = body["error"]["message"].rsplit(" ", 1)[-1]
    assert "secret internals" not in body["error"]["message"]
    assert any(error_id in r.getMessage() and r.exc_info for r in caplog.records)


async def test_an_invalid_parameter_names_the_field() -> None:
    status, body, _ = await _answer(InvalidParameter.for_field("cert_no", "must be 15 digits"))
    assert (status, body["error"]) == (
        400,
        {
            "code": "invalid_parameter",
            "message": "cert_no: must be 15 digits",
            "details": [{"field": "cert_no", "message": "must be 15 digits"}],
        },
    )


async def test_an_explanation_sits_beside_the_error() -> None:
    exc = Conflict("not yet", code="not_yet_applied", extra={"explanation": {"state": "pending"}})
    status, body, _ = await _answer(exc)
    assert (status, body["explanation"], body["error"]["code"]) == (
        409,
        {"state": "pending"},
        "not_yet_applied",
    )


async def test_a_401_carries_the_bearer_challenge() -> None:
    _, _, headers = await _answer(Unauthorized("who are you"))
    assert headers["WWW-Authenticate"] == "Bearer"


async def test_too_many_auth_failures_carries_retry_after() -> None:
    status, _, headers = await _answer(TooManyAuthFailures.retry_after(7))
    assert (status, headers["Retry-After"]) == (429, "7")
