"""Institution abbreviations (重医附一院 = 重庆医科大学附属第一医院) for search and verify."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from national_hub.ingest.names import normalise_name
from schemas.checksums import CREDIT_CODE_CHARS, credit_code_valid
from schemas.federation import ConfigError

SHIPPED = "data/aliases.csv"
_COLUMNS = ("alias", "full_name", "org_code")


@dataclass(frozen=True, slots=True)
class AliasEntry:
    """What an abbreviation stands for: a full official name and, when known, its credit code."""

    alias: str
    full_name: str
    org_code: str | None = None


def alias_key(text: str) -> str:
    """The lookup key of an alias or institution name: width-, case- and space-insensitive."""
    return normalise_name(text)


def _valid_org_code(code: str) -> bool:
    return len(code) == 18 and CREDIT_CODE_CHARS.issuperset(code) and credit_code_valid(code)


def _read_rows(text: str, origin: str) -> Iterator[AliasEntry]:
    """Parse alias CSV text; raise ConfigError naming the file and line of a bad row."""
    reader = csv.DictReader(text.splitlines())
    header = tuple(reader.fieldnames or ())
    if header[:2] != _COLUMNS[:2] or not set(header) <= set(_COLUMNS):
        raise ConfigError(f"{origin}: header must be {','.join(_COLUMNS)} (org_code optional)")
    for row in reader:
        line = reader.line_num
        alias = (row.get("alias") or "").strip()
        full_name = (row.get("full_name") or "").strip()
        org_code = (row.get("org_code") or "").strip().upper() or None
        if not alias or not full_name:
            raise ConfigError(f"{origin}:{line}: alias and full_name are required")
        if org_code is not None and not _valid_org_code(org_code):
            raise ConfigError(f"{origin}:{line}: org_code {org_code!r} is not a valid credit code")
        yield AliasEntry(alias=alias, full_name=full_name, org_code=org_code)


class AliasTable:
    """Maps normalised abbreviations to AliasEntry; later sources override earlier ones."""

    __slots__ = ("_by_key",)

    def __init__(self, entries: Iterable[AliasEntry] = ()) -> None:
        self._by_key: dict[str, AliasEntry] = {}
        for entry in entries:
            self.add(entry)

    @classmethod
    def load(cls, operator_file: Path | None = None) -> AliasTable:
        """Load the shipped table, then the operator's file (same format) on top of it."""
        table = cls()
        shipped = resources.files("national_hub").joinpath(SHIPPED)
        for entry in _read_rows(shipped.read_text(encoding="utf-8"), f"national_hub/{SHIPPED}"):
            table.add(entry)
        if operator_file is not None:
            try:
                # utf-8-sig: operators edit this in spreadsheet tools that prepend a BOM.
                text = Path(operator_file).read_text(encoding="utf-8-sig")
            except OSError as exc:
                raise ConfigError(
                    f"hub.aliases_file: cannot read {operator_file}: {exc.strerror}"
                ) from None
            for entry in _read_rows(text, str(operator_file)):
                table.add(entry)
        return table

    def add(self, entry: AliasEntry) -> None:
        """Add or replace one abbreviation."""
        self._by_key[alias_key(entry.alias)] = entry

    def resolve(self, text: str) -> AliasEntry | None:
        """Return what text abbreviates, or None if it is not a known abbreviation."""
        return self._by_key.get(alias_key(text))

    def __len__(self) -> int:
        return len(self._by_key)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and alias_key(text) in self._by_key
