"""The watch answers document what the notifier sends."""

from __future__ import annotations

from typing import get_args

from national_hub.notify.kinds import KINDS
from national_hub.web.answers import NotificationKind


def test_the_answer_model_documents_every_kind() -> None:
    assert set(get_args(NotificationKind)) == set(KINDS)
