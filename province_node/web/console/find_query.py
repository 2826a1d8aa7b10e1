"""The find page's query, read and checked (pure): what to look for, by which kind, in which
status, from which page. Each bad value is named with a Chinese message beside its field.

An ID number is asked for only in a posted form, never in an address (browser history, proxy
logs and the sign-in redirect keep addresses): `address_allowed` says when a search may go to
its GET address."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from pydantic import TypeAdapter, ValidationError

from province_node.cursor import decode_cursor
from province_node.errors import InvalidRequest
from province_node.web.console.field_messages import chinese
from schemas.record import IdNumber
from schemas.vocab import Status

# The kinds of search: (value, label); the first is the default.
KINDS: tuple[tuple[str, str], ...] = (
    ("cert_no", "执业证书编码"),
    ("name", "姓名"),
    ("id_number", "身份证号"),
    ("institution", "执业机构"),
)
_KIND_VALUES = frozenset(k for k, _ in KINDS)
_ID_NUMBER: TypeAdapter[str] = TypeAdapter(IdNumber)


@dataclass(frozen=True, slots=True)
class FindQuery:
    """A search as asked: the text, its kind, a status filter, the page's cursor."""

    text: str = ""
    kind: str = "cert_no"
    status: str = ""
    after: str | None = None
    # Field → Chinese message, for each bad value (the search is not run when any is set).
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def asked(self) -> bool:
        """Whether there is anything to search for (else the page shows the empty form)."""
        return bool(self.text or self.status)


# Said when an address carries an ID number to search for (a link or bookmark of an older page):
# the number is not searched, so the search is never asked for through an address.
ID_NUMBER_BY_FORM = "为保护个人信息，身份证号不通过网址查找。请在上方输入身份证号后点击“查找”。"


def is_id_number(text: str) -> bool:
    """Whether text is a valid ID number (whatever kind of search it was typed into)."""
    try:
        _ID_NUMBER.validate_python(text)
    except ValidationError:
        return False
    return True


def read_query(query: Mapping[str, str]) -> FindQuery:
    """The search of a find page's address (?q=&kind=&status=&cursor=)."""
    text = (query.get("q") or "").strip()
    kind = query.get("kind") or "cert_no"
    status = query.get("status") or ""
    errors: dict[str, str] = {}
    if status and status not in Status.__members__.values():
        errors["status"] = "请从列表中选择注册状态。"
    if kind not in _KIND_VALUES:
        # The text is checked against its kind, so not at all while the kind is unknown.
        errors["kind"] = "请从列表中选择查找方式。"
        kind = "cert_no"
    elif "q" in query and not text and not status:
        errors["q"] = "请输入要查找的内容。"
    elif text and kind == "cert_no" and (len(text) != 15 or not text.isdigit()):
        errors["q"] = "执业证书编码应为 15 位数字，请核对。"
    elif text and kind == "id_number":
        try:
            text = _ID_NUMBER.validate_python(text)
        except ValidationError as exc:
            errors["q"] = chinese("id_number", exc.errors()[0]["msg"], {"id_number": text})
    elif text and kind in ("name", "institution") and len(text) > 100:
        errors["q"] = "查找内容最多 100 个字。"
    if kind == "institution" and len(text) == 18 and text.isalnum():
        text = text.upper()  # credit codes are stored upper-case
    after = None
    try:
        after = decode_cursor(query.get("cursor"))
    except InvalidRequest:
        errors["cursor"] = "翻页地址已失效，请重新查找。"
    return FindQuery(text, kind, status, after, errors)


def address_allowed(q: FindQuery) -> bool:
    """Whether the posted search q may be answered by a redirect to its address: not a search
    by ID number, nor one whose text is an ID number or refused (its page is drawn from the
    POST, the text in no address)."""
    return q.kind != "id_number" and not q.errors and not is_id_number(q.text)


def address_of(q: FindQuery, cursor: str | None = None) -> str:
    """The find page's address of a search, at the page `cursor` names (never a search by ID
    number: see address_allowed)."""
    query = {"q": q.text, "kind": q.kind, "status": q.status, "cursor": cursor}
    return "/?" + urlencode({k: v for k, v in query.items() if v})
