"""`national-hub check-receipt`: genuine 0, not genuine 1, unreadable input or key 2."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from hubkit import HubEnv

from national_hub.cli import main
from national_hub.query.receipts import (
    ReceiptSigner,
    encode_token,
    fingerprint_groups,
    key_fingerprint,
    receipt_payload,
)
from schemas.signing import Signer, generate_keypair


@pytest.fixture
def signer(hub_env: HubEnv) -> ReceiptSigner:
    """The hub's own receipt signer (its key is keys/hub.key of the federation)."""
    return ReceiptSigner(hub_env.settings().signer)


@pytest.fixture
def key_file(hub_env: HubEnv) -> Path:
    return hub_env.root / "keys" / "hub.pub"


@pytest.fixture
def receipt(signer: ReceiptSigner) -> dict[str, str]:
    return signer.sign(receipt_payload("consistent", "500000000000001", 4, status="active"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "receipt.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_genuine_receipt_exits_0(tmp_path: Path, key_file: Path, receipt: dict[str, str]) -> None:
    path = write(tmp_path, json.dumps(receipt))
    assert main(["check-receipt", str(path), "--key", str(key_file)]) == 0


def test_genuine_report_names_the_facts_and_fingerprint(
    tmp_path: Path, key_file: Path, receipt: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    main(["check-receipt", str(write(tmp_path, json.dumps(receipt))), "--key", str(key_file)])
    out = capsys.readouterr().out
    fingerprint = " ".join(fingerprint_groups(key_fingerprint(key_file.read_text())))
    assert out.startswith("genuine:")
    assert all(part in out for part in ("500000000000001", "active (正常)", "一致", fingerprint))


def test_token_is_read_like_json(tmp_path: Path, key_file: Path, receipt: dict[str, str]) -> None:
    path = write(tmp_path, encode_token(receipt) + "\n")
    assert main(["check-receipt", str(path), "--key", str(key_file)]) == 0


def test_stdin_is_read_for_dash(
    key_file: Path, receipt: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(receipt)))
    assert main(["check-receipt", "-", "--key", str(key_file)]) == 0


def test_altered_receipt_exits_1(
    tmp_path: Path, key_file: Path, receipt: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    altered = {
        **receipt,
        "payload": receipt["payload"].replace('"record_version":4', '"record_version":5'),
    }
    assert altered != receipt
    assert (
        main(["check-receipt", str(write(tmp_path, json.dumps(altered))), "--key", str(key_file)])
        == 1
    )
    assert capsys.readouterr().out.startswith("NOT genuine:")


def test_receipt_of_another_key_exits_1(tmp_path: Path, key_file: Path) -> None:
    other = ReceiptSigner(Signer.load(generate_keypair()[0]))
    forged = other.sign(receipt_payload("consistent", "500000000000001", 4, status="active"))
    path = write(tmp_path, json.dumps(forged))
    assert main(["check-receipt", str(path), "--key", str(key_file)]) == 1


@pytest.mark.parametrize(
    "text",
    ["", "not a receipt", '{"payload": "{}"}', "abc.def.ghi"],
    ids=["empty", "words", "json-missing-members", "bad-token"],
)
def test_malformed_input_exits_2_in_one_line(
    tmp_path: Path, key_file: Path, text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check-receipt", str(write(tmp_path, text)), "--key", str(key_file)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("national-hub: error: ")


def test_binary_file_exits_2(tmp_path: Path, key_file: Path) -> None:
    path = tmp_path / "receipt.bin"
    path.write_bytes(b"\xff\xfe\x00receipt")
    assert main(["check-receipt", str(path), "--key", str(key_file)]) == 2


def test_missing_file_exits_2(tmp_path: Path, key_file: Path) -> None:
    assert main(["check-receipt", str(tmp_path / "none.json"), "--key", str(key_file)]) == 2


def test_unreadable_key_exits_2(tmp_path: Path, receipt: dict[str, str]) -> None:
    path = write(tmp_path, json.dumps(receipt))
    assert main(["check-receipt", str(path), "--key", str(tmp_path / "none.pub")]) == 2


def test_no_key_source_is_a_usage_error(tmp_path: Path, receipt: dict[str, str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["check-receipt", str(write(tmp_path, json.dumps(receipt)))])
    assert exited.value.code == 2


def test_config_gives_the_hubs_own_key(
    tmp_path: Path, hub_env: HubEnv, receipt: dict[str, str]
) -> None:
    path = write(tmp_path, json.dumps(receipt))
    assert main(["check-receipt", str(path), "--config", str(hub_env.config)]) == 0


@pytest.fixture
def key_server(key_file: Path, signer: ReceiptSigner) -> Iterator[str]:
    """An HTTP server answering GET /.well-known/regsync/hub-key as the hub does."""
    body = json.dumps(signer.hub_key_document()).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/.well-known/regsync/hub-key"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body if found else b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_hub_url_gives_its_published_key(
    tmp_path: Path, key_server: str, receipt: dict[str, str]
) -> None:
    path = write(tmp_path, json.dumps(receipt))
    assert main(["check-receipt", str(path), "--hub", key_server]) == 0


def test_unreachable_hub_exits_2(tmp_path: Path, receipt: dict[str, str]) -> None:
    path = write(tmp_path, json.dumps(receipt))
    assert main(["check-receipt", str(path), "--hub", "http://127.0.0.1:1"]) == 2
