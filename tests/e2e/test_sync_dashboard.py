"""The ops dashboard in headless Chromium against a running hub fed by real province nodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from devstack.stack import Secrets, Stack
from tests.e2e.federation import Federation, connect, stack_running, wait_until
from tests.national_hub.chromium import dump_dom, screenshot

Running = tuple[Stack, Secrets]
PROVINCES = {"50": "重庆市", "11": "北京市", "44": "广东省"}
RECORDS = 150  # demo registrations per province, imported before the nodes start


@pytest.fixture(scope="module")
def own_stack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    with stack_running(
        tmp_path_factory.mktemp("dashboard"),
        list(PROVINCES),
        bootstrap=bootstrap,
        records=RECORDS,
    ) as running:
        yield running


@pytest.fixture
async def synced(own_stack: Running) -> AsyncIterator[Federation]:
    """The federation once every province's demo data is applied and two lag samples exist."""
    async with connect(own_stack) as fed:

        async def ready() -> bool:
            body = await fed.sync_status()
            applied = all(
                p["status"] == "ok" and p["applied_seq"] >= RECORDS for p in body["provinces"]
            )
            _, history = await fed.hub_get("/v1/sync/lag-history", minutes="15")
            points = [
                pt for series in history["provinces"].values() for pt in series if pt["lag_seconds"]
            ]
            return applied and len(points) >= 2 * len(PROVINCES)

        await wait_until(ready, 60, "demo data applied and lag sampled")
        yield fed


@dataclass
class Page:
    """What the test reads of the rendered dashboard."""

    rows: dict[str, dict[str, str]] = field(default_factory=dict)  # code -> status, text
    paths: set[str] = field(default_factory=set)
    banner_hidden: bool = True


class _Reader(HTMLParser):
    """Collects the dashboard's status rows and chart series from Chromium's DOM dump."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._row: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "tr" and "data-province" in a:
            self._row = a["data-province"]
            self.page.rows[self._row] = {"status": a.get("data-status", ""), "text": ""}
        elif tag == "path" and "data-province" in a:
            self.page.paths.add(a["data-province"])
        elif a.get("id") == "error-banner":
            self.page.banner_hidden = "hidden" in a

    def handle_endtag(self, tag: str) -> None:
        if tag == "tr":
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._row is not None:
            self.page.rows[self._row]["text"] += data


def read_page(url: str) -> Page:
    reader = _Reader()
    reader.feed(dump_dom(url, wait_ms=3000))
    return reader.page


async def test_dashboard_and_its_static_files_are_served(synced: Federation) -> None:
    for path, kind in (
        ("/dashboard", "text/html"),
        ("/static/dashboard.js", "javascript"),
        ("/static/dashboard.css", "text/css"),
    ):
        async with synced.http.get(f"{synced.hub}{path}") as resp:
            assert resp.status == 200 and kind in resp.content_type, (path, resp.content_type)


async def test_dashboard_shows_a_row_per_province_with_status_and_name(
    synced: Federation,
) -> None:
    page = read_page(f"{synced.hub}/dashboard")
    assert {code: row["status"] for code, row in page.rows.items()} == dict.fromkeys(
        PROVINCES, "ok"
    )
    for code, name in PROVINCES.items():
        assert name in page.rows[code]["text"], page.rows[code]
    assert page.banner_hidden


async def test_dashboard_draws_every_province_lag(synced: Federation) -> None:
    page = read_page(f"{synced.hub}/dashboard")
    assert page.paths == set(PROVINCES)


async def test_dashboard_screenshot(synced: Federation, tmp_path: Path) -> None:
    shot = screenshot(f"{synced.hub}/dashboard", tmp_path / "dashboard.png", wait_ms=3000)
    # The PNG stays under the test's tmp dir for a person to look at.
    assert shot.stat().st_size > 10_000
