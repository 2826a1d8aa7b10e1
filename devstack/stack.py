"""`./dev up` / `./dev down`: the whole federation on this machine, with demo data."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devstack.balancer import Backend, haproxy_config
from devstack.errors import DevstackError
from devstack.kafka import KafkaCluster
from devstack.system import BALANCER_TOOLS, ensure_tools
from schemas.signing import write_keypair
from schemas.vocab import PROVINCES

DEFAULT_PROVINCES = ("50", "11", "44")
BIN = Path(sys.executable).parent
# The employer-monitoring notifier's name among the components (national-hub notify).
NOTIFIER = "notifier"
# The load balancer in front of several hub replicas (`--hubs N`, N >= 2).
BALANCER = "balancer"
# Where the balancer connects to the replicas from: a loopback address of its own, so a local
# client (on 127.0.0.1) talking to a replica directly is not believed about X-Forwarded-For.
BALANCER_SOURCE = "127.0.0.2"
MAX_HUBS = 9


def _say(msg: str) -> None:
    print(f"[dev] {msg}", flush=True)


@dataclass(frozen=True)
class Ports:
    """Every port derives from one base so several stacks can run side by side."""

    base: int

    @property
    def kafka(self) -> int:
        return self.base + 1092

    @property
    def hub(self) -> int:
        """The hub's address: the hub itself, or the load balancer in front of its replicas."""
        return self.base + 80

    def replica(self, n: int) -> int:
        """Replica n (1-based) of `--hubs N`, just above the balancer."""
        return self.base + 80 + n

    def province(self, code: str) -> int:
        return self.base + 100 + int(code)


@dataclass
class Secrets:
    ops_token: str
    hub_token: str
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _write_private(path: Path, text: str) -> None:
    """Write a secret file readable by its owner only, from the moment it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(path, 0o600)


def _toml_str(v: str) -> str:
    return json.dumps(v, ensure_ascii=False)


def write_federation(
    state: Path,
    provinces: list[str],
    ports: Ports,
    *,
    bootstrap: str | None = None,
    topic_prefix: str = "regsync",
    replication_factor: int = 1,
    trusted_proxies: tuple[str, ...] = (),
) -> Secrets:
    """Keys, tokens and federation.toml for a fresh state dir; reused if already there.
    trusted_proxies: hub.trusted_proxies (the balancer's address, with replicas)."""
    secrets_file = state / "secrets.json"
    keys = state / "keys"
    _private_dir(state)
    _private_dir(keys)
    _private_dir(state / "var")
    if secrets_file.exists():
        raw = json.loads(secrets_file.read_text())
        sec = Secrets(raw["ops_token"], raw["hub_token"], raw["tokens"])
    else:
        sec = Secrets(secrets.token_urlsafe(24), secrets.token_urlsafe(24))
    for code in provinces:
        sec.tokens.setdefault(
            code, {"registrar": secrets.token_urlsafe(24), "viewer": secrets.token_urlsafe(24)}
        )
    _write_private(secrets_file, json.dumps(sec.__dict__, indent=2))
    for name in ["hub", *provinces]:
        if not (keys / f"{name}.key").exists():
            write_keypair(keys / name)
    fed_secret = keys / "federation.secret"
    if not fed_secret.exists():
        _write_private(fed_secret, secrets.token_hex(32) + "\n")
    hub_token_file = keys / "hub.token"
    _write_private(hub_token_file, sec.hub_token + "\n")

    lines = [
        "[kafka]",
        f'bootstrap = "{bootstrap or f"127.0.0.1:{ports.kafka}"}"',
        f'topic_prefix = "{topic_prefix}"',
        "partitions = 3",
        f"replication_factor = {replication_factor}",
        "",
        "[hub]",
        f'listen = "127.0.0.1:{ports.hub}"',
        'db = "var/national.duckdb"',
        'signing_key = "keys/hub.key"',
        f'ops_token_sha256 = "{_sha(sec.ops_token)}"',
        'node_token_file = "keys/hub.token"',
    ]
    if trusted_proxies:
        lines.append(f"trusted_proxies = {json.dumps(list(trusted_proxies))}")
    for code in provinces:
        t = sec.tokens[code]
        port = ports.province(code)
        lines += [
            "",
            "[[province]]",
            f'code = "{code}"',
            f"name = {_toml_str(PROVINCES[code])}",
            f'node_url = "http://127.0.0.1:{port}"',
            f'public_key = "keys/{code}.pub"',
            f'listen = "127.0.0.1:{port}"',
            f'db = "var/province-{code}.sqlite"',
            f'signing_key = "keys/{code}.key"',
            f'tokens_sha256 = {{ registrar = ["{_sha(t["registrar"])}"], '
            f'viewer = ["{_sha(t["viewer"])}"], hub = ["{_sha(sec.hub_token)}"] }}',
            'person_ref_key_file = "keys/federation.secret"',
        ]
    _write_private(state / "federation.toml", "\n".join(lines) + "\n")
    return sec


# Everything a stack writes is its owner's alone: province registries and demo files hold ID
# numbers, stack.json and keys/ hold tokens. The state dir is 0700 and every process the stack
# runs (nodes, hub, Kafka, `province-node generate|import`) creates files under this umask.
PRIVATE_UMASK = 0o077


def _private_dir(path: Path) -> None:
    """Create path (and parents) if needed; make it 0700."""
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


class Stack:
    """The processes of one local federation, started in order and stopped in reverse."""

    def __init__(
        self,
        state: Path,
        provinces: list[str],
        records: int,
        base_port: int,
        *,
        bootstrap: str | None = None,
        topic_prefix: str = "regsync",
        replication_factor: int = 1,
        hubs: int = 1,
    ) -> None:
        if not 1 <= hubs <= MAX_HUBS:
            raise DevstackError(f"--hubs: give 1 to {MAX_HUBS} hubs, not {hubs}")
        self.hubs = hubs
        self.state = state.resolve()
        self.provinces = provinces
        self.records = records
        self.ports = Ports(base_port)
        self.config = self.state / "federation.toml"
        self.topic_prefix = topic_prefix
        # With a bootstrap given, the stack joins that Kafka instead of running its own.
        self.bootstrap = bootstrap
        # 3 on an external 3-broker cluster, so losing one broker loses no acknowledged event.
        self.replication_factor = replication_factor
        self.kafka = KafkaCluster(self.state / "kafka", brokers=1, base_port=self.ports.kafka)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.cmds: dict[str, list[str]] = {}

    def _spawn(self, name: str, cmd: list[str]) -> None:
        env = dict(os.environ)
        # A local stack serves one developer or test suite from 127.0.0.1: the public per-IP
        # limit (50/s) would throttle them; production hubs keep the default.
        env.setdefault("REGSYNC_HUB_RATE_LIMIT", "2000/4000")
        log_path = self.state / f"{name}.log"
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.state,
                env=env,
                start_new_session=True,
                umask=PRIVATE_UMASK,
            )
        self.procs[name] = proc
        self.cmds[name] = cmd

    def _wait_http(self, name: str, url: str, timeout: float = 60.0) -> None:
        # The hub is ready when its consumer is assigned, not merely when it listens.
        path = "/readyz" if name == "hub" or self._is_hub(name) else "/healthz"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if proc.poll() is not None:
                tail = (self.state / f"{name}.log").read_text(errors="replace")[-3000:]
                raise DevstackError(f"{name} exited with code {proc.returncode}:\n{tail}")
            with contextlib.suppress(urllib.error.URLError, OSError):
                with urllib.request.urlopen(url + path, timeout=1) as resp:
                    if resp.status == 200:
                        return
            time.sleep(0.2)
        raise DevstackError(f"{name} did not answer {url}{path} within {timeout:.0f}s")

    def _province_node(self, *args: str) -> None:
        """Run a `province-node` subcommand; its own output explains a failure."""
        proc = subprocess.run(
            [str(BIN / "province-node"), *args], cwd=self.state, check=False, umask=PRIVATE_UMASK
        )
        if proc.returncode != 0:
            raise DevstackError(f"province-node {args[0]} failed (exit {proc.returncode})")

    def _demo_data(self, code: str) -> None:
        db = self.state / "var" / f"province-{code}.sqlite"
        if db.exists() or self.records <= 0:
            return
        data = self.state / f"demo-{code}.jsonl"
        _say(f"generating {self.records} demo registrations for {code} {PROVINCES[code]}")
        common = ("--config", str(self.config), "--province", code)
        self._province_node("generate", *common, "--records", str(self.records), "--out", str(data))
        self._province_node("import", *common, str(data))

    def start(self) -> Secrets:
        _private_dir(self.state)
        sec = write_federation(
            self.state,
            self.provinces,
            self.ports,
            bootstrap=self.bootstrap,
            topic_prefix=self.topic_prefix,
            replication_factor=self.replication_factor,
            # HAProxy connects to every replica from one address for every client; the
            # replicas rate-limit by the client it names in X-Forwarded-For (option forwardfor).
            trusted_proxies=(f"{BALANCER_SOURCE}/32",) if self.hubs > 1 else (),
        )
        if self.bootstrap is None:
            _say(f"starting Kafka on 127.0.0.1:{self.ports.kafka}")
            self.kafka.start()
        for code in self.provinces:
            self._demo_data(code)
        for code in self.provinces:
            self._spawn(
                f"province-{code}",
                [
                    str(BIN / "province-node"),
                    "serve",
                    "--config",
                    str(self.config),
                    "--province",
                    code,
                ],
            )
        if self.hubs == 1:
            self._spawn("hub", [str(BIN / "national-hub"), "serve", "--config", str(self.config)])
        else:
            self._start_replicas()
        for name in self.procs:
            self._wait_http(name, self.url(name))
        # Employer monitoring's notifier (issue 15): it serves no HTTP, so nothing to wait for;
        # it shares the hub's notify store and derives and delivers while it holds the lease.
        self._spawn(NOTIFIER, [str(BIN / "national-hub"), "notify", "--config", str(self.config)])
        return sec

    @property
    def replicas(self) -> list[str]:
        """The names of the hub replicas (hub-1, hub-2, ...); none with a single hub."""
        return [f"hub-{n}" for n in range(1, self.hubs + 1)] if self.hubs > 1 else []

    def _is_hub(self, name: str) -> bool:
        return name in self.replicas or name == BALANCER

    def _start_replicas(self) -> None:
        """Every replica on its own DuckDB file and serving index under var/hub-N/, all on the
        one federation file (and its one notify store), and HAProxy in front at the hub's
        address. Each replica consumes every topic itself."""
        ensure_tools(BALANCER_TOOLS, _say)
        for n, name in enumerate(self.replicas, start=1):
            _private_dir(self.state / "var" / name)
            db = self.state / "var" / name / "national.duckdb"
            cmd = [str(BIN / "national-hub"), "serve", "--config", str(self.config)]
            cmd += ["--listen", f"127.0.0.1:{self.ports.replica(n)}", "--db", str(db)]
            self._spawn(name, cmd)
        # The balancer is started once the replicas answer: its first health checks find them.
        for name in self.replicas:
            self._wait_http(name, self.url(name))
        backends = [
            Backend(name, "127.0.0.1", self.ports.replica(n))
            for n, name in enumerate(self.replicas, start=1)
        ]
        cfg = self.state / "haproxy.cfg"
        _write_private(
            cfg, haproxy_config("127.0.0.1", self.ports.hub, backends, source=BALANCER_SOURCE)
        )
        self._spawn(BALANCER, [_haproxy(), "-db", "-f", str(cfg)])

    def url(self, name: str) -> str:
        """Base URL of a component: "hub" (or "balancer"), "hub-N" or "province-CC"."""
        if name in ("hub", BALANCER):
            return f"http://127.0.0.1:{self.ports.hub}"
        if name in self.replicas:
            return f"http://127.0.0.1:{self.ports.replica(int(name.removeprefix('hub-')))}"
        return f"http://127.0.0.1:{self.ports.province(name.removeprefix('province-'))}"

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """Signal one component (SIGKILL by default) and reap it."""
        proc = self.procs[name]
        _terminate(proc.pid, sig)
        proc.wait(timeout=30)

    def restart(self, name: str) -> None:
        """Run a component's recorded command again, on the same data."""
        if self.procs[name].poll() is None:
            self.kill(name, signal.SIGTERM)
        self._spawn(name, self.cmds[name])
        if name != NOTIFIER:
            self._wait_http(name, self.url(name))

    def _entry(self, name: str) -> dict[str, object]:
        return {
            "url": self.url(name),
            "pid": self.procs[name].pid,
            "cmd": self.cmds[name],
            "log": str(self.state / f"{name}.log"),
        }

    def describe(self, sec: Secrets) -> dict[str, object]:
        # With replicas, "hub" is the balancer: its url is the hub's one address, and its cmd
        # restarts the balancer; "hubs" names every replica (CONTRACT §1).
        hubs = {}
        if self.replicas:
            hubs = {"hubs": [self._entry(name) for name in self.replicas]}
        return {
            "kafka": self.kafka.describe(),
            "hub": self._entry(BALANCER if self.replicas else "hub"),
            **hubs,
            "provinces": {
                code: {
                    "url": f"http://127.0.0.1:{self.ports.province(code)}",
                    "pid": self.procs[f"province-{code}"].pid,
                    "cmd": self.cmds[f"province-{code}"],
                    "log": str(self.state / f"province-{code}.log"),
                    "registrar_token": sec.tokens[code]["registrar"],
                    "viewer_token": sec.tokens[code]["viewer"],
                }
                for code in self.provinces
            },
            "notifier": {
                "pid": self.procs[NOTIFIER].pid,
                "cmd": self.cmds[NOTIFIER],
                "log": str(self.state / f"{NOTIFIER}.log"),
            },
            "config": str(self.config),
            "ops_token": sec.ops_token,
        }

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            _terminate(self.procs[name].pid)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _terminate(proc.pid, signal.SIGKILL)
                proc.wait()
        self.kafka.stop()


def _haproxy() -> str:
    """HAProxy's path: on PATH, else where Debian puts it (/usr/sbin is off some users' PATH)."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
    if found is None:
        raise DevstackError("haproxy not found: install Debian's haproxy package")
    return found


def _terminate(pid: int, sig: int = signal.SIGTERM) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of ours counts as gone
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    # and so does anyone's zombie (its parent has yet to reap it; it runs nothing)
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2] != "Z"
    return True


def _parse_provinces(text: str) -> list[str]:
    codes = [c.strip() for c in text.split(",") if c.strip()]
    for c in codes:
        if c not in PROVINCES:
            raise DevstackError(f"--provinces: unknown province code {c!r}")
    if not codes:
        raise DevstackError("--provinces: give at least one province code")
    return codes


def cmd_up(args: argparse.Namespace) -> int:
    # Whatever `./dev up` and its children write is the owner's alone (see PRIVATE_UMASK).
    os.umask(PRIVATE_UMASK)
    provinces = _parse_provinces(args.provinces)
    state = Path(args.state) if args.state else Path("var/dev")
    stack = Stack(state, provinces, args.records, args.base_port, hubs=args.hubs)
    try:
        sec = stack.start()
    except BaseException:
        stack.stop()
        raise
    info = stack.describe(sec)
    _write_private(stack.state / "stack.json", json.dumps(info, indent=2, ensure_ascii=False))
    _print_urls(info)
    if args.detach:
        _say(f"running in the background; stop with ./dev down --state {state}")
        return 0
    _say("Ctrl-C stops everything")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(1.0):
        for name, proc in stack.procs.items():
            if proc.poll() is not None:
                _say(f"{name} exited with code {proc.returncode}; see {stack.state / name}.log")
                stop.set()
    _say("stopping")
    stack.stop()
    return 0


def _print_urls(info: dict[str, object]) -> None:
    hub = info["hub"]
    assert isinstance(hub, dict)
    provinces = info["provinces"]
    assert isinstance(provinces, dict)
    kafka = info["kafka"]
    assert isinstance(kafka, dict)
    print(f"  Kafka      {kafka['bootstrap']}")
    print(f"  Hub        {hub['url']}   dashboard {hub['url']}/dashboard")
    replicas = info.get("hubs", [])
    assert isinstance(replicas, list)
    for replica in replicas:
        print(f"    replica  {replica['url']}   log {replica['log']}")
    print(f"  Ops token  {info['ops_token']}")
    for code, p in provinces.items():
        print(f"  Province {code} {PROVINCES[code]}  {p['url']}   registrar console {p['url']}/")
        print(f"      registrar token {p['registrar_token']}   viewer token {p['viewer_token']}")
    print(f"  Config     {info['config']}")


def _config_args(argv: list[str]) -> list[str]:
    """The values of --config (either form) and any *.properties file in a command line."""
    found: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            found.append(argv[i + 1])
        elif arg.startswith("--config="):
            found.append(arg.removeprefix("--config="))
        elif arg.endswith(".properties"):
            found.append(arg)
        elif arg == "-f" and i + 1 < len(argv):  # HAProxy's configuration file
            found.append(argv[i + 1])
    return found


def running_on(state: Path) -> dict[int, bool] | None:
    """The processes that run on this state dir's data, however they were started: pid ->
    whether it is a Kafka broker. None where there is no /proc to look in (not Linux).

    A province node or the hub (`serve`, `import`, `rebuild`...) names the state's federation
    file with --config; a broker names a server.properties under the state's kafka/ directory.
    Relative paths are read against the process's working directory.
    """
    state = state.resolve()
    config, kafka = state / "federation.toml", state / "kafka"
    balancer = state / "haproxy.cfg"
    try:
        entries = [e for e in Path("/proc").iterdir() if e.name.isdigit()]
    except OSError:
        return None
    me = os.getpid()
    found: dict[int, bool] = {}
    for entry in entries:
        if int(entry.name) == me:
            continue
        try:
            argv = [os.fsdecode(a) for a in (entry / "cmdline").read_bytes().split(b"\0")]
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:  # gone meanwhile, or not ours to look at
            continue
        for value in _config_args(argv):
            path = Path(os.path.normpath(cwd / value))
            broker = path.name == "server.properties" and kafka in path.parents
            if broker or path in (config, balancer):
                found[int(entry.name)] = broker
                break
    return found


def _signal(pid: int, sig: int) -> None:
    """Signal a process and, if it leads its process group (as a stack starts them), the group."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)


def _stop(pids: list[int], timeout: float = 30.0) -> None:
    """SIGTERM, then SIGKILL whatever still runs after timeout."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)


def cmd_down(args: argparse.Namespace) -> int:
    state = Path(args.state)
    path = state / "stack.json"
    if not path.exists():
        raise DevstackError(f"{path} not found: nothing was started with --state {args.state}")
    # Whatever runs on the state's data now: a component restarted from its recorded cmd (or by
    # hand) has a pid stack.json does not know, and a recorded pid may since belong to another
    # program. Without /proc, the pids `up` recorded.
    found = running_on(state)
    if found is None:
        info = json.loads(path.read_text())
        found = {info["hub"]["pid"]: False}
        found.update((h["pid"], False) for h in info.get("hubs", []))
        found.update((p["pid"], False) for p in info["provinces"].values())
        found.update((pid, True) for pid in info["kafka"]["pids"])
        found = {pid: broker for pid, broker in found.items() if _alive(pid)}
    # Nodes and the hub first, so they stop cleanly while Kafka still answers.
    _stop([pid for pid, broker in found.items() if not broker])
    _stop([pid for pid, broker in found.items() if broker])
    _say(f"stopped {len(found)} process(es)" if found else "nothing was running")
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    up = sub.add_parser("up", help="run the whole federation locally")
    up.add_argument("--detach", action="store_true", help="start in the background and exit")
    up.add_argument("--state", help="state directory (default var/dev)")
    up.add_argument("--provinces", default=",".join(DEFAULT_PROVINCES))
    up.add_argument("--records", type=int, default=1000, help="demo registrations per province")
    up.add_argument("--base-port", type=int, default=18000)
    up.add_argument(
        "--hubs",
        type=int,
        default=1,
        help=f"hub replicas (1-{MAX_HUBS}); with 2 or more, HAProxy in front at the hub's address",
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="stop what `up --detach` started")
    down.add_argument("--state", required=True)
    down.set_defaults(func=cmd_down)
