"""Files that hold ID numbers are the owner's alone (issue 12, finding 12).

The registry (with its WAL and shared-memory files), `generate`'s output and `import`'s rejects
are created 0600 whatever the umask; the test runs under the common 022.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from nodekit import FedEnv, write_federation

from province_node.cli import main
from province_node.registry import Store


@pytest.fixture
def env(tmp_path: Path) -> FedEnv:
    return write_federation(tmp_path, "127.0.0.1:1", "unused")


@pytest.fixture(autouse=True)
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.parametrize("name", ["demo.jsonl", "demo.csv"])
def test_generate_import_and_the_registry_are_private(
    env: FedEnv, tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    common = ["--config", str(env.config), "--province", "50"]
    assert main(["generate", *common, "--records", "5", "--out", str(out)]) == 0
    if out.suffix == ".jsonl":
        # One row the importer refuses, so there are rejects to keep.
        with out.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"cert_no": "1"}) + "\n")
    assert main(["import", *common, str(out)]) == 0
    settings = env.settings()
    db = settings.db_path
    # While a node runs, the registry's -wal and -shm files exist beside it.
    store = Store(db, "50", settings.load_signer(), settings.load_secret())
    store.open()
    try:
        companions = [p for p in db.parent.iterdir() if p.name.startswith(db.name + "-")]
        written = [out, out.with_name(out.name + ".rejects.jsonl"), db, *companions]
        assert {p.name: _mode(p) for p in written} == {p.name: "0o600" for p in written}
    finally:
        store.close()
    assert {p.name[len(db.name) :] for p in companions} == {"-wal", "-shm"}
