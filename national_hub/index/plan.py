"""Searches over the serving index: one index range per rank class, in (hit_rank, cert_no) order.

The order, ranks and matches are national_hub.query.search's (build_search over DuckDB):

- name: Chinese input matches `name_norm` exactly (one rank); pinyin input matches the
  whole key first, then keys it prefixes (two ranks);
- institution: a credit code matches the primary institution first, then a filed practice
  site; a name matches exactly (as typed or the abbreviation's full name, or any credit code
  those names hold, as primary or site), then, for two characters or more, institution names
  containing it (two ranks, one if shorter);
- hit_rank = name rank × (institution ranks) + institution rank; rows in (hit_rank, cert_no).

Each combination of a name rank and an institution rank is a class; classes are read in rank
order, each by `SELECT cert_no ... ORDER BY cert_no LIMIT`, until a page (limit + 1 keys) is
full. A class whose keys are exact (a name, a code, an institution's names) is an index range
that ends in cert_no order (or a short sort of that range): its cost is the rows that share
the key. A class bounded only by a pinyin prefix or a partial institution name may match a
large share of the registry: when its range holds at most `sort_max` rows it is sorted;
beyond, the cert_no index is walked in order with the class as a filter, which costs about
limit × registry ÷ matches rows (≤ limit × registry ÷ sort_max), and a walk that runs past
its budget (filters that match almost nothing) falls back to sorting the range.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from national_hub.index.apply import json_list

# A class whose range holds more rows than this is walked in cert_no order instead of sorted.
SORT_MAX = 10_000
# SQLite VM steps a walk may take (about 50 per row examined) before it is abandoned for a sort.
WALK_BUDGET_STEPS = 5_000_000
_PROGRESS_EVERY = 10_000
_KEYS = "(SELECT value FROM json_each(?))"


@dataclass(frozen=True, slots=True)
class InstitutionQuery:
    """An institution search, resolved by the caller (national_hub.query owns abbreviations).

    Exactly one of code (a valid credit code) or names (as typed, and an abbreviation's full
    name) is given; alias_code: the abbreviation's credit code; substring: the typed text
    when partial names rank after exact matches (two characters or more).
    """

    code: str | None = None
    names: tuple[str, ...] = ()
    alias_code: str | None = None
    substring: str | None = None


@dataclass(frozen=True, slots=True)
class IndexQuery:
    """A search as the index answers it: keys, filters, page size and the cursor position."""

    name_column: str | None = None  # "name_norm" or "name_pinyin" (ingest.names.query_key)
    name_key: str | None = None
    institution: InstitutionQuery | None = None
    province: str | None = None
    category: str | None = None
    scope: str | None = None
    status: str | None = None
    limit: int = 20
    after: tuple[int, str] | None = None  # (hit_rank, cert_no) the page starts after


@dataclass(frozen=True, slots=True)
class Part:
    """One rank of one dimension (name or institution): a condition on records.

    where: the condition, its columns usable by an index; filter: the same condition with
    index use disabled (unary +), for when another part or the cert_no walk drives;
    open: the range is bounded by a prefix or a substring, not by an exact key.
    """

    rank: int
    where: str
    filter: str
    args: tuple[Any, ...]
    open: bool = False
    filter_args: tuple[Any, ...] | None = None  # when the filter form binds other arguments


_NONE = (Part(0, "", "", ()),)


def prefix_end(key: str) -> str | None:
    """The least string above every string starting with key (code point order, which is
    UTF-8 byte order, SQLite's BINARY collation); None if there is none."""
    chars = list(key)
    while chars:
        last = ord(chars[-1])
        if last < 0x10FFFF:
            nxt = last + 1
            if 0xD800 <= nxt <= 0xDFFF:  # surrogates cannot be stored: skip past them
                nxt = 0xE000
            chars[-1] = chr(nxt)
            return "".join(chars)
        chars.pop()
    return None


def name_parts(column: str, key: str) -> tuple[Part, ...]:
    """The name dimension's ranks."""
    if column == "name_norm":
        return (Part(0, "name_norm = ?", "+name_norm = ?", (key,)),)
    end = prefix_end(key)
    above = "name_pinyin > ?" + (" AND name_pinyin < ?" if end is not None else "")
    args = (key, end) if end is not None else (key,)
    return (
        Part(0, "name_pinyin = ?", "+name_pinyin = ?", (key,)),
        Part(1, above, above.replace("name_pinyin", "+name_pinyin"), args, open=True),
    )


@dataclass(frozen=True, slots=True)
class _Institution:
    parts: tuple[Part, ...]
    # Rows of the open part's range (a partial name), known from the institutions table.
    open_rows: int = 0


def institution_parts(con: sqlite3.Connection, q: InstitutionQuery) -> _Institution:
    """The institution dimension's ranks (reads the institutions table of this snapshot)."""
    if q.code is not None:
        code = q.code
        return _Institution(
            (
                Part(0, "org_code = ?", "+org_code = ?", (code,)),
                Part(
                    1,
                    "cert_no IN (SELECT cert_no FROM sites WHERE org_code = ?) AND org_code <> ?",
                    "EXISTS (SELECT 1 FROM sites s WHERE s.cert_no = records.cert_no"
                    " AND s.org_code = ?) AND org_code <> ?",
                    (code, code),
                ),
            )
        )
    names = json_list(q.names)
    # The credit codes these names hold as a primary institution anywhere in the registry.
    found = {
        row[0]
        for row in con.execute(
            f"SELECT org_code FROM institutions WHERE institution_name IN {_KEYS}", [names]
        )
    }
    codes = sorted(found | ({q.alias_code} if q.alias_code else set()))
    exact = f"institution_name IN {_KEYS}"
    exact_filter = f"+institution_name IN {_KEYS}"
    args: tuple[Any, ...] = (names,)
    if codes:
        listed = json_list(codes)
        sites = f"SELECT cert_no FROM sites WHERE org_code IN {_KEYS}"
        exact += f" OR org_code IN {_KEYS} OR cert_no IN ({sites})"
        exact_filter += (
            f" OR +org_code IN {_KEYS} OR EXISTS (SELECT 1 FROM sites s"
            f" WHERE s.cert_no = records.cert_no AND s.org_code IN {_KEYS})"
        )
        args += (listed, listed)
    exact, exact_filter = f"({exact})", f"({exact_filter})"
    first = Part(0, exact, exact_filter, args)
    if q.substring is None:
        return _Institution((first,))
    matched = partial_names(con, q.substring, q.names)
    rows = sum(n for _, n in matched)
    partial = Part(
        1,
        f"institution_name IN {_KEYS} AND NOT {exact_filter}",
        # As a filter (a walk), the substring itself rather than the list of names.
        f"instr(institution_name, ?) > 0 AND NOT {exact_filter}",
        (json_list([name for name, _ in matched]), *args),
        open=True,
        filter_args=(q.substring, *args),
    )
    return _Institution((first, partial), rows)


def filter_args(part: Part) -> tuple[Any, ...]:
    """The arguments of a part's filter form."""
    return part.args if part.filter_args is None else part.filter_args


def partial_names(
    con: sqlite3.Connection, text: str, exclude: Sequence[str]
) -> list[tuple[str, int]]:
    """Institution names containing text (case-sensitive), other than exclude, with how many
    shown records hold each: trigram FTS for three characters or more, else all institutions
    (the few distinct ones, not the records)."""
    if len(text) >= 3:
        phrase = '"' + text.replace('"', '""') + '"'
        rows = con.execute(
            "SELECT i.institution_name, i.n FROM institution_fts f"
            " JOIN institutions i ON i.id = f.rowid"
            " WHERE institution_fts MATCH ? AND instr(i.institution_name, ?) > 0",
            [phrase, text],
        )
    else:
        rows = con.execute(
            "SELECT institution_name, n FROM institutions WHERE instr(institution_name, ?) > 0",
            [text],
        )
    out: dict[str, int] = {}
    skip = set(exclude)
    for name, n in rows:
        if name not in skip:
            out[name] = out.get(name, 0) + n
    return sorted(out.items())


def _filters(q: IndexQuery) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    for column, value in (
        ("province", q.province),
        ("category", q.category),
        ("status", q.status),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if q.scope is not None:
        # scopes is a JSON array of vocabulary names: the quoted name is one whole element.
        where.append("instr(scopes, ?) > 0")
        args.append(json_list([q.scope])[1:-1])
    return where, args


@dataclass(frozen=True, slots=True)
class ClassQuery:
    """The SQL that reads one rank class (for tests and EXPLAIN QUERY PLAN)."""

    rank: int
    sql: str
    args: list[Any]
    walk: bool


def _class_sql(
    q: IndexQuery,
    name: Part,
    inst: Part,
    walk: bool,
    drive_name: bool,
    after: str | None,
    limit: int,
) -> tuple[str, list[Any]]:
    """SELECT cert_no of one class. walk: every part as a filter, cert_no order drives;
    otherwise the driving part's index range, the other part as a filter."""
    where: list[str] = []
    args: list[Any] = []
    for part, drives in ((name, drive_name), (inst, not drive_name)):
        if not part.where:
            continue
        if drives and not walk:
            where.append(f"({part.where})")
            args.extend(part.args)
        else:
            where.append(f"({part.filter})")
            args.extend(filter_args(part))
    more, more_args = _filters(q)
    where += more
    args += more_args
    if after is not None:
        where.append("cert_no > ?")
        args.append(after)
    sql = "SELECT cert_no FROM records WHERE " + " AND ".join(where) + " ORDER BY cert_no LIMIT ?"
    args.append(limit)
    return sql, args


def _prefix_rows(con: sqlite3.Connection, part: Part, cap: int) -> int:
    """Rows in a pinyin prefix range, counting no further than cap (covering index)."""
    row = con.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM records WHERE {part.where} LIMIT ?)",
        [*part.args, cap],
    ).fetchone()
    return int(row[0]) if row else 0


class _Planner:
    """The classes of one search, in rank order, with how each is read."""

    def __init__(self, con: sqlite3.Connection, q: IndexQuery, sort_max: int) -> None:
        self.con = con
        self.q = q
        self.sort_max = sort_max
        self.names = (
            name_parts(q.name_column, q.name_key)
            if q.name_column is not None and q.name_key is not None
            else _NONE
        )
        inst = institution_parts(con, q.institution) if q.institution is not None else None
        self.insts = inst.parts if inst is not None else _NONE
        self.inst_open_rows = inst.open_rows if inst is not None else 0

    def classes(self) -> list[tuple[int, Part, Part]]:
        n = len(self.insts)
        return [(a.rank * n + b.rank, a, b) for a in self.names for b in self.insts]

    def choose(self, name: Part, inst: Part) -> tuple[bool, bool]:
        """(walk, drive_name) of a class: an exact part drives; two open parts, the smaller;
        an open range beyond sort_max is walked."""
        if not name.where:
            return inst.open and self.inst_open_rows > self.sort_max, False
        if not inst.where:
            if not name.open:
                return False, True
            return _prefix_rows(self.con, name, self.sort_max + 1) > self.sort_max, True
        if not name.open:
            return False, True
        if not inst.open:
            return False, False
        name_rows = _prefix_rows(self.con, name, self.sort_max + 1)
        smaller = min(name_rows, self.inst_open_rows)
        return smaller > self.sort_max, name_rows <= self.inst_open_rows

    def plan(self, want: int) -> list[ClassQuery]:
        """The SQL of each class the page may need, without running them."""
        out = []
        after = self.q.after
        for rank, name, inst in self.classes():
            if after is not None and rank < after[0]:
                continue
            walk, drive_name = self.choose(name, inst)
            start = after[1] if after is not None and rank == after[0] else None
            sql, args = _class_sql(self.q, name, inst, walk, drive_name, start, want)
            out.append(ClassQuery(rank, sql, args, walk))
        return out


def _run_walk(con: sqlite3.Connection, cq: ClassQuery, budget: int) -> list[Any] | None:
    """The walk's rows, or None if it ran past its budget of VM steps."""
    steps = 0

    def tick() -> int:
        nonlocal steps
        steps += _PROGRESS_EVERY
        return 1 if steps > budget else 0

    con.set_progress_handler(tick, _PROGRESS_EVERY)
    try:
        return con.execute(cq.sql, cq.args).fetchall()
    except sqlite3.OperationalError as exc:
        if "interrupt" not in str(exc):
            raise
        return None
    finally:
        con.set_progress_handler(None, 0)


def search_keys(
    con: sqlite3.Connection,
    q: IndexQuery,
    sort_max: int = SORT_MAX,
    walk_budget: int = WALK_BUDGET_STEPS,
) -> list[tuple[str, int]]:
    """Up to limit + 1 (cert_no, hit_rank) of the search, in order (call inside a read
    transaction, so every class sees the same snapshot)."""
    planner = _Planner(con, q, sort_max)
    want = q.limit + 1
    keys: list[tuple[str, int]] = []
    after = q.after
    for rank, name, inst in planner.classes():
        if len(keys) >= want:
            break
        if after is not None and rank < after[0]:
            continue
        walk, drive_name = planner.choose(name, inst)
        start = after[1] if after is not None and rank == after[0] else None
        need = want - len(keys)
        sql, args = _class_sql(q, name, inst, walk, drive_name, start, need)
        rows: list[Any] | None = None
        if walk:
            rows = _run_walk(con, ClassQuery(rank, sql, args, True), walk_budget)
        if rows is None:
            if walk:  # past its budget: the range, sorted, is the cheaper bound now
                sql, args = _class_sql(q, name, inst, False, drive_name, start, need)
            rows = con.execute(sql, args).fetchall()
        keys += [(row[0], rank) for row in rows]
    return keys


def explain(con: sqlite3.Connection, q: IndexQuery, sort_max: int = SORT_MAX) -> list[str]:
    """EXPLAIN QUERY PLAN of every class a first page may read, one line per plan step."""
    lines = []
    for cq in _Planner(con, q, sort_max).plan(q.limit + 1):
        lines += [row[3] for row in con.execute("EXPLAIN QUERY PLAN " + cq.sql, cq.args)]
    return lines
