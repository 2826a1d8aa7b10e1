"""`./dev` commands: kafka, test, up, down."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from devstack.errors import DevstackError
from devstack.kafka import KafkaCluster, fetch_kafka
from devstack.system import TEST_PACKAGES, TEST_TOOLS, ensure_tools

ROOT = Path(__file__).resolve().parent.parent


def _say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


def cmd_kafka(args: argparse.Namespace) -> int:
    cluster = KafkaCluster(
        Path(args.state) / "kafka", brokers=args.brokers, base_port=args.base_port
    )
    _say(f"starting {args.brokers} Kafka broker(s) in {cluster.state_dir}")
    cluster.start()
    _say(f"Kafka ready: bootstrap {cluster.bootstrap} (Ctrl-C stops)")
    _wait_for_signal()
    _say("stopping Kafka")
    cluster.stop()
    return 0


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


def cmd_test(args: argparse.Namespace) -> int:
    _say("fetching Apache Kafka if needed")
    fetch_kafka()
    ensure_tools(TEST_TOOLS, _say, TEST_PACKAGES)
    env = dict(os.environ)
    py = sys.executable
    if not args.pytest_args:
        for step in (
            [py, "-m", "ruff", "check", "."],
            [py, "-m", "mypy"],
        ):
            _say("running " + " ".join(step[2:]))
            if subprocess.run(step, cwd=ROOT, env=env, check=False).returncode != 0:
                _say("lint failed")
                return 1
    _say("running pytest")
    rc = subprocess.run([py, "-m", "pytest", *args.pytest_args], cwd=ROOT, env=env, check=False)
    if rc.returncode == 5:
        _say("pytest collected no tests: that is a failure, not a pass")
        return 1
    return rc.returncode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="./dev", description="regsync developer commands")
    sub = parser.add_subparsers(dest="command", required=True)

    k = sub.add_parser("kafka", help="run only Kafka in the foreground")
    k.add_argument("--state", required=True, help="directory for broker data and logs")
    k.add_argument("--brokers", type=int, choices=(1, 3), default=1)
    k.add_argument("--base-port", type=int, default=19092)
    k.set_defaults(func=cmd_kafka)

    t = sub.add_parser("test", help="lint, type-check and run the whole test suite")
    t.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest")
    t.set_defaults(func=cmd_test)

    from devstack import stack

    stack.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except DevstackError as exc:
        print(f"[dev] error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
