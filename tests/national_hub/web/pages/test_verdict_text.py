"""The verdict of POST /verify in words: the notes of verify_certificate in Chinese, each field
marked by word and icon, the explanation of a number on its way."""

from __future__ import annotations

from typing import Any

import orjson
from multidict import MultiDict

from national_hub.query.aliases import AliasTable
from national_hub.query.verify import VerifyRequest, compare
from national_hub.web.pages.verdict_text import note_text, verdict_view
from national_hub.web.pages.verify_form import form_values
from schemas.record import PendingChange
from schemas.samples import SECOND_INSTITUTION, sample_record
from schemas.vocab import Category, Status

CERT = "500000000000001"


def values(**fields: str) -> dict[str, Any]:
    return form_values(MultiDict(fields))


def _row(**fields: Any) -> dict[str, Any]:
    record = sample_record(cert_no=CERT, name="张伟", **fields)
    return {
        "record": orjson.dumps(record.model_dump(mode="json")),
        "province": "50",
        "record_version": 3,
        "superseded_by_province": "44",
        "superseded_by_cert_no": "440000000000009",
    }


def test_every_note_compare_writes_is_worded_in_chinese() -> None:
    pending = PendingChange(
        primary_institution=SECOND_INSTITUTION, category=Category.TCM, scopes=("中医专业",)
    )
    row = _row(status=Status.CHANGING, pending_change=pending)
    request = VerifyRequest.model_validate(
        {
            "cert_no": CERT,
            "name": "张伟",
            "institution": SECOND_INSTITUTION.name,
            "category": "tcm",
            "scopes": ["中医专业"],
        }
    )
    notes = compare(request, row, AliasTable.load()).notes
    assert len(notes) == 5
    assert [n for n in map(note_text, notes) if any("a" <= c.lower() <= "z" for c in n)] == []


def test_pending_institution_note_says_change_in_progress() -> None:
    assert "变更中" in note_text("institution matches a pending change")


def test_status_note_names_the_status() -> None:
    assert "暂停执业" in note_text("registration status is suspended (暂停执业)")


def test_moved_note_names_the_new_certificate() -> None:
    text = note_text("the registration moved to province 44 as certificate 440000000000009")
    assert ("广东省" in text, "440000000000009" in text) == (True, True)


def test_unknown_note_is_shown_as_it_is() -> None:
    assert note_text("something new") == "something new"


ANSWER: dict[str, Any] = {
    "verdict": "mismatch",
    "cert_no": CERT,
    "fields": {"name": "match", "category": "mismatch"},
    "notes": [],
    "explanation": None,
}


def test_mismatched_field_is_marked_by_word_and_icon() -> None:
    view = verdict_view(ANSWER, values(cert_no=CERT, name="张伟", category="dental"))
    row = next(r for r in view.rows if r.name == "category")
    assert (row.result_label, row.icon, row.presented) == ("不一致", "✗", "口腔")


def test_verdict_title_is_plain_chinese() -> None:
    assert verdict_view(ANSWER, values(cert_no=CERT, name="张伟")).title == "不一致"


def test_in_transit_explanation_links_to_the_waiting_page_instead_of_reloading() -> None:
    answer = {
        **ANSWER,
        "verdict": "not_found",
        "fields": {},
        "explanation": {
            "visible": False,
            "state": "in_transit",
            "province": "50",
            "eta_seconds": 2,
        },
    }
    explanation = verdict_view(answer, values(cert_no=CERT, name="张伟")).explanation
    assert explanation is not None
    assert (explanation.waiting, explanation.link and explanation.link.href) == (
        False,
        f"/physicians/{CERT}",
    )
