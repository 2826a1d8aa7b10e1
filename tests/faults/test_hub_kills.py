"""The hub SIGKILLed at random moments during ingest, restarted each time with its command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.harness import SCALES, FaultRun, ResultRow, Scale, play


async def _kill_hub(run: FaultRun) -> None:
    stack = run.fed.stack
    await run.kill_cycles(["hub"], stack.kill, stack.restart, down=(0.2, 2.0), measure_each=False)


@pytest.mark.parametrize("scale", SCALES)
async def test_hub_killed_loses_and_duplicates_nothing(
    scale: Scale, tmp_path: Path, fault_results: Callable[[ResultRow], None]
) -> None:
    how = "SIGKILL, down 0.2-2 s, restarted"
    verdict = await play(
        tmp_path, scale, "hub SIGKILLed during ingest", _kill_hub, fault_results, how=how
    )
    assert verdict.clean, verdict.summary()
