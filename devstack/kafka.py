"""Fetch, start and stop a local Apache Kafka (KRaft) cluster: one broker or three.

The single implementation used by `./dev kafka`, `./dev up` and the test fixtures.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devstack.errors import DevstackError

KAFKA_VERSION = "4.1.1"
POM = Path(__file__).with_name("kafka-pom.xml")

LOG4J2_CONFIG = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
"""


class KafkaStartError(DevstackError):
    """A broker did not come up; the message carries the tail of its log."""


def cache_dir() -> Path:
    """Where fetched jars live: outside the repository, shared by every clone."""
    root = os.environ.get("REGSYNC_CACHE") or os.environ.get("XDG_CACHE_HOME")
    base = Path(root) if root else Path.home() / ".cache"
    if not os.environ.get("REGSYNC_CACHE"):
        base = base / "regsync"
    return base / f"kafka-{KAFKA_VERSION}"


def fetch_kafka(*, quiet: bool = True) -> Path:
    """Download Kafka's jars with Maven once; return the directory holding them."""
    libs = cache_dir() / "libs"
    pom_hash = hashlib.sha256(POM.read_bytes()).hexdigest()[:16]
    marker = libs / f".complete-{pom_hash}"
    if marker.exists():
        return libs
    if shutil.which("mvn") is None:
        raise DevstackError("Maven (mvn) is not on PATH; it is needed once to fetch Apache Kafka")
    tmp = libs.with_name(f"libs.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        "mvn",
        "-B",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    if quiet:
        cmd.insert(1, "-q")
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise DevstackError(
            "fetching Apache Kafka with Maven failed:\n" + (proc.stdout + proc.stderr)[-4000:]
        )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.touch()
    return libs


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise DevstackError("Java 17+ is needed to run Kafka; no `java` on PATH")
    return found


def port_open(host: str, port: int, timeout: float = 0.2) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


@dataclass(frozen=True)
class Broker:
    """One combined broker+controller node of the cluster."""

    node_id: int
    port: int
    controller_port: int
    home: Path

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.home / "broker.log"

    @property
    def pid_path(self) -> Path:
        return self.home / "broker.pid"


class KafkaCluster:
    """A KRaft cluster of 1 or 3 combined nodes on 127.0.0.1.

    Client ports are base_port, base_port+1, ...; controller ports base_port+100+i.
    Data directories persist under state_dir, so a restarted broker reuses its data.
    """

    def __init__(
        self,
        state_dir: Path,
        *,
        brokers: int = 1,
        base_port: int = 19092,
        heap: str = "512m",
        extra_properties: dict[str, str] | None = None,
    ) -> None:
        if brokers not in (1, 3):
            raise DevstackError(f"brokers must be 1 or 3, not {brokers}")
        self.state_dir = Path(state_dir).resolve()
        self.heap = heap
        self.extra_properties = dict(extra_properties or {})
        self.brokers = [
            Broker(
                node_id=i + 1,
                port=base_port + i,
                controller_port=base_port + 100 + i,
                home=self.state_dir / f"broker-{i + 1}",
            )
            for i in range(brokers)
        ]
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._libs: Path | None = None

    # -- addresses ---------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{b.port}" for b in self.brokers)

    @property
    def pids(self) -> list[int]:
        return [self._procs[b.node_id].pid for b in self.brokers if b.node_id in self._procs]

    def broker(self, node_id: int) -> Broker:
        for b in self.brokers:
            if b.node_id == node_id:
                return b
        raise DevstackError(f"no broker with node id {node_id}")

    # -- configuration -----------------------------------------------------------------------

    def _properties(self, b: Broker) -> str:
        n = len(self.brokers)
        voters = ",".join(f"{x.node_id}@127.0.0.1:{x.controller_port}" for x in self.brokers)
        rf = 3 if n == 3 else 1
        min_isr = 2 if n == 3 else 1
        props = {
            "process.roles": "broker,controller",
            "node.id": str(b.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{b.port},CONTROLLER://127.0.0.1:{b.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{b.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(b.data_dir),
            "num.partitions": "3",
            "default.replication.factor": str(rf),
            "min.insync.replicas": str(min_isr),
            "offsets.topic.replication.factor": str(rf),
            "offsets.topic.num.partitions": "10",
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(min_isr),
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": str(min_isr),
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "true",
            # infinite retention: the topics are the source the hub rebuilds from
            "log.retention.ms": "-1",
            "log.retention.bytes": "-1",
            "unclean.leader.election.enable": "false",
            **self.extra_properties,
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _cluster_id(self) -> str:
        path = self.state_dir / "cluster.id"
        if path.exists():
            return path.read_text().strip()
        cid = "-"
        # Like Kafka's own Uuid.randomUuid: an id starting with "-" would be read as an option
        # by the storage tool's argument parser (1 in 64 ids).
        while cid.startswith("-"):
            cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        path.write_text(cid + "\n")
        return cid

    def _prepare(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._libs = fetch_kafka()
        (self.state_dir / "log4j2.properties").write_text(LOG4J2_CONFIG)
        cid = self._cluster_id()
        for b in self.brokers:
            b.home.mkdir(parents=True, exist_ok=True)
            b.properties.write_text(self._properties(b))
            if (b.data_dir / "meta.properties").exists():
                continue
            proc = subprocess.run(
                [
                    *self._java_prefix(),
                    "kafka.tools.StorageTool",
                    "format",
                    "-t",
                    cid,
                    "-c",
                    str(b.properties),
                    "--ignore-formatted",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                raise KafkaStartError(
                    f"formatting broker {b.node_id} storage failed:\n{proc.stdout}{proc.stderr}"
                )

    def _java_prefix(self) -> list[str]:
        assert self._libs is not None
        return [
            java_binary(),
            "-Xms128m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.state_dir / 'log4j2.properties'}",
            "-cp",
            f"{self._libs}/*",
        ]

    def broker_cmd(self, node_id: int) -> list[str]:
        """The argv that runs this broker; running it again restarts it with the same data."""
        if self._libs is None:
            self._prepare()
        return [*self._java_prefix(), "kafka.Kafka", str(self.broker(node_id).properties)]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> None:
        """Start every broker not already running and wait until all accept clients."""
        self._prepare()
        for b in self.brokers:
            if port_open("127.0.0.1", b.port):
                if b.node_id not in self._procs:
                    raise KafkaStartError(
                        f"port {b.port} is already in use; another Kafka or program holds it "
                        f"(choose another --base-port)"
                    )
                continue
            self._spawn(b)
        self.wait_ready(timeout=timeout)

    def _spawn(self, b: Broker) -> None:
        log = b.log_path.open("ab")
        proc = subprocess.Popen(
            self.broker_cmd(b.node_id),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=b.home,
            start_new_session=True,
        )
        log.close()
        self._procs[b.node_id] = proc
        b.pid_path.write_text(f"{proc.pid}\n")

    def wait_ready(self, timeout: float = 90.0, node_ids: Sequence[int] | None = None) -> None:
        deadline = time.monotonic() + timeout
        wanted = [self.broker(i) for i in node_ids] if node_ids else list(self.brokers)
        while True:
            pending = [b for b in wanted if not port_open("127.0.0.1", b.port)]
            if not pending:
                return
            for b in pending:
                proc = self._procs.get(b.node_id)
                if proc is not None and proc.poll() is not None:
                    raise KafkaStartError(
                        f"broker {b.node_id} exited with code {proc.returncode}; "
                        f"log tail:\n{self.log_tail(b.node_id)}"
                    )
            if time.monotonic() > deadline:
                tails = "\n".join(
                    f"--- broker {b.node_id} ({b.log_path}) ---\n{self.log_tail(b.node_id)}"
                    for b in pending
                )
                raise KafkaStartError(
                    f"Kafka did not open its ports within {timeout:.0f}s\n{tails}"
                )
            time.sleep(0.2)

    def log_tail(self, node_id: int, lines: int = 40) -> str:
        path = self.broker(node_id).log_path
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self, node_id: int, sig: int = signal.SIGKILL) -> None:
        """Send a signal to one broker (SIGKILL by default) and reap it."""
        proc = self._procs.pop(node_id, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=30)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self, node_id: int, timeout: float = 90.0) -> None:
        """Start a stopped or killed broker again on its existing data."""
        self.kill(node_id)
        self._spawn(self.broker(node_id))
        self.wait_ready(timeout=timeout, node_ids=[node_id])

    def stop(self, timeout: float = 30.0) -> None:
        """Stop every broker; SIGTERM first, SIGKILL after `timeout`. Safe to call twice."""
        for proc in list(self._procs.values()):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for node_id in list(self._procs):
            proc = self._procs.pop(node_id)
            remaining = max(0.1, deadline - time.monotonic())
            try:
                proc.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def describe(self) -> dict[str, object]:
        """The `kafka` entry of stack.json."""
        return {
            "bootstrap": self.bootstrap,
            "pids": self.pids,
            "cmds": [self.broker_cmd(b.node_id) for b in self.brokers],
        }

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_base_port(brokers: int = 1, start: int = 20000, end: int = 32000) -> int:
    """A base port whose client and controller ports are all free right now.

    The default range stays below Linux's ephemeral ports (32768+), which outgoing connections
    may take between this check and the bind.
    """
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    for _ in range(200):
        base = rng.randrange(start, end - 200)
        ports = [base + i for i in range(brokers)] + [base + 100 + i for i in range(brokers)]
        if all(port_free(p) for p in ports):
            return base
    raise DevstackError("could not find free ports for Kafka")


def port_free(port: int) -> bool:
    """Whether a TCP port on 127.0.0.1 can be bound right now."""
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
