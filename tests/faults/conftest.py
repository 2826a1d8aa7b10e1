"""The fault matrix: full-size runs only on request (-m faults), and one result row per run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.harness import ResultRow

_ROWS = pytest.StashKey[list[ResultRow]]()
RESULTS_FILE = "fault-results.jsonl"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a -m expression, leave out the full-size fault runs (the reduced ones stay)."""
    if config.option.markexpr:
        return
    full = [item for item in items if item.get_closest_marker("faults") is not None]
    if full:
        config.hook.pytest_deselected(items=full)
        items[:] = [item for item in items if item.get_closest_marker("faults") is None]


_PATH = pytest.StashKey[Path]()


@pytest.fixture
def fault_results(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[ResultRow], None]:
    """Record a scenario's row: appended to <pytest tmp>/fault-results.jsonl and printed."""
    config = request.config
    path = config.stash[_PATH] = tmp_path_factory.getbasetemp() / RESULTS_FILE

    def record(row: ResultRow) -> None:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(row.as_json() + "\n")
        config.stash.setdefault(_ROWS, []).append(row)
        print(row.as_json())

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The matrix rows of this run, at the end of the report."""
    rows = terminalreporter.config.stash.get(_ROWS, [])
    if not rows:
        return
    terminalreporter.section("fault matrix")
    for row in rows:
        terminalreporter.write_line(row.as_json())
    terminalreporter.write_line(f"(also in {terminalreporter.config.stash[_PATH]})")
