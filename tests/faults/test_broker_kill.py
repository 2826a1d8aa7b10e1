"""One broker of a 3-broker cluster SIGKILLed during sustained writes, restarted later."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.harness import SCALES, FaultRun, ResultRow, Scale, play, three_brokers


@pytest.mark.parametrize("scale", SCALES)
async def test_broker_killed_loses_and_duplicates_nothing(
    scale: Scale, tmp_path: Path, fault_results: Callable[[ResultRow], None]
) -> None:
    with three_brokers(tmp_path / "kafka") as cluster:

        async def kill_brokers(run: FaultRun) -> None:
            await run.kill_cycles(
                ["broker-1", "broker-2", "broker-3"],
                lambda b: cluster.kill(int(b[-1])),
                lambda b: cluster.restart(int(b[-1])),
                down=(scale.broker_down_s, scale.broker_down_s),
                count=scale.broker_kills,
            )

        verdict = await play(
            tmp_path / "stack",
            scale,
            "3-broker cluster, one broker SIGKILLed",
            kill_brokers,
            fault_results,
            how=f"SIGKILL, down {scale.broker_down_s:g} s, then restarted",
            bootstrap=cluster.bootstrap,
            replication_factor=3,
        )
    assert verdict.clean, verdict.summary()
