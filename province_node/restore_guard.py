"""At start: may this registry publish, or was it restored from a copy older than its topic?

A registry restored from an older backup would number its next change with a seq its topic
already holds: the hub would get two different events with one number. So before serving, the
node compares its last committed seq with the highest seq on its topic and refuses to run when
the registry is behind (`province-node recover` brings it forward).

When Kafka does not answer at start:
- a registry stamped by `backup` (a restored copy) refuses to start: it is exactly the case
  that needs the check, and nothing about it can be known without the topic;
- any other registry starts (a province keeps registering through a Kafka outage), but its
  relay checks the topic before it publishes anything, and publishes nothing while behind.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from province_node import outbox, recovery_store, topic_log
from province_node.config import NodeSettings
from province_node.errors import RegistryBehindTopic
from province_node.registry import connect


@dataclass(frozen=True, slots=True)
class Facts:
    """What the decision needs: the registry's end, the topic's end (None: unreadable)."""

    registry_seq: int
    topic_seq: int | None
    restored: bool
    topic: str
    kafka_error: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """Start or not; whether the relay must still check the topic; the one-line reason."""

    start: bool
    check_before_publish: bool
    message: str


def recover_command(settings: NodeSettings) -> str:
    """The command that mends a registry behind its topic."""
    return f"province-node recover --config {settings.source} --province {settings.province}"


def behind_message(registry_seq: int, topic_seq: int, topic: str, recover: str) -> str:
    """The one line an operator reads when the registry is behind its topic."""
    return (
        f"registry ends at seq {registry_seq} but topic {topic} already holds seq {topic_seq} "
        f"(restored from an older copy?); refusing to start so no seq is used twice: run "
        f"`{recover}`"
    )


def decide(facts: Facts, recover: str) -> Decision:
    """The start decision from the facts; pure."""
    if facts.topic_seq is None:
        if facts.restored:
            return Decision(
                False,
                True,
                f"registry was restored from a backup and Kafka does not answer "
                f"({facts.kafka_error}), so topic {facts.topic} cannot be checked; start it "
                f"again once Kafka answers, or run `{recover}` then",
            )
        return Decision(
            True,
            True,
            f"Kafka does not answer ({facts.kafka_error}); starting, but publishing waits "
            f"until topic {facts.topic} has been checked",
        )
    if facts.topic_seq > facts.registry_seq:
        return Decision(
            False,
            True,
            behind_message(facts.registry_seq, facts.topic_seq, facts.topic, recover),
        )
    return Decision(
        True,
        False,
        f"registry at seq {facts.registry_seq}, topic {facts.topic} at seq {facts.topic_seq}",
    )


def registry_position(db_path: Path) -> tuple[int, bool]:
    """(last committed seq, stamped as a restored backup); (0, False) for no registry yet."""
    if not db_path.is_file():
        return 0, False
    conn = connect(db_path, read_only=True)
    try:
        try:
            restored = recovery_store.meta_get(conn, recovery_store.RESTORED_FROM_BACKUP)
            return outbox.last_seq(conn), restored is not None
        except sqlite3.OperationalError:
            # A file the node has never opened has no tables yet: nothing committed.
            return 0, False
    finally:
        conn.close()


async def gather(settings: NodeSettings) -> Facts:
    """Read the registry's and the topic's ends."""
    registry_seq, restored = registry_position(settings.db_path)
    try:
        topic_seq: int | None = await topic_log.highest_seq(settings)
        error = None
    except topic_log.TopicUnreadable as exc:
        topic_seq, error = None, str(exc)
    return Facts(registry_seq, topic_seq, restored, settings.events_topic, error)


def clear_restored(db_path: Path) -> None:
    """The check passed: the registry is now this province's live registry, not a copy."""
    if not db_path.is_file():
        return
    conn = connect(db_path)
    try:
        recovery_store.meta_delete(conn, recovery_store.RESTORED_FROM_BACKUP)
    except sqlite3.OperationalError:
        pass
    finally:
        conn.close()


async def check_before_publish(settings: NodeSettings, registry_seq: int) -> None:
    """The relay's check when it could not be done at start; raises while the registry is behind."""
    topic_seq = await topic_log.highest_seq(settings)
    if topic_seq > registry_seq:
        raise RegistryBehindTopic(
            behind_message(
                registry_seq, topic_seq, settings.events_topic, recover_command(settings)
            )
        )
