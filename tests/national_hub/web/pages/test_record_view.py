"""A public record in words: each status with its reason and dates, the pending change, the
transfer, practice sites with dates, and the timeline's sync delay."""

from __future__ import annotations

from typing import Any

from national_hub.web.pages.record_view import history_entries, record_view, sync_delay


def record(**fields: Any) -> dict[str, Any]:
    return {
        "cert_no": "500000000000001",
        "name": "张伟",
        "gender": "male",
        "level": "physician",
        "category": "clinical",
        "scopes": ["内科专业"],
        "primary_institution": {"org_code": "X", "name": "重庆医科大学附属第一医院"},
        "practice_sites": [],
        "status": "active",
        "issuing_authority": {"name": "重庆市渝中区卫生健康委员会"},
        "registered_on": "2020-01-02",
        "province": "50",
        "record_version": 3,
        "synced_at": "2026-12-05T04:10:00.000Z",
        "superseded_by": None,
        **fields,
    }


def test_labels_are_chinese() -> None:
    view = record_view(record())
    assert (view.category, view.status, view.province, view.level) == (
        "临床",
        "正常",
        "重庆市",
        "执业医师",
    )


def test_a_suspension_says_until_when_and_why() -> None:
    view = record_view(
        record(status="suspended", status_reason="违反诊疗规范", suspended_until="2027-05-01")
    )
    assert view.status_note == "暂停执业至2027年5月1日；原因：违反诊疗规范"


def test_a_cancellation_gives_its_legal_reason() -> None:
    view = record_view(record(status="cancelled", status_reason="本人主动申请"))
    assert view.status_note == "注销原因：本人主动申请"


def test_a_revocation_gives_its_reason() -> None:
    view = record_view(record(status="revoked", status_reason="出具虚假医学证明文件"))
    assert view.status_note == "吊销原因：出具虚假医学证明文件"


def test_a_pending_change_is_explained_with_what_is_asked() -> None:
    view = record_view(
        record(
            status="changing",
            pending_change={
                "requested_at": "2026-11-30",
                "primary_institution": {"name": "重庆市渝中区人民医院"},
            },
        )
    )
    assert view.status_note is not None and "正在审批" in view.status_note
    assert view.pending_change == (
        "申请日期：2026年11月30日",
        "申请变更主要执业机构为：重庆市渝中区人民医院",
    )


def test_a_moved_record_names_where_it_went() -> None:
    view = record_view(record(superseded_by={"province": "44", "cert_no": "440000000000009"}))
    assert view.moved_to == ("广东省", "440000000000009")


def test_practice_sites_carry_their_dates() -> None:
    site = {"name": "重庆市渝中区人民医院", "org_code": "Y", "start_date": "2026-01-01"}
    ended = {**site, "end_date": "2026-06-30"}
    periods = [s.period for s in record_view(record(practice_sites=[site, ended])).sites]
    assert periods == ["自2026年1月1日起", "2026年1月1日至2026年6月30日"]


def test_the_timeline_is_newest_first_in_chinese() -> None:
    items = [
        {"type": "registered", "record_version": 1, "committed_at": None, "applied_at": None},
        {"type": "suspended", "record_version": 2, "committed_at": None, "applied_at": None},
    ]
    assert [h.what for h in history_entries(items)] == ["暂停执业", "注册"]


def test_the_sync_delay_is_the_time_from_commit_to_apply() -> None:
    assert sync_delay("2026-12-05T04:10:00.000Z", "2026-12-05T04:10:02.400Z") == "登记后 2.4 秒"


def test_a_sub_second_delay_keeps_two_decimals() -> None:
    assert sync_delay("2026-12-05T04:10:00.000Z", "2026-12-05T04:10:00.040Z") == "登记后 0.04 秒"


def test_clock_skew_shows_no_delay() -> None:
    assert sync_delay("2026-12-05T04:10:01.000Z", "2026-12-05T04:10:00.000Z") is None
