"""The Explainer's answers as models: what they send and what they leave out."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest
from hubkit import HubEnv, cert, make_event, signed

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch, Raw
from national_hub.store.schema import RECORDS_DDL
from national_hub.store.store import Store
from national_hub.sync.explain import Evidence, Explainer, Explanation
from national_hub.web.params import answer_body
from schemas.samples import sample_record
from schemas.vocab import ExplanationState, Status
from tests.national_hub.records import insert_record

EVIDENCE = Evidence(
    event_seq=None,
    hub_applied_seq=None,
    province_committed_seq=None,
    province_published_seq=None,
    consumer_lag_messages=None,
    outbox_backlog=None,
    last_heartbeat_at=None,
)


@pytest.fixture
def store(hub_env: HubEnv) -> Iterator[Store]:
    s = Store.open(hub_env.db)
    yield s
    s.close()


def test_an_explanation_leaves_out_the_members_of_other_states() -> None:
    explanation = Explanation(
        visible=False,
        state=ExplanationState.UNKNOWN_TO_PROVINCE,
        reason="r",
        province=None,
        eta_seconds=None,
        evidence=EVIDENCE,
    )
    assert list(answer_body(explanation)) == [
        "visible",
        "state",
        "reason",
        "province",
        "eta_seconds",
        "evidence",
    ]


def test_an_explanation_sends_a_member_of_its_state() -> None:
    explanation = Explanation(
        visible=False,
        state=ExplanationState.PROVINCE_UNREACHABLE,
        reason="r",
        province=None,
        eta_seconds=None,
        evidence=EVIDENCE,
        unreachable=["44"],
    )
    assert answer_body(explanation)["unreachable"] == ["44"]


async def test_bytes_on_a_topic_of_no_province_are_explained_as_nobodys(
    hub_env: HubEnv, store: Store
) -> None:
    # "77" is two digits, so the hub reads the topic, but no province can sign for it: what
    # came on it is unknown to every province, not a refusal to explain.
    c = cert("50", 1)
    message = signed(hub_env, make_event(hub_env, "registered", "50", c, 1))
    raw = Raw(f"{hub_env.prefix}.events.77", 0, 0, message.key, message.value, message.headers)
    batch = Batch()
    batch.extend([Decoder(DecoderSpec.from_settings(hub_env.settings())).decode(raw)])
    store.apply_batch(batch)
    got = await Explainer(store, hub_env.settings()).cert(c)
    assert (got.state, got.province) == (ExplanationState.UNKNOWN_TO_PROVINCE, None)


async def test_a_transfer_out_without_a_target_names_none(hub_env: HubEnv) -> None:
    c = cert("50", 2)
    hub_env.db.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(hub_env.db)) as con:
        con.execute(RECORDS_DDL)
        insert_record(con, "50", sample_record(cert_no=c, status=Status.TRANSFERRED_OUT))
    store = Store.open(hub_env.db)
    try:
        got = await Explainer(store, hub_env.settings()).cert(c)
    finally:
        store.close()
    assert (got.state, "transferred_to" in answer_body(got)) == (
        ExplanationState.TRANSFERRED,
        False,
    )
