"""A province node SIGKILLed during writes, restarted each time; writes to it fail meanwhile."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.harness import PROVINCES, SCALES, FaultRun, ResultRow, Scale, play


async def _kill_nodes(run: FaultRun) -> None:
    stack = run.fed.stack
    nodes = [f"province-{code}" for code in PROVINCES]
    await run.kill_cycles(nodes, stack.kill, stack.restart, down=(0.5, 3.0), measure_each=False)


@pytest.mark.parametrize("scale", SCALES)
async def test_node_killed_loses_and_duplicates_nothing(
    scale: Scale, tmp_path: Path, fault_results: Callable[[ResultRow], None]
) -> None:
    scenario = "province node SIGKILLed during writes"
    how = "SIGKILL, down 0.5-3 s, restarted"
    verdict = await play(tmp_path, scale, scenario, _kill_nodes, fault_results, how=how)
    assert verdict.clean, verdict.summary()
