"""`province-node`: serve, import, keygen, generate, backup, recover, reenter."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from province_node.config import NodeSettings
from province_node.errors import ImportFileError
from schemas.errors import KeyFileError, RegsyncError
from schemas.federation import ConfigError, load_federation
from schemas.signing import Signer, write_keypair

PROG = "province-node"
# Exit codes: 2 for a configuration problem (as argparse uses for bad arguments), 1 otherwise.
EXIT_CONFIG = 2
EXIT_FAILED = 1

log = logging.getLogger("province_node")


def _settings(config: str, province: str) -> NodeSettings:
    return NodeSettings.from_federation(load_federation(config), province)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiokafka logs every failed connection attempt at ERROR; while Kafka is down the node
    # reports that once itself, and the status endpoint carries the details.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the node's HTTP API, relay and heartbeat until SIGINT/SIGTERM."""
    from aiohttp import web

    from province_node.access_log import PathOnlyAccessLogger
    from province_node.web.app import create_app

    settings = _settings(args.config, args.province)
    _setup_logging(args.log_level)
    guarded = _restore_guard(settings)
    if guarded is None:
        return EXIT_FAILED
    settings = guarded
    ssl_context = settings.server_ssl_context()
    app = create_app(settings)
    scheme = "https" if ssl_context else "http"
    url = f"{scheme}://{settings.host}:{settings.port}"

    def announce(_: str) -> None:
        log.info(
            "province %s (%s) node listening on %s", settings.province, settings.province_name, url
        )

    try:
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            ssl_context=ssl_context,
            access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
            access_log_class=PathOnlyAccessLogger,
            print=announce,
            shutdown_timeout=10.0,
        )
    except OSError as exc:
        print(
            f"{PROG}: cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return 0


def _restore_guard(settings: NodeSettings) -> NodeSettings | None:
    """Compare the registry with its topic before serving; None when the node must not run."""
    import asyncio

    from province_node import restore_guard

    facts = asyncio.run(restore_guard.gather(settings))
    decision = restore_guard.decide(facts, restore_guard.recover_command(settings))
    if not decision.start:
        print(f"{PROG}: {decision.message}", file=sys.stderr)
        return None
    if decision.check_before_publish:
        log.warning("%s", decision.message)
        return settings.model_copy(update={"check_topic_before_publish": True})
    if facts.restored:
        # Checked against the topic: from now on this copy is the live registry.
        restore_guard.clear_restored(settings.db_path)
    log.info("%s", decision.message)
    return settings


def _progress(disable: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=disable,
    )


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the registry online (SQLite backup API), verified, to --out."""
    from province_node.backup import backup

    settings = _settings(args.config, args.province)
    with _progress(args.no_progress) as bar:
        task = bar.add_task("backing up (pages)", total=None)
        summary = backup(
            settings.db_path,
            Path(args.out),
            settings.province,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            overwrite=args.force,
        )
    rows = summary.rows
    print(
        f"backed up province {settings.province} to {summary.path}: seq 1..{summary.last_seq}, "
        f"{rows['registrations']} registrations, {rows['outbox']} events, "
        f"{summary.bytes / 1e6:.1f} MB in {summary.seconds:.1f} s; integrity_check ok, "
        f"row counts match"
    )
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    """Bring the registry forward from its own topic; list registrations to re-enter."""
    from province_node.recover import recover

    settings = _settings(args.config, args.province)
    with _progress(args.no_progress) as bar:
        tasks: dict[str, Any] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        summary = recover(
            settings,
            reentry_path=Path(args.reentry_out) if args.reentry_out else None,
            progress=progress,
        )
    print(
        f"recovered province {settings.province}: registry seq {summary.registry_seq_before} "
        f"-> {summary.registry_seq_after} (topic ends at seq {summary.topic_seq}); applied "
        f"{summary.applied} events, marked {summary.marked_published} older events published"
    )
    print(
        f"{len(summary.reentry)} registrations lack the ID number (it never left the province) "
        f"and must be re-entered: {summary.reentry_path}"
    )
    return 0


def cmd_reenter(args: argparse.Namespace) -> int:
    """Fill in re-entered ID numbers, each checked against its registration's person_ref."""
    from province_node.reentry import reenter

    settings = _settings(args.config, args.province)
    summary = reenter(settings.db_path, settings.load_secret(), Path(args.path))
    for line, cert_no, why in summary.refused:
        print(f"line {line} ({cert_no or 'no cert_no'}): {why}", file=sys.stderr)
    print(
        f"entered {summary.entered} ID numbers, refused {len(summary.refused)}; "
        f"{summary.still_missing} registrations still lack their ID number"
    )
    return 0 if not summary.refused else EXIT_FAILED


def cmd_import(args: argparse.Namespace) -> int:
    """Import registrations from CSV or JSON Lines."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    from province_node.importer import import_file
    from province_node.registry import Store

    settings = _settings(args.config, args.province)
    path = Path(args.path)
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    store = Store(
        settings.db_path, settings.province, settings.load_signer(), settings.load_secret()
    )
    store.open()
    console = Console(stderr=True)
    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console, disable=args.no_progress) as bar:
            task = bar.add_task(f"importing {path.name}", total=path.stat().st_size)
            summary = import_file(
                store,
                path,
                batch_size=args.batch_size,
                progress=lambda done: bar.update(task, completed=done),
            )
    finally:
        store.close()
    print(
        f"imported {summary.imported}, skipped {summary.skipped} (already registered), "
        f"rejected {summary.rejected} in {summary.seconds:.1f} s "
        f"({summary.rows_per_second:,.0f} rows/s)"
    )
    if summary.rejected:
        print(f"rejected rows: {summary.rejects_path}")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """Write a new Ed25519 key pair PREFIX.key / PREFIX.pub."""
    key_path, pub_path = write_keypair(args.out, overwrite=args.force)
    kid = Signer.load(key_path).kid
    print(f"wrote {key_path} (private, mode 0600) and {pub_path}; kid {kid}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    """Write synthetic registrations as JSON Lines, or CSV if the path ends in .csv."""
    from province_node import synthetic

    fed = load_federation(args.config)
    fed.province_by_code(args.province)
    out = Path(args.out)
    rows = synthetic.registrations(args.province, args.records, args.seed)
    if out.suffix.lower() == ".csv":
        synthetic.write_csv(out, rows)
    else:
        synthetic.write_jsonl(out, rows)
    print(f"wrote {args.records} synthetic registrations for province {args.province} to {out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog=PROG, description="A province's registration node.")
    sub = parser.add_subparsers(dest="command", required=True)

    def node_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--config", required=True, help="the federation file (TOML)")
        p.add_argument("--province", required=True, help="this node's province code, e.g. 50")

    serve = sub.add_parser("serve", help="run the HTTP API, relay and heartbeat")
    node_args(serve)
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    serve.set_defaults(func=cmd_serve)

    imp = sub.add_parser("import", help="import registrations from CSV or JSON Lines")
    node_args(imp)
    imp.add_argument("path", help="CSV (name ends .csv) or JSON Lines file")
    imp.add_argument("--batch-size", type=int, default=2000, help="rows per transaction")
    imp.add_argument("--no-progress", action="store_true", help="no progress bar")
    imp.set_defaults(func=cmd_import)

    keygen = sub.add_parser("keygen", help="write a new Ed25519 key pair")
    keygen.add_argument("--out", required=True, help="PREFIX: writes PREFIX.key and PREFIX.pub")
    keygen.add_argument("--force", action="store_true", help="replace existing files")
    keygen.set_defaults(func=cmd_keygen)

    gen = sub.add_parser("generate", help="write synthetic registrations for demos and tests")
    node_args(gen)
    gen.add_argument("--records", type=int, required=True, help="how many registrations")
    gen.add_argument("--out", required=True, help="output path (.csv for CSV, else JSON Lines)")
    gen.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    gen.set_defaults(func=cmd_generate)

    bak = sub.add_parser("backup", help="copy the registry while the node serves (verified)")
    node_args(bak)
    bak.add_argument("--out", required=True, help="the backup file to write (owner-only)")
    bak.add_argument("--force", action="store_true", help="replace an existing file")
    bak.add_argument("--no-progress", action="store_true", help="no progress bar")
    bak.set_defaults(func=cmd_backup)

    rec = sub.add_parser(
        "recover", help="bring a restored registry forward from its topic (node stopped)"
    )
    node_args(rec)
    rec.add_argument(
        "--reentry-out",
        help="where to list registrations whose ID number must be re-entered "
        "(default: beside the registry, NAME.reentry.csv)",
    )
    rec.add_argument("--no-progress", action="store_true", help="no progress bar")
    rec.set_defaults(func=cmd_recover)

    ree = sub.add_parser("reenter", help="fill in ID numbers listed by recover (CSV)")
    node_args(ree)
    ree.add_argument("path", help="CSV with columns cert_no,id_number")
    ree.set_defaults(func=cmd_reenter)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (KeyFileError, ImportFileError, RegsyncError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
