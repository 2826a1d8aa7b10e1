"""GET/POST /import and the job's pages: a CSV upload imported in the background."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, cast

import aiohttp
import orjson
from aiohttp import BodyPartReader, ClientResponse
from consolekit import csv_file, field_errors, idempotency_key_of, sign_in
from nodekit import FedEnv, Node, eventually, start_node

from province_node.web.console.import_routes import reject_row, stream_to


async def upload(
    node: Node, csrf: str | None, content: bytes, name: str = "r.csv", key: str | None = None
) -> ClientResponse:
    form = aiohttp.FormData()
    if csrf is not None:
        form.add_field("csrf", csrf)
    if key is not None:
        form.add_field("idempotency_key", key)
    form.add_field("file", content, filename=name, content_type="text/csv")
    return await node.client.post("/import", data=form, allow_redirects=False)


async def finished(node: Node, location: str) -> dict[str, Any]:
    """Wait for the job at location to end; its progress document."""
    progress: dict[str, Any] = {}

    async def done() -> bool:
        nonlocal progress
        progress = await (await node.client.get(f"{location}/progress")).json()
        return progress["state"] != "running"

    await eventually(done, within=30)
    return progress


async def test_the_form_is_a_registrars_page(node: Node) -> None:
    await sign_in(node)
    resp = await node.client.get("/import")
    assert (resp.status, 'type="file"' in await resp.text()) == (200, True)


async def test_a_viewer_gets_the_403_page(node: Node) -> None:
    await sign_in(node, "viewer")
    resp = await node.client.get("/import")
    assert resp.status == 403


async def test_an_upload_answers_303_to_its_job(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await upload(node, csrf, csv_file(2))
    assert (resp.status, resp.headers["Location"].startswith("/import/")) == (303, True)


async def test_the_form_draws_an_idempotency_key(node: Node) -> None:
    await sign_in(node)
    assert idempotency_key_of(await (await node.client.get("/import")).text())


async def test_the_same_form_sent_twice_goes_to_the_one_job(node: Node, fed: FedEnv) -> None:
    csrf = await sign_in(node)
    first = await upload(node, csrf, csv_file(1), key="k-1")
    second = await upload(node, csrf, csv_file(1), key="k-1")
    jobs = list((fed.db.parent / "imports").iterdir())
    assert (second.headers["Location"], len(jobs)) == (first.headers["Location"], 1)


async def test_good_and_bad_rows_are_counted(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await upload(node, csrf, csv_file(3, bad=2))
    progress = await finished(node, resp.headers["Location"])
    counts = (progress["state"], progress["imported"], progress["skipped"], progress["rejected"])
    assert counts == ("done", 3, 0, 2)


async def test_the_rejects_file_names_each_bad_row_in_chinese(node: Node) -> None:
    csrf = await sign_in(node)
    location = (await upload(node, csrf, csv_file(1, bad=2))).headers["Location"]
    await finished(node, location)
    resp = await node.client.get(f"{location}/rejects.csv")
    rows = list(csv.reader(io.StringIO((await resp.read()).decode("utf-8-sig"))))
    assert [(r[0], r[2][:11]) for r in rows] == [
        ("行号", "原因"),
        ("3", "身份证号码校验位不正确"),
        ("4", "身份证号码校验位不正确"),
    ]


async def test_the_rejects_file_is_an_attachment_with_a_bom(node: Node) -> None:
    csrf = await sign_in(node)
    location = (await upload(node, csrf, csv_file(0, bad=1))).headers["Location"]
    await finished(node, location)
    resp = await node.client.get(f"{location}/rejects.csv")
    body = await resp.read()
    assert (resp.headers["Content-Disposition"].startswith("attachment"), body[:3]) == (
        True,
        b"\xef\xbb\xbf",
    )


async def test_a_rerun_skips_every_row(node: Node) -> None:
    csrf = await sign_in(node)
    content = csv_file(3)
    await finished(node, (await upload(node, csrf, content)).headers["Location"])
    progress = await finished(node, (await upload(node, csrf, content)).headers["Location"])
    assert (progress["imported"], progress["skipped"]) == (0, 3)


async def test_the_finished_job_page_shows_the_counts(node: Node) -> None:
    csrf = await sign_in(node)
    location = (await upload(node, csrf, csv_file(2, bad=1))).headers["Location"]
    await finished(node, location)
    html = await (await node.client.get(location)).text()
    assert "导入完成：2 行已导入，0 行本省已有而跳过，1 行未导入。" in html


async def test_a_wrong_header_is_named_on_the_form(node: Node) -> None:
    csrf = await sign_in(node)
    resp = await upload(node, csrf, b"cert_no,nombre\n500000000000001,x\n")
    errors = field_errors(await resp.text())
    assert (resp.status, errors["file"].startswith("文件第一行（表头）缺少列")) == (422, True)


async def test_an_upload_without_csrf_is_refused(node: Node) -> None:
    await sign_in(node)
    resp = await upload(node, None, csv_file(1))
    assert resp.status == 403


async def test_an_oversize_upload_is_a_413_page(fed: FedEnv) -> None:
    node = await start_node(fed.settings(max_upload_bytes=1000), fed.tokens)
    try:
        csrf = await sign_in(node)
        resp = await upload(node, csrf, csv_file(20))
        assert (resp.status, "上限" in field_errors(await resp.text())["file"]) == (413, True)
    finally:
        await node.client.close()


class _Part:
    """A file part of a multipart body, as stream_to reads it."""

    def __init__(self, content: bytes) -> None:
        self.content = content

    async def read_chunk(self, size: int) -> bytes:
        chunk, self.content = self.content[:size], self.content[size:]
        return chunk


async def test_the_uploaded_file_is_the_owners_alone(tmp_path: Path) -> None:
    stored = tmp_path / "upload.csv"
    await stream_to(cast(BodyPartReader, _Part(csv_file(1))), stored, 1 << 20)
    assert stored.stat().st_mode & 0o777 == 0o600


async def test_the_upload_is_deleted_when_its_job_ends(node: Node, fed: FedEnv) -> None:
    csrf = await sign_in(node)
    location = (await upload(node, csrf, csv_file(1, bad=1))).headers["Location"]
    await finished(node, location)
    folder = fed.db.parent / "imports" / location.rsplit("/", 1)[1]
    assert sorted(p.name for p in folder.iterdir()) == ["job.json", "upload.csv.rejects.jsonl"]


def test_a_reason_excel_would_read_as_a_formula_is_written_as_text() -> None:
    raw = orjson.dumps({"line": 2, "cert_no": "1", "details": [{"field": "=X()", "message": "?"}]})
    assert reject_row(raw)[2].startswith("'=")
