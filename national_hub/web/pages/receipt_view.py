"""A signed receipt as the pages show it (pure): its facts in words, the receipt printed with
its key's fingerprint and the QR code of its checker's address (the verify page), the server's
check of a pasted receipt and the words of a text that is no receipt (the checker page,
receipt_routes), and the words receipt.js shows."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from markupsafe import Markup

from national_hub.query.receipts import (
    VERDICT_LABELS,
    CheckOutcome,
    MalformedKind,
    ReceiptCheck,
    ReceiptFacts,
    ReceiptKey,
    ReceiptKeySet,
    encode_token,
    fingerprint_groups,
    key_fingerprint,
    receipt_facts,
)
from national_hub.web.pages.filters import beijing_time
from national_hub.web.pages.labels import status_label
from national_hub.web.qr import qr_svg
from schemas.vocab import STATUS_LABELS

CHECKER_PATH = "/receipt"
ISSUER = "全国医师执业注册同步中心"

# What is wrong with a text that is not a receipt at all, for the person who pasted it.
MALFORMED_MESSAGES: dict[MalformedKind, str] = {
    "empty": "请粘贴回执内容，或扫描回执上的二维码打开本页。",
    "too_long": "内容过长，不是本中心签发的回执。",
    "shape": "无法识别：请粘贴核验结果中的回执（含 payload、signature、kid 的 JSON），"
    "或回执二维码链接中的回执码。",
    "encoding": "回执码中有无效的字符，可能没有复制完整，请重新复制。",
    "payload": "回执内容已损坏，无法读取，请重新复制。",
    "signature": "回执的签名格式不正确（应为 64 字节的 Base64 数据），可能没有复制完整。",
    "kid": "回执的密钥编号格式不正确（应为 16 位十六进制数字）。",
}


@dataclass(frozen=True, slots=True)
class FactsView:
    """A receipt's payload as shown: labels in Chinese, as_of in Beijing time."""

    verdict: str
    cert_no: str
    record_version: str
    status: str
    as_of: str
    cert_link: str | None


def facts_view(facts: ReceiptFacts) -> FactsView:
    """The payload's members in words; a member absent or of the wrong type shows as —."""
    cert_ok = facts.cert_no is not None and len(facts.cert_no) == 15 and facts.cert_no.isdigit()
    return FactsView(
        verdict=VERDICT_LABELS.get(facts.verdict or "", facts.verdict or "—"),
        cert_no=facts.cert_no or "—",
        record_version="—" if facts.record_version is None else str(facts.record_version),
        status=status_label(facts.status),
        as_of=beijing_time(facts.as_of),
        cert_link=f"/physicians/{facts.cert_no}" if cert_ok else None,
    )


@dataclass(frozen=True, slots=True)
class ReceiptView:
    """A signed receipt as printed on the verify page."""

    facts: FactsView
    payload: str
    signature: str
    kid: str
    fingerprint: tuple[str, ...]
    token: str
    checker_href: str
    checker_url: str
    qr: Markup


def checker_href(token: str) -> str:
    """The checker's address for a receipt (relative)."""
    return f"{CHECKER_PATH}?{urlencode({'r': token})}"


def receipt_view(receipt: dict[str, str], public_pem: str, base_url: str) -> ReceiptView:
    """The receipt, its key's fingerprint, and the QR code of its checker's full address."""
    token = encode_token(receipt)
    href = checker_href(token)
    url = base_url.rstrip("/") + href
    # segno writes the SVG (path data and an escaped <title>), nothing of the receipt's text.
    qr = Markup(qr_svg(url, "回执二维码：扫码打开回执查验页").svg)
    return ReceiptView(
        facts=facts_view(receipt_facts(receipt)),
        payload=receipt["payload"],
        signature=receipt["signature"],
        kid=receipt["kid"],
        fingerprint=tuple(fingerprint_groups(key_fingerprint(public_pem))),
        token=token,
        checker_href=href,
        checker_url=url,
        qr=qr,
    )


def checker_labels() -> dict[str, dict[str, str]]:
    """The words receipt.js shows (one source for the server's and the browser's pages)."""
    return {
        "standing": {
            "current": "当前密钥",
            "next": "新密钥，即将启用",
            "retired": "旧密钥，已于 {retired_at} 停用",
        },
        "verdicts": dict(VERDICT_LABELS),
        "statuses": {s.value: label for s, label in STATUS_LABELS.items()},
        "malformed": {kind: text for kind, text in MALFORMED_MESSAGES.items()},
    }


@dataclass(frozen=True, slots=True)
class KeyView:
    """One key of the hub's key set as shown: its kid, fingerprint and standing in words."""

    kid: str
    fingerprint: tuple[str, ...]
    status: str
    standing: str

    @property
    def current(self) -> bool:
        return self.status == "current"

    @property
    def upcoming(self) -> bool:
        return self.status == "next"


def key_standing(key: ReceiptKey) -> str:
    """Whether the key signs now, or since when it no longer does (Beijing time)."""
    if key.status == "current":
        since = f"，自 {beijing_time(key.not_before)} 起启用" if key.not_before else ""
        return f"当前密钥{since}"
    if key.status == "next":
        return "新密钥，即将启用（密钥轮换期间可能已用于签发回执）"
    return f"旧密钥，已于 {beijing_time(key.retired_at)} 停用"


def key_view(key: ReceiptKey) -> KeyView:
    """A key as the checker shows it."""
    return KeyView(
        kid=key.kid,
        fingerprint=tuple(fingerprint_groups(key_fingerprint(key.public_pem))),
        status=key.status,
        standing=key_standing(key),
    )


def key_views(keys: ReceiptKeySet) -> list[KeyView]:
    """The key set as the checker lists it: the current key first, then the retired ones."""
    return [key_view(k) for k in keys.keys]


@dataclass(frozen=True, slots=True)
class ServerCheck:
    """This server's check of a ?r= receipt, and the key its kid chose (None: no such key)."""

    outcome: CheckOutcome
    key: KeyView | None
    facts: FactsView

    @property
    def genuine(self) -> bool:
        return self.outcome == "genuine"


def server_check(check: ReceiptCheck, facts: ReceiptFacts) -> ServerCheck:
    """The check as the page shows it."""
    return ServerCheck(
        outcome=check.outcome,
        key=key_view(check.key) if check.key is not None else None,
        facts=facts_view(facts),
    )
