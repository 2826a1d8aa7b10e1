"""The sync token, "<province>:<seq>" (e.g. "50:1234"): the province node hands it out with
every write, the hub parses it to wait for or explain that change, and both OpenAPI documents
describe it with PATTERN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import WithJsonSchema

_PROVINCE = "[0-9]{2}"
# At most 18 digits: every such seq fits the signed 64-bit integers both stores keep it in.
_SEQ = "[0-9]{1,18}"
PATTERN = f"^{_PROVINCE}:{_SEQ}$"
_TOKEN = re.compile(f"({_PROVINCE}):({_SEQ})")

# The token in an answer body, as its JSON Schema says it.
SyncTokenText = Annotated[
    str,
    WithJsonSchema({"type": "string", "pattern": PATTERN, "description": "<province>:<seq>"}),
]


@dataclass(frozen=True, slots=True)
class SyncToken:
    """A province's change `seq`, as a client names it to the hub."""

    province: str
    seq: int

    @classmethod
    def parse(cls, text: str) -> SyncToken:
        """The token written in `text` (the whole of it); ValueError if it is not one.

        Only the form is checked: whether the province is in the federation and whether the
        seq is at least 1 is the reader's question.
        """
        m = _TOKEN.fullmatch(text)
        if m is None:
            raise ValueError(f'a sync token is "<province>:<seq>", e.g. "50:1234", not {text!r}')
        return cls(m[1], int(m[2]))

    def __str__(self) -> str:
        return f"{self.province}:{self.seq}"
