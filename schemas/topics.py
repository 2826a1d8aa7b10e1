"""Kafka topic names: `<prefix>.events.<province>` carries a province's events (the node
produces to it, the hub reads the province back from the name) and `<prefix>.heartbeats` every
province's heartbeats.
"""

from __future__ import annotations

import re

_EVENTS = ".events."
_DIGITS = frozenset("0123456789")


def events_topic(prefix: str, province: str) -> str:
    """The topic of a province's events, e.g. "regsync.events.50"."""
    return f"{prefix}{_EVENTS}{province}"


def events_topic_province(prefix: str, topic: str) -> str | None:
    """The province code (two ASCII digits) of an events topic under `prefix`, else None."""
    head = f"{prefix}{_EVENTS}"
    if not topic.startswith(head):
        return None
    code = topic[len(head) :]
    return code if len(code) == 2 and _DIGITS.issuperset(code) else None


def events_topic_pattern(prefix: str) -> str:
    """A regular expression matching every province's events topic under `prefix`."""
    return "^" + re.escape(f"{prefix}{_EVENTS}") + r"[0-9]{2}\Z"


def heartbeats_topic(prefix: str) -> str:
    """The topic every province's heartbeats go to."""
    return f"{prefix}.heartbeats"
