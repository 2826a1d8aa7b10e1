"""`national-hub serve`, `rebuild`, `snapshot`, `restore`, `check-receipt`, `institutions` and
`notify`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import json
import logging
import signal
import ssl
import sys
import time
import urllib.request
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiohttp import web
from pydantic import TypeAdapter, ValidationError
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from national_hub.config import HubSettings
from national_hub.errors import IngestError
from national_hub.ingest.ingestor import Ingestor, measure_offsets
from national_hub.ingest.seeding import seed_index_if_new
from national_hub.notify.institutions import InstitutionError, Institutions
from national_hub.notify.metrics import serve_metrics
from national_hub.notify.notifier import Notifier
from national_hub.notify.schema import connect
from national_hub.query.receipts import (
    VERDICT_LABELS,
    MalformedReceipt,
    ReceiptCheck,
    ReceiptKeySet,
    ReceiptSigner,
    beijing_time,
    check_receipt,
    fingerprint_groups,
    key_fingerprint,
    parse_receipt_text,
    receipt_facts,
)
from national_hub.store import reads
from national_hub.store.store import Store
from national_hub.web.app import open_index
from schemas.errors import KeyFileError, RegsyncError
from schemas.record import OrgCode
from schemas.signing import Verifier
from schemas.timestamps import format_utc
from schemas.vocab import STATUS_LABELS, Status

log = logging.getLogger("national_hub")

EXIT_CONFIG = 2
# check-receipt: 0 genuine, 1 not genuine, 2 (EXIT_CONFIG) the input or the key could not be read.
EXIT_NOT_GENUINE = 1
# The hub's key document is small; a hub that does not answer within this is reported, not awaited.
HUB_KEY_TIMEOUT_S = 10.0
HUB_KEY_PATH = "/.well-known/regsync/hub-key"
_STATUS_CODES = frozenset(s.value for s in Status)
_ORG_CODE: TypeAdapter[str] = TypeAdapter(OrgCode)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiokafka logs every transient connection problem at ERROR; the ingest loop reports
    # those itself, once, with what it does about them.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _fail(message: str) -> int:
    print(f"national-hub: error: {message}", file=sys.stderr)
    return EXIT_CONFIG


def _replica_settings(args: argparse.Namespace) -> HubSettings:
    """The federation file's hub settings, with this process's --listen/--db/--index."""
    settings = HubSettings.load(args.config)
    if args.listen is None and args.db is None and args.index is None:
        return settings
    return settings.replica(
        listen=args.listen,
        db=None if args.db is None else Path(args.db),
        index=None if args.index is None else Path(args.index),
    )


async def _serve(
    app: web.Application, settings: HubSettings, ssl_context: ssl.SSLContext | None
) -> None:
    """Serve until SIGINT/SIGTERM, then drain: answer /readyz not ready for drain_s while
    still serving (the load balancer's health check takes this replica out), stop listening,
    and let in-flight requests finish. A second signal cuts the wait short."""
    from national_hub.web.appkeys import DRAINING

    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(
            runner,
            settings.host,
            settings.port,
            ssl_context=ssl_context,
            reuse_address=True,
        )
        await site.start()
        scheme = "https" if ssl_context else "http"
        print(
            f"national-hub: serving on {scheme}://{settings.host}:{settings.port} "
            f"(store {settings.db_path}, {len(settings.provinces)} provinces)",
            flush=True,
        )
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        stop.clear()
        drain_s = settings.tuning.web.drain_s
        log.info("stopping: not ready for %.1fs, then finishing requests in flight", drain_s)
        app[DRAINING].set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), drain_s)
    finally:
        await runner.cleanup()


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the hub until SIGINT/SIGTERM."""
    from national_hub.web.app import create_app

    settings = _replica_settings(args)
    ssl_context = settings.server_ssl_context()
    if args.from_snapshot:
        # Laid down before anything opens the files; ingest then resumes from their offsets.
        _restore(settings, Path(args.from_snapshot), force=args.force, quiet=True)
    app = create_app(settings)
    asyncio.run(_serve(app, settings, ssl_context))
    return 0


def _restore(settings: HubSettings, path: Path, *, force: bool, quiet: bool) -> None:
    from national_hub.snapshot import command
    from national_hub.snapshot.restore import Target

    target = Target(settings.db_path, settings.serving_index_path)
    manifest = command.lay_down(path, target, force, quiet)
    print(
        f"national-hub: restored {manifest.records()} records from {path} "
        f"(taken {format_utc(manifest.created_at)}) into {settings.db_path}",
        flush=True,
    )


def cmd_restore(args: argparse.Namespace) -> int:
    """Lay a snapshot down as this hub's store and index (the hub must not be running)."""
    _restore(_replica_settings(args), Path(args.snapshot), force=args.force, quiet=args.quiet)
    return 0


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Write a verified snapshot of the hub's store and index: by the running hub through
    POST /v1/ops/snapshot, or, when no hub answers at its address, from the files directly.
    With --hub URL only that hub is asked: it must answer."""
    from national_hub.snapshot import command
    from national_hub.snapshot.client import HubNotRunning, SnapshotClient, hub_url, named_hub_url

    if args.hub and args.listen:
        return _fail("--hub and --listen both name the hub to ask; give one")
    settings = _replica_settings(args)
    out = Path(args.out).resolve()
    if out.exists():
        return _fail(f"{out} exists already; name a new file")
    url = named_hub_url(args.hub) if args.hub else hub_url(settings)
    client = SnapshotClient(url, command.ops_token(args), settings.tls_certfile)
    try:
        state = command.via_hub(client, out, args.quiet)
        how = f"by the running hub at {url}"
    except HubNotRunning:
        if args.hub:
            # The operator chose a replica: copying the federation file's hub.db (another
            # replica's, or none) instead would snapshot something else.
            raise
        tuning = settings.tuning.store
        state = command.directly(
            functools.partial(
                Store.open,
                settings.db_path,
                memory_limit=tuning.memory_limit,
                heartbeat_flush_s=tuning.heartbeat_flush_s,
            ),
            functools.partial(open_index, settings),
            out,
            args.quiet,
        )
        how = "from the files (no hub running)"
    size = out.stat().st_size
    print(
        f"national-hub: snapshot {out} written {how}: {state['records']} records, "
        f"{size / 1e6:,.1f} MB in {state['seconds']:.1f}s, verified",
        flush=True,
    )
    return 0


def _bar(label: str, quiet: bool) -> Progress:
    """A progress bar of the rebuild's steps (none with --quiet)."""
    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=quiet,
    )


def _bulk_fetches(settings: HubSettings) -> HubSettings:
    """The settings with Kafka fetches as large as they were before partition_fetch_bytes and
    fetch_max_bytes were lowered for freshness: a rebuild serves no reads, so nothing waits
    behind its prefetch, and larger fetches cost less CPU per event."""
    ingest = settings.tuning.ingest.model_copy(
        update={"partition_fetch_bytes": 4 * 1024 * 1024, "fetch_max_bytes": 64 * 1024 * 1024}
    )
    tuning = settings.tuning.model_copy(update={"ingest": ingest})
    return dataclasses.replace(settings, tuning=tuning)


async def _rebuild(settings: HubSettings, quiet: bool) -> int:
    """Reset the store and replay every topic up to its end offset now."""
    loop = asyncio.get_running_loop()
    # Opened first: a running hub holds the file, and that should stop us before anything.
    tuning = settings.tuning.store
    store = await loop.run_in_executor(
        None,
        functools.partial(
            Store.open,
            settings.db_path,
            memory_limit=tuning.memory_limit,
            heartbeat_flush_s=tuning.heartbeat_flush_s,
        ),
    )
    try:
        index = await loop.run_in_executor(None, open_index, settings)
    except BaseException:
        await loop.run_in_executor(None, store.close)
        raise
    try:
        try:
            ends = await measure_offsets(settings)
        except Exception as exc:
            raise IngestError(
                f"cannot read topic offsets from Kafka at {settings.kafka.bootstrap}: {exc}"
            ) from None
        total = sum(max(0, end - begin) for begin, end in ends.values())
        # Both sinks of the log start again from nothing (national_hub.ingest.sinks). The
        # topics are replayed into the store alone, then the index is copied from it in bulk
        # (indexes built once at the end): at 5,000,000 records, replaying into both took
        # 1,288 s (3,881 events/s, the index's random B-tree inserts on the apply's critical
        # path) where the store alone took 660 s and the copy ~200 s
        # (bench/results/national_reads_5m.json, rebuild_5m_memory_limit.json, seed_index_1m.json).
        await loop.run_in_executor(None, store.reset)
        await loop.run_in_executor(None, index.reset)
        ingestor = Ingestor(_bulk_fetches(settings), store)
        t0 = time.monotonic()
        progress = _bar("rebuild", quiet)

        def done() -> int:
            stored = store.offsets()
            return sum(
                max(0, min(stored.get(tp, begin), end) - begin) for tp, (begin, end) in ends.items()
            )

        await ingestor.start()
        try:
            with progress:
                task = progress.add_task("replay", total=total)
                while True:
                    n = done()
                    progress.update(task, completed=n)
                    if n >= total:
                        break
                    if ingestor.last_error:
                        progress.console.print(f"[yellow]waiting: {ingestor.last_error}")
                    await asyncio.sleep(0.2)
        finally:
            await ingestor.stop()
        with _bar("index", quiet) as copying:
            task = copying.add_task("copy", total=None)

            def copied(n: int, of: int) -> None:
                copying.update(task, completed=n, total=of)

            await loop.run_in_executor(None, seed_index_if_new, store, index, copied)
        elapsed = time.monotonic() - t0
        n_records = await reads.record_count(store)
        rate = total / elapsed if elapsed > 0 else 0.0
        print(
            f"national-hub: rebuilt {n_records} records from {total} messages in "
            f"{elapsed:.1f}s ({rate:,.0f} msg/s)",
            flush=True,
        )
    finally:
        await loop.run_in_executor(None, index.close)
        await loop.run_in_executor(None, store.close)
    return 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    """Drop the store's tables and replay every topic from offset 0 up to today's end."""
    settings = HubSettings.load(args.config)
    return asyncio.run(_rebuild(settings, args.quiet))


def _hub_key_set(url: str) -> ReceiptKeySet:
    """The key set the hub at url publishes (GET /.well-known/regsync/hub-key)."""
    target = url.rstrip("/") + HUB_KEY_PATH
    if not target.startswith(("http://", "https://")):
        raise KeyFileError(f"--hub must be an http:// or https:// URL, not {url!r}")
    try:
        with urllib.request.urlopen(target, timeout=HUB_KEY_TIMEOUT_S) as answer:
            document = json.loads(answer.read())
    except OSError as exc:
        raise KeyFileError(f"cannot fetch the hub's key from {target}: {exc}") from None
    except ValueError:
        raise KeyFileError(f"{target} did not answer the hub's key document (JSON)") from None
    try:
        return ReceiptKeySet.from_document(document)
    except KeyFileError as exc:
        raise KeyFileError(f"{target}: {exc}") from None


def _key_set(args: argparse.Namespace) -> ReceiptKeySet:
    """The keys to check against, from --key, --hub or --config (exactly one is given)."""
    if args.key:
        return ReceiptKeySet.single(Verifier.load(Path(args.key)).public_pem)
    if args.hub:
        return _hub_key_set(args.hub)
    return ReceiptSigner.from_settings(HubSettings.load(args.config)).key_set


def _read_input(name: str) -> str:
    """The receipt's text from FILE or stdin; a file that is no UTF-8 text is no receipt."""
    try:
        if name == "-":
            return sys.stdin.read()
        return Path(name).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        where = "stdin" if name == "-" else name
        raise MalformedReceipt("shape", f"{where} is not UTF-8 text: not a receipt") from None


def _check_head(receipt: Mapping[str, str], check: ReceiptCheck, keys: ReceiptKeySet) -> str:
    """check-receipt's first line: the verdict on the signature and the key that decided it."""
    key = check.key
    if check.outcome == "unknown_key":
        known = ", ".join(k.kid for k in keys.keys)
        kid = receipt.get("kid")
        return f"NOT genuine: signed with key {kid}, not one of this hub's keys ({known})"
    assert key is not None  # every other outcome names the key the kid chose
    if check.outcome == "forged":
        return "NOT genuine: the signature does not match (the receipt was altered or forged)"
    retired = format_utc(key.retired_at) if key.retired_at else "-"
    if check.outcome == "after_retirement":
        return (
            f"NOT genuine: key {key.kid} was retired at {retired}, "
            "but the receipt is dated after that"
        )
    if key.status == "retired":
        return f"genuine: signed by the national hub's retired key {key.kid} (retired {retired})"
    return f"genuine: signed by the national hub's current key {key.kid}"


def _report_lines(
    receipt: Mapping[str, str], check: ReceiptCheck, keys: ReceiptKeySet
) -> list[str]:
    """What check-receipt prints: the verdict on the signature, then what the receipt says."""
    facts = receipt_facts(receipt)
    genuine = check.genuine
    head = _check_head(receipt, check, keys)
    status = facts.status
    if status is not None and status in _STATUS_CODES:
        status = f"{status} ({STATUS_LABELS[Status(status)]})"
    verdict = facts.verdict
    if verdict in VERDICT_LABELS:
        verdict = f"{verdict} ({VERDICT_LABELS[verdict]})"
    as_of = "-"
    if facts.as_of is not None:
        as_of = f"{format_utc(facts.as_of)} (Beijing time {beijing_time(facts.as_of)})"
    claims = "it certifies" if genuine else "it claims (not to be trusted)"
    # The fingerprint of the key the receipt's kid chose, else of the hub's current key.
    shown = check.key or keys.current
    return [
        head,
        f"{claims}:",
        f"  verdict          {verdict or '-'}",
        f"  cert_no          {facts.cert_no or '-'}",
        f"  record_version   {facts.record_version if facts.record_version is not None else '-'}",
        f"  status           {status or '-'}",
        f"  as_of            {as_of}",
        f"  kid              {receipt.get('kid')}",
        f"  key fingerprint  {' '.join(fingerprint_groups(key_fingerprint(shown.public_pem)))}",
    ]


def cmd_check_receipt(args: argparse.Namespace) -> int:
    """Check a receipt's Ed25519 signature against the hub's key its kid names."""
    receipt = parse_receipt_text(_read_input(args.file))
    keys = _key_set(args)
    check = check_receipt(receipt, keys)
    print("\n".join(_report_lines(receipt, check, keys)), flush=True)
    return 0 if check.genuine else EXIT_NOT_GENUINE


def _institutions(args: argparse.Namespace) -> Institutions:
    settings = HubSettings.load(args.config)
    return Institutions(connect(settings.notify_store_path))


def _org_code(raw: str) -> str:
    try:
        return str(_ORG_CODE.validate_python(raw))
    except ValidationError as exc:
        raise InstitutionError(f"--org-code {raw!r}: {exc.errors()[0]['msg']}") from None


def cmd_institutions(args: argparse.Namespace) -> int:
    """Issue, list and revoke institutions' API keys (employer monitoring, CONTRACT §7)."""
    institutions = _institutions(args)
    if args.action == "add":
        if not args.org_code or not args.name:
            return _fail("institutions add needs --org-code and --name")
        key = institutions.add(_org_code(args.org_code), args.name.strip())
        # The one time the key is shown: only its sha256 is stored.
        print(key)
        print("(shown once; the hub keeps only its sha256)", file=sys.stderr)
    elif args.action == "revoke":
        if not args.org_code:
            return _fail("institutions revoke needs --org-code")
        institutions.revoke(_org_code(args.org_code))
    else:
        for inst in institutions.every():
            state = "revoked " + _utc(inst.revoked_at) if inst.revoked_at else "in force"
            print(f"{inst.org_code}\t{inst.name}\t{_utc(inst.created_at)}\t{state}")
    return 0


def _utc(ts: float) -> str:
    return format_utc(datetime.fromtimestamp(ts, UTC))


def cmd_notify(args: argparse.Namespace) -> int:
    """Run a notifier until SIGINT/SIGTERM: active if it holds the lease, else standby."""
    settings = HubSettings.load(args.config)
    listen = None
    if args.metrics_listen:
        host, _, port = args.metrics_listen.rpartition(":")
        if not host or not port.isdigit():
            return _fail(f"--metrics-listen {args.metrics_listen!r}: use HOST:PORT")
        listen = (host, int(port))

    async def run() -> None:
        notifier = Notifier(settings)
        runner = None if listen is None else await serve_metrics(notifier.metrics, *listen)
        task = asyncio.create_task(notifier.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            if runner is not None:
                await runner.cleanup()

    asyncio.run(run())
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The command-line grammar."""
    parser = argparse.ArgumentParser(prog="national-hub", description="regsync national hub")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the hub: ingest and HTTP API")
    serve.add_argument("--config", required=True, help="federation TOML file")
    # Several replicas on one federation file (issue 16): each its own address and store.
    serve.add_argument("--listen", metavar="HOST:PORT", help="instead of hub.listen")
    serve.add_argument("--db", metavar="FILE", help="this replica's DuckDB file, instead of hub.db")
    serve.add_argument(
        "--index", metavar="FILE", help="its serving index (default: beside --db, else hub.index)"
    )
    serve.add_argument(
        "--from-snapshot",
        metavar="FILE",
        help="first lay this snapshot down as the store and index, then serve and catch up",
    )
    serve.add_argument(
        "--force", action="store_true", help="with --from-snapshot: replace a store holding data"
    )
    serve.set_defaults(func=cmd_serve)
    from national_hub.snapshot.command import add_parsers

    snap, restore = add_parsers(sub)
    snap.set_defaults(func=cmd_snapshot)
    restore.set_defaults(func=cmd_restore)
    rebuild = sub.add_parser(
        "rebuild",
        help="drop the hub's store and serving index and replay every province topic from the "
        "start",
    )
    rebuild.add_argument("--config", required=True, help="federation TOML file")
    rebuild.add_argument("--quiet", action="store_true", help="no progress bar")
    rebuild.set_defaults(func=cmd_rebuild)
    check = sub.add_parser(
        "check-receipt",
        help="check a verification receipt's signature: exit 0 genuine, 1 not genuine, 2 error",
    )
    check.add_argument(
        "file", metavar="FILE", help="the receipt as JSON or its token (/receipt?r=); - for stdin"
    )
    key = check.add_mutually_exclusive_group(required=True)
    key.add_argument("--key", metavar="PEM_FILE", help="the hub's public key (PEM)")
    key.add_argument("--hub", metavar="URL", help="fetch the key set from the hub at URL")
    key.add_argument(
        "--config", metavar="FILE", help="the hub's federation TOML (its current and retired keys)"
    )
    check.set_defaults(func=cmd_check_receipt)
    inst = sub.add_parser(
        "institutions", help="issue (add), list or revoke institutions' monitoring API keys"
    )
    inst.add_argument("action", choices=("add", "list", "revoke"))
    inst.add_argument("--config", required=True, help="federation TOML file")
    inst.add_argument("--org-code", help="the institution's unified social credit code")
    inst.add_argument("--name", help="the institution's name (add)")
    inst.set_defaults(func=cmd_institutions)
    notify = sub.add_parser(
        "notify",
        help="derive employer notifications and deliver webhooks (one active, others standby)",
    )
    notify.add_argument("--config", required=True, help="federation TOML file")
    notify.add_argument(
        "--metrics-listen", metavar="HOST:PORT", help="serve Prometheus metrics at /metrics"
    )
    notify.set_defaults(func=cmd_notify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `national-hub` console script."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        code: int = args.func(args)
    except RegsyncError as exc:
        return _fail(str(exc))
    except OSError as exc:
        # e.g. the listen port is taken: one line, not a traceback.
        return _fail(str(exc))
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
