"""Helpers of the serving index's tests: a randomized registry as signed, decoded batches (no
Kafka), a brute-force search over records rows, and snapshots of the index's tables."""

from __future__ import annotations

import random
import sqlite3
import uuid
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from hubkit import HubEnv, Message, cert, signed

from national_hub.ingest.decode import Decoder, DecoderSpec
from national_hub.ingest.messages import Batch
from national_hub.ingest.names import query_key
from national_hub.query.aliases import AliasEntry, AliasTable
from national_hub.query.search import (
    MIN_NAME_CHARS,
    SearchParams,
    as_org_code,
    institution_names,
)
from province_node import synthetic
from schemas.events import Event
from schemas.person_ref import person_ref
from schemas.record import Institution, IssuingAuthority, PracticeSite, Record, Transfer
from schemas.samples import SAMPLE_SECRET, sample_event, sample_record
from schemas.timestamps import utc_now
from schemas.vocab import Status


@dataclass
class RawMsg:
    """A consumed message as aiokafka hands it over."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]


class Feeder:
    """Messages to batches with per-partition offsets, like the consumer (partition by key)."""

    def __init__(self, env: HubEnv, partitions: int = 3) -> None:
        self.decoder = Decoder(DecoderSpec.from_settings(env.settings()))
        self.partitions = partitions
        self.next: dict[tuple[str, int], int] = {}

    def batch(self, messages: Iterable[Message]) -> Batch:
        raws = []
        for m in messages:
            part = zlib.crc32(m.key or b"") % self.partitions
            off = self.next.get((m.topic, part), 0)
            self.next[(m.topic, part)] = off + 1
            raws.append(RawMsg(m.topic, part, off, m.key, m.value, m.headers))
        b = Batch()
        b.extend(self.decoder.decode_many(raws))
        return b


def record_of(row: Mapping[str, Any]) -> Record:
    """A synthetic registration body as a record."""
    return sample_record(
        cert_no=row["cert_no"],
        name=row["name"],
        gender=row["gender"],
        level=row["level"],
        category=row["category"],
        scopes=tuple(row["scopes"]),
        primary_institution=Institution(**row["primary_institution"]),
        issuing_authority=IssuingAuthority(**row["issuing_authority"]),
        registered_on=date.fromisoformat(row["registered_on"]),
        person_ref=person_ref(SAMPLE_SECRET, row["id_number"]),
    )


@dataclass
class Registry:
    """Per-province streams of signed events: registrations, then random lifecycle events,
    transfers (new code or the same), unconfirmed claims and certificate conflicts."""

    env: HubEnv
    rng: random.Random
    streams: dict[str, list[Event]] = field(default_factory=dict)
    latest: dict[tuple[str, str], Record] = field(default_factory=dict)
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    institutions: dict[str, list[Institution]] = field(default_factory=dict)
    aliases: list[AliasEntry] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    fresh: int = 0

    def emit(self, kind: str, province: str, record: Record, details: Any = None) -> None:
        key = (province, record.cert_no)
        version = self.versions.get(key, 0) + 1
        self.versions[key] = version
        self.latest[key] = record
        kw: dict[str, Any] = {
            "cert_no": record.cert_no,
            "record_version": version,
            "event_id": uuid.uuid4(),
            "committed_at": utc_now(),
            "record": record,
        }
        if details is not None:
            kw["details"] = details
        ev = sample_event(kind, seq=self.env.next_seq(province), province=province, **kw)
        self.streams.setdefault(province, []).append(ev)

    def register(self, per_province: int, seed: int) -> None:
        for p in self.env.provinces:
            infos = synthetic.institutions(p)
            self.institutions[p] = [
                Institution(org_code=i["org_code"], name=i["name"], region_code=i["region_code"])
                for i in infos
            ]
            self.aliases += [
                AliasEntry(i["abbreviation"], i["name"], i["org_code"] if n % 2 else None)
                for n, i in enumerate(infos)
                if i["abbreviation"]
            ]
            for row in synthetic.registrations(p, per_province, seed):
                rec = record_of(row)
                self.names.append(rec.name)
                self.emit("registered", p, rec)

    def _other(self, province: str) -> str:
        return self.rng.choice([p for p in self.env.provinces if p != province])

    def step(self) -> None:
        """One random lifecycle event (or a transfer: two) of a random record."""
        rng = self.rng
        (p, c), rec = rng.choice(list(self.latest.items()))
        live = rec.status in (Status.ACTIVE, Status.SUSPENDED)
        op = rng.choices(
            ["move", "site", "unsite", "rename", "suspend", "end", "transfer", "claim", "clash"],
            [4, 5, 2, 2, 2, 2, 3, 1, 1],
        )[0]
        if op == "move" and live:
            self.emit("changed", p, rec.model_copy(update={"primary_institution": self._inst(p)}))
        elif op == "site" and live:
            inst = self._inst(rng.choice([p, self._other(p)]))
            site = PracticeSite(**inst.model_dump(), start_date=date(2026, 1, 1))
            sites = tuple(s for s in rec.practice_sites if s.org_code != inst.org_code)
            self.emit("site_filed", p, rec.model_copy(update={"practice_sites": (*sites, site)}))
        elif op == "unsite" and rec.practice_sites:
            self.emit("site_withdrawn", p, rec.model_copy(update={"practice_sites": ()}))
        elif op == "rename":
            name = rng.choice(self.names)
            self.emit("changed", p, rec.model_copy(update={"name": name}))
        elif op == "suspend" and live:
            status = Status.ACTIVE if rec.status is Status.SUSPENDED else Status.SUSPENDED
            kind = "reinstated" if status is Status.ACTIVE else "suspended"
            self.emit(kind, p, rec.model_copy(update={"status": status}))
        elif op == "end" and live:
            status = rng.choice([Status.CANCELLED, Status.REVOKED])
            self.emit(status.value, p, rec.model_copy(update={"status": status}))
        elif op == "transfer" and rec.status is Status.ACTIVE:
            q = self._other(p)
            out = rec.model_copy(
                update={"status": Status.TRANSFERRED_OUT, "transfer": Transfer(to_province=q)}
            )
            self.emit("transferred_out", p, out, {"to_province": q})
            self._transfer_in(q, p, c, rec, keep=rng.random() < 0.5)
        elif op == "claim":  # a transfer-in the old province never confirms
            self._transfer_in(self._other(p), p, c, rec, keep=rng.random() < 0.5)
        elif op == "clash":  # another province registers a code it does not hold
            q = self._other(p)
            if (q, c) not in self.latest:
                self.emit("registered", q, rec.model_copy(update={"name": rng.choice(self.names)}))

    def _inst(self, province: str) -> Institution:
        return self.rng.choice(self.institutions[province])

    def _transfer_in(self, q: str, p: str, c: str, rec: Record, keep: bool) -> None:
        if not keep:
            self.fresh += 1
            c_new = cert(q, 900_000 + self.fresh)
        else:
            c_new = c
        if (q, c_new) in self.latest:
            return
        moved = rec.model_copy(
            update={
                "cert_no": c_new,
                "status": Status.ACTIVE,
                "primary_institution": self._inst(q),
                "practice_sites": (),
                "transfer": Transfer(from_province=p, from_cert_no=c),
            }
        )
        self.emit("registered", q, moved, {"transfer_from": {"province": p, "cert_no": c}})

    def batches(self, feeder: Feeder, most: int = 200) -> list[Batch]:
        """Every stream, interleaved in random chunks (each province's own order kept)."""
        pos = dict.fromkeys(self.streams, 0)
        out: list[Batch] = []
        while any(pos[p] < len(s) for p, s in self.streams.items()):
            messages: list[Message] = []
            for p in self.rng.sample(sorted(self.streams), self.rng.randint(1, 3)):
                n = self.rng.randint(1, most)
                chunk = self.streams[p][pos[p] : pos[p] + n]
                pos[p] += len(chunk)
                messages += [signed(self.env, e) for e in chunk]
            if messages:
                out.append(feeder.batch(messages))
        return out

    def alias_table(self) -> AliasTable:
        return AliasTable(self.aliases)


def build_registry(env: HubEnv, per_province: int, steps: int, seed: int) -> Registry:
    reg = Registry(env, random.Random(seed))
    reg.register(per_province, seed)
    for _ in range(steps):
        reg.step()
    return reg


# ---- the oracle --------------------------------------------------------------------------------

ROW_SQL = (
    "SELECT cert_no, province, status, name, name_norm, name_pinyin, category, scopes,"
    " org_code, institution_name, site_org_codes FROM records"
)


def brute_force(
    rows: Sequence[Mapping[str, Any]], params: SearchParams, aliases: AliasTable
) -> list[tuple[int, str]]:
    """(hit_rank, cert_no) of every match, in order: the search's rules applied row by row."""
    out: list[tuple[int, str]] = []
    codes: set[str] = set()
    inst = params.institution
    code = as_org_code(inst) if inst is not None else None
    names: list[str] = []
    if inst is not None and code is None:
        names = institution_names(inst, aliases)
        entry = aliases.resolve(inst)
        codes = {r["org_code"] for r in rows if r["institution_name"] in names}
        if entry is not None and entry.org_code:
            codes.add(entry.org_code)
    for r in rows:
        rank = 0
        if params.name is not None:
            column, key = query_key(params.name)
            if column == "name_norm":
                if r["name_norm"] != key:
                    continue
            else:
                if not r["name_pinyin"].startswith(key):
                    continue
                rank = 0 if r["name_pinyin"] == key else 1
        if inst is not None:
            if code is not None:
                if r["org_code"] == code:
                    sub = 0
                elif code in r["site_org_codes"]:
                    sub = 1
                else:
                    continue
                rank = rank * 2 + sub
            else:
                exact = (
                    r["institution_name"] in names
                    or r["org_code"] in codes
                    or bool(codes & set(r["site_org_codes"]))
                )
                if len(inst) < MIN_NAME_CHARS:
                    if not exact:
                        continue
                elif exact:
                    rank = rank * 2
                elif inst in r["institution_name"]:
                    rank = rank * 2 + 1
                else:
                    continue
        if params.province is not None and r["province"] != params.province:
            continue
        if params.category is not None and r["category"] != params.category:
            continue
        if params.status is not None and r["status"] != params.status:
            continue
        if params.scope is not None and params.scope not in r["scopes"]:
            continue
        out.append((rank, r["cert_no"]))
    return sorted(out)


def queries(
    rows: Sequence[Mapping[str, Any]], reg: Registry, rng: random.Random, n: int
) -> list[dict[str, str]]:
    """Query strings of every search kind, with random filters on top of some."""
    pick = rng.choice
    out: list[dict[str, str]] = []
    for i in range(n):
        r = pick(rows)
        kind = i % 10
        q: dict[str, str] = {}
        if kind == 0:
            name = r["name"]
            q["name"] = name if rng.random() < 0.7 else " ".join(name)
        elif kind == 1:
            q["name"] = r["name_pinyin"]
        elif kind == 2:
            q["name"] = r["name_pinyin"][: rng.randint(2, 5)]
        elif kind == 3:
            q["name"], q["province"] = pick([r["name"], r["name_pinyin"]]), pick(reg.env.provinces)
        elif kind == 4:
            sites = r["site_org_codes"]
            q["institution"] = pick(sites) if sites and rng.random() < 0.5 else r["org_code"]
        elif kind == 5:
            q["institution"] = r["institution_name"]
        elif kind == 6:
            text = r["institution_name"]
            k = rng.choice([1, 2, 3, 4, 6])
            start = rng.randint(0, max(0, len(text) - k))
            q["institution"] = text[start : start + k]
        elif kind == 7:
            q["institution"] = pick(reg.aliases).alias
        elif kind == 8:
            q["name"], q["institution"] = r["name_pinyin"][:2], r["institution_name"][:3]
        else:
            q["name"], q["institution"] = r["name"], r["org_code"]
        if rng.random() < 0.4:
            f = pick(["category", "status", "scope", "province"])
            q[f] = {
                "category": r["category"],
                "status": r["status"],
                "scope": pick(r["scopes"]),
                "province": r["province"],
            }[f]
        q["limit"] = str(pick([1, 3, 7, 20]))
        out.append(q)
    # Keys nobody holds, and short ones matching many.
    out += [{"name": "不存在人"}, {"name": "zz"}, {"name": "zh"}, {"institution": "医院"}]
    return out


# ---- snapshots -----------------------------------------------------------------------------------

SNAPSHOT_TABLES = {
    "records": "cert_no",
    "sites": "org_code, cert_no",
    "institutions": "institution_name, org_code",
    "unshown": "cert_no, province",
    "transfer_links": "old_province, old_cert_no, new_province, new_cert_no",
    "offsets": "topic, partition",
    "progress": "province",
    "progress_pending": "province, seq",
    "rejected_seqs": "province, seq",
}


def snapshot(path: Path, *, synced: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the index file, ordered; synced=False leaves out apply times."""
    con = sqlite3.connect(str(path))
    try:
        out = {}
        for table, order in SNAPSHOT_TABLES.items():
            cur = con.execute(f"SELECT * FROM {table} ORDER BY {order}")
            names = [d[0] for d in cur.description]
            keep = [i for i, n in enumerate(names) if synced or n not in ("synced_at_ms", "id")]
            out[table] = [tuple(row[i] for i in keep) for row in cur]
        return out
    finally:
        con.close()
