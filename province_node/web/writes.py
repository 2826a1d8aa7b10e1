"""The node's two writes, as the API and the console both make them: parse first (the caller),
then one registry transaction that commits the change and, under an Idempotency-Key, stores its
first answer beside it (province_node.idempotency), so a repeated request commits once.

The answer is the API's (201/200 `{record, sync_token}`, or a refusal's error body); the
console reads the same bytes and renders them for a person.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson
from aiohttp import web

from province_node import idempotency
from province_node.idempotency import Claim, StoredResponse
from province_node.registry import Committed, WriteContext
from province_node.requests import RegistrationRequest, StepRequest
from province_node.web.appkeys import REGISTRY, SETTINGS
from schemas.sync_token import SyncToken
from schemas.timestamps import utc_now

# What a write hands back: the answer, and whether it is a stored replay of the first one.
WriteAnswer = tuple[StoredResponse, bool]


def _answer(status: int, province: str) -> Callable[[Committed], StoredResponse]:
    def render(c: Committed) -> StoredResponse:
        token = str(SyncToken(province, c.seq))
        headers = {"X-Sync-Token": token}
        if status == 201:
            headers["Location"] = f"/v1/registrations/{c.cert_no}"
        return StoredResponse(
            status, orjson.dumps({"record": c.record, "sync_token": token}), headers
        )

    return render


async def register(
    app: web.Application, req: RegistrationRequest, actor: str, claim: Claim | None
) -> WriteAnswer:
    """A first registration, re-registration or transfer-in: 201, or the refusal."""
    render = _answer(201, app[SETTINGS].province)

    def job(ctx: WriteContext) -> WriteAnswer:
        return idempotency.run(ctx.conn, claim, utc_now(), lambda: ctx.register(req, actor), render)

    return await app[REGISTRY].write(job)


async def step(
    app: web.Application, cert_no: str, step: StepRequest, actor: str, claim: Claim | None
) -> WriteAnswer:
    """One lifecycle step of a registration: 200, or the refusal (409 with its reason)."""
    render = _answer(200, app[SETTINGS].province)

    def job(ctx: WriteContext) -> WriteAnswer:
        return idempotency.run(
            ctx.conn, claim, utc_now(), lambda: ctx.step(cert_no, step, actor), render
        )

    return await app[REGISTRY].write(job)
