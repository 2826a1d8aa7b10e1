"""Events and heartbeats: canonical bytes, parsing, and field-naming errors."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from schemas.canonical import canonical_bytes
from schemas.errors import SchemaError
from schemas.events import (
    DETAILS_BY_TYPE,
    EVENT_MODEL_BY_TYPE,
    Heartbeat,
    parse_event,
    parse_heartbeat,
)
from schemas.samples import sample_event
from schemas.vocab import EventType

ALL_TYPES = list(EventType)


def wire(type_: EventType = EventType.REGISTERED, **kw: Any) -> dict[str, Any]:
    """Return a sample event as the JSON object a consumer would receive."""
    result: dict[str, Any] = orjson.loads(canonical_bytes(sample_event(type_, **kw)))
    return result


def fields_of_failure(obj: dict[str, Any]) -> list[str]:
    """Parse obj and return the field paths the SchemaError names."""
    with pytest.raises(SchemaError) as info:
        parse_event(orjson.dumps(obj))
    return [d["field"] for d in info.value.details]


def sample_heartbeat(**overrides: Any) -> Heartbeat:
    fields: dict[str, Any] = {
        "province": "50",
        "committed_seq": 1240,
        "published_seq": 1200,
        "outbox_backlog": 40,
        "oldest_unpublished_at": None,
        "sent_at": datetime(2026, 11, 22, 4, 10, 0, 123000, tzinfo=UTC),
    }
    return Heartbeat(**(fields | overrides))


def test_there_are_twelve_event_types() -> None:
    assert set(EVENT_MODEL_BY_TYPE) == set(DETAILS_BY_TYPE) == set(EventType)


@pytest.mark.parametrize("type_", ALL_TYPES)
def test_round_trip_through_canonical_bytes(type_: EventType) -> None:
    event = sample_event(type_)
    assert parse_event(canonical_bytes(event)) == event


@pytest.mark.parametrize("type_", ALL_TYPES)
def test_parse_picks_the_model_of_the_type(type_: EventType) -> None:
    event = parse_event(canonical_bytes(sample_event(type_)))
    assert (type(event), type(event.details)) == (
        EVENT_MODEL_BY_TYPE[type_],
        DETAILS_BY_TYPE[type_],
    )


@pytest.mark.parametrize("type_", ALL_TYPES)
def test_canonical_bytes_are_stable(type_: EventType) -> None:
    assert canonical_bytes(sample_event(type_)) == canonical_bytes(sample_event(type_))


def test_canonical_bytes_keep_chinese_as_raw_utf8() -> None:
    raw = canonical_bytes(sample_event(EventType.REGISTERED))
    assert "重庆医科大学附属第一医院".encode() in raw and b"\\u" not in raw


def test_canonical_bytes_have_sorted_keys_and_no_whitespace() -> None:
    raw = canonical_bytes(sample_event(EventType.REGISTERED))
    assert raw == orjson.dumps(orjson.loads(raw), option=orjson.OPT_SORT_KEYS)


def test_canonical_bytes_include_none_as_null() -> None:
    assert b'"pending_change":null' in canonical_bytes(sample_event(EventType.REGISTERED))


def test_committed_at_is_millisecond_utc_with_z() -> None:
    assert wire(seq=1)["committed_at"] == "2026-11-22T04:10:01.123Z"


def test_offset_datetime_is_converted_to_utc_and_truncated_to_ms() -> None:
    obj = wire() | {"committed_at": "2026-11-22T12:10:00.123999+08:00"}
    assert orjson.loads(canonical_bytes(parse_event(orjson.dumps(obj))))["committed_at"] == (
        "2026-11-22T04:10:00.123Z"
    )


def test_naive_committed_at_is_refused() -> None:
    obj = wire() | {"committed_at": "2026-11-22T04:10:00.123"}
    assert fields_of_failure(obj) == ["committed_at"]


def test_dates_are_plain_iso_dates() -> None:
    assert wire()["record"]["registered_on"] == "2020-03-15"


def test_canonical_bytes_of_a_dict_format_dates_like_models() -> None:
    when = datetime(2026, 11, 22, 4, 10, 0, 123456, tzinfo=UTC)
    raw = canonical_bytes({"b": when, "a": date(2026, 1, 2)})
    assert raw == b'{"a":"2026-01-02","b":"2026-11-22T04:10:00.123Z"}'


def test_cert_no_of_14_digits_names_the_field() -> None:
    obj = wire() | {"cert_no": "50050000001234"}
    assert fields_of_failure(obj) == ["cert_no"]


def test_wrong_credit_code_checksum_names_the_nested_field() -> None:
    obj = wire()
    obj["record"]["primary_institution"]["org_code"] = "91110000101623741A"
    assert fields_of_failure(obj) == ["record.primary_institution.org_code"]


def test_scope_from_another_category_names_record_scopes() -> None:
    obj = wire()
    obj["record"]["scopes"] = ["口腔专业"]
    assert fields_of_failure(obj) == ["record.scopes"]


def test_four_scopes_name_record_scopes() -> None:
    obj = wire()
    obj["record"]["scopes"] = ["内科专业", "外科专业", "儿科专业", "妇产科专业"]
    assert fields_of_failure(obj) == ["record.scopes"]


def test_unknown_province_names_the_field() -> None:
    assert fields_of_failure(wire() | {"province": "99"}) == ["province"]


def test_unknown_province_in_details_names_the_nested_field() -> None:
    obj = wire(EventType.TRANSFERRED_OUT)
    obj["details"]["to_province"] = "00"
    assert fields_of_failure(obj) == ["details.to_province"]


def test_unknown_type_names_the_type_field() -> None:
    assert fields_of_failure(wire() | {"type": "merged"}) == ["type"]


def test_missing_type_names_the_type_field() -> None:
    obj = wire()
    del obj["type"]
    assert fields_of_failure(obj) == ["type"]


def test_details_of_another_type_are_refused() -> None:
    obj = wire(EventType.SUSPENDED) | {"type": "cancelled"}
    assert fields_of_failure(obj) == ["details.reason", "details.until"]


def test_seq_as_string_is_refused() -> None:
    assert fields_of_failure(wire() | {"seq": "1"}) == ["seq"]


def test_seq_zero_is_refused() -> None:
    assert fields_of_failure(wire() | {"seq": 0}) == ["seq"]


def test_record_for_another_cert_no_is_refused() -> None:
    assert fields_of_failure(wire() | {"cert_no": "500500000099999"}) == ["record"]


def test_unknown_envelope_field_is_refused() -> None:
    assert fields_of_failure(wire() | {"id_number": "11010519491231002X"}) == ["id_number"]


def test_unknown_schema_version_is_refused() -> None:
    assert fields_of_failure(wire() | {"schema_version": 2}) == ["schema_version"]


def test_invalid_json_raises_schema_error() -> None:
    with pytest.raises(SchemaError, match="Invalid JSON"):
        parse_event(b'{"type": ')


def test_schema_error_prefix_is_prepended() -> None:
    with pytest.raises(ValidationError) as info:
        Heartbeat.model_validate({"province": "50"})
    err = SchemaError.from_validation_error(info.value, prefix="body")
    assert "body.committed_seq" in [d["field"] for d in err.details]


def test_transfer_in_carries_its_origin() -> None:
    obj = wire() | {"details": {"transfer_from": {"province": "11", "cert_no": "110500000012345"}}}
    event = parse_event(orjson.dumps(obj))
    assert event.details == DETAILS_BY_TYPE[EventType.REGISTERED](
        transfer_from={"province": "11", "cert_no": "110500000012345"}
    )


def test_sample_transfer_goes_to_another_province() -> None:
    assert wire(EventType.TRANSFERRED_OUT, province="11")["details"]["to_province"] == "50"


def test_heartbeat_round_trip() -> None:
    heartbeat = sample_heartbeat()
    assert parse_heartbeat(canonical_bytes(heartbeat)) == heartbeat


def test_heartbeat_keeps_null_oldest_unpublished_at() -> None:
    assert b'"oldest_unpublished_at":null' in canonical_bytes(sample_heartbeat())


def test_heartbeat_negative_backlog_names_the_field() -> None:
    raw = canonical_bytes(sample_heartbeat()).replace(
        b'"outbox_backlog":40', b'"outbox_backlog":-1'
    )
    with pytest.raises(SchemaError) as info:
        parse_heartbeat(raw)
    assert [d["field"] for d in info.value.details] == ["outbox_backlog"]
