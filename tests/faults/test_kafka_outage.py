"""Kafka entirely down (its only broker SIGKILLed) during writes, back after the outage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.harness import SCALES, FaultRun, ResultRow, Scale, play


@pytest.mark.parametrize("scale", SCALES)
async def test_kafka_outage_loses_and_duplicates_nothing(
    scale: Scale, tmp_path: Path, fault_results: Callable[[ResultRow], None]
) -> None:
    async def outage(run: FaultRun) -> None:
        kafka = run.fed.stack.kafka
        await run.kill_cycles(
            ["kafka"],
            lambda _: kafka.kill(1),
            lambda _: kafka.start(),
            down=(scale.outage_s, scale.outage_s),
            count=1,
        )

    how = f"SIGKILL, down {scale.outage_s:g} s"
    verdict = await play(tmp_path, scale, "Kafka entirely down", outage, fault_results, how=how)
    assert verdict.clean, verdict.summary()
