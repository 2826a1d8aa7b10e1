"""Webhooks: created with a secret shown once, scoped by institution."""

from __future__ import annotations

import sqlite3

import pytest

from national_hub.notify.webhooks import BadWebhookUrl, NoSuchThing, NotYours, Webhooks

ORG, OTHER = "12500000450400012K", "12500103450400233L"


def test_created_with_secret_listed_without(conn: sqlite3.Connection) -> None:
    hooks = Webhooks(conn)
    hook = hooks.create(ORG, "https://hr.example.cn/regsync")
    [listed] = hooks.live(ORG)
    assert hook.secret and listed.secret is None and listed.id == hook.id


@pytest.mark.parametrize("url", ["ftp://x/y", "https://", "javascript:alert(1)", "http://a b/"])
def test_bad_url_refused(conn: sqlite3.Connection, url: str) -> None:
    with pytest.raises(BadWebhookUrl):
        Webhooks(conn).create(ORG, url)


def test_another_institution_cannot_delete(conn: sqlite3.Connection) -> None:
    hook = Webhooks(conn).create(ORG, "http://127.0.0.1:1/x")
    with pytest.raises(NotYours):
        Webhooks(conn).delete(OTHER, hook.id)


def test_deleted_is_gone(conn: sqlite3.Connection) -> None:
    hooks = Webhooks(conn)
    hook = hooks.create(ORG, "http://127.0.0.1:1/x")
    hooks.delete(ORG, hook.id)
    assert hooks.live(ORG) == []


def test_unknown_delivery(conn: sqlite3.Connection) -> None:
    with pytest.raises(NoSuchThing):
        Webhooks(conn).redeliver(ORG, 12345)
