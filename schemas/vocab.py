"""Controlled vocabularies: enumeration codes, their Chinese labels, scopes and provinces."""

from __future__ import annotations

from enum import StrEnum


class Level(StrEnum):
    """Practice level (执业级别)."""

    PHYSICIAN = "physician"
    ASSISTANT = "assistant"


class Category(StrEnum):
    """Practice category (执业类别)."""

    CLINICAL = "clinical"
    TCM = "tcm"
    DENTAL = "dental"
    PUBLIC_HEALTH = "public_health"


class Status(StrEnum):
    """Registration status (注册状态)."""

    ACTIVE = "active"
    CHANGING = "changing"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"
    REVOKED = "revoked"
    TRANSFERRED_OUT = "transferred_out"


class Gender(StrEnum):
    """Gender (性别)."""

    MALE = "male"
    FEMALE = "female"


class CancelReason(StrEnum):
    """Legal ground for cancelling a registration (注销注册)."""

    DEATH = "death"
    MISSING = "missing"
    CRIMINAL_PENALTY = "criminal_penalty"
    FAILED_REASSESSMENT = "failed_reassessment"
    SUSPENDED_TWO_YEARS = "suspended_two_years"
    HEALTH = "health"
    CERTIFICATE_MISUSE = "certificate_misuse"
    VOLUNTARY = "voluntary"
    OTHER = "other"


class EventType(StrEnum):
    """Lifecycle event carried on a province topic."""

    REGISTERED = "registered"
    CHANGE_REQUESTED = "change_requested"
    CHANGED = "changed"
    CHANGE_REJECTED = "change_rejected"
    SITE_FILED = "site_filed"
    SITE_WITHDRAWN = "site_withdrawn"
    ASSESSED = "assessed"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    CANCELLED = "cancelled"
    REVOKED = "revoked"
    TRANSFERRED_OUT = "transferred_out"


LEVEL_LABELS: dict[Level, str] = {
    Level.PHYSICIAN: "执业医师",
    Level.ASSISTANT: "执业助理医师",
}

CATEGORY_LABELS: dict[Category, str] = {
    Category.CLINICAL: "临床",
    Category.TCM: "中医",
    Category.DENTAL: "口腔",
    Category.PUBLIC_HEALTH: "公共卫生",
}

STATUS_LABELS: dict[Status, str] = {
    Status.ACTIVE: "正常",
    Status.CHANGING: "变更中",
    Status.SUSPENDED: "暂停执业",
    Status.CANCELLED: "注销",
    Status.REVOKED: "吊销",
    Status.TRANSFERRED_OUT: "已转出",
}

GENDER_LABELS: dict[Gender, str] = {
    Gender.MALE: "男",
    Gender.FEMALE: "女",
}

# Wording follows 医师法 (2022) art. 18 and 医师执业注册管理办法 (2017) art. 18.
CANCEL_REASON_LABELS: dict[CancelReason, str] = {
    CancelReason.DEATH: "死亡",
    CancelReason.MISSING: "被宣告失踪",
    CancelReason.CRIMINAL_PENALTY: "受刑事处罚",
    CancelReason.FAILED_REASSESSMENT: "暂停执业期满再次考核仍不合格",
    CancelReason.SUSPENDED_TWO_YEARS: "中止医师执业活动满二年",
    CancelReason.HEALTH: "身体健康状况不适宜继续执业",
    CancelReason.CERTIFICATE_MISUSE: "出借、出租、抵押、转让、涂改医师执业证书",
    CancelReason.VOLUNTARY: "本人主动申请",
    CancelReason.OTHER: "法律法规规定的其他情形",
}

EVENT_TYPE_LABELS: dict[EventType, str] = {
    EventType.REGISTERED: "注册",
    EventType.CHANGE_REQUESTED: "申请变更注册",
    EventType.CHANGED: "变更注册",
    EventType.CHANGE_REJECTED: "变更注册未予批准",
    EventType.SITE_FILED: "多机构执业备案",
    EventType.SITE_WITHDRAWN: "撤销多机构执业备案",
    EventType.ASSESSED: "定期考核",
    EventType.SUSPENDED: "暂停执业",
    EventType.REINSTATED: "恢复执业",
    EventType.CANCELLED: "注销注册",
    EventType.REVOKED: "吊销",
    EventType.TRANSFERRED_OUT: "转出",
}

OTHER_SCOPE = "省级以上卫生行政部门规定的其他专业"
GENERAL_PRACTICE_SCOPE = "全科医学专业"

_CLINICAL_SCOPES = (
    "内科专业",
    "外科专业",
    "妇产科专业",
    "儿科专业",
    "眼耳鼻咽喉科专业",
    "皮肤病与性病专业",
    "精神卫生专业",
    "职业病专业",
    "医学影像和放射治疗专业",
    "医学检验、病理专业",
    GENERAL_PRACTICE_SCOPE,
    "急救医学专业",
    "康复医学专业",
    "预防保健专业",
    "特种医学与军事医学专业",
    "计划生育技术服务专业",
    "重症医学专业",
)

_TCM_SCOPES = (
    "中医专业",
    "中西医结合专业",
    "蒙医专业",
    "藏医专业",
    "维医专业",
    "傣医专业",
    GENERAL_PRACTICE_SCOPE,
)

# 卫医发〔2001〕169号 plus later additions (重症医学 2009, 全科医学 under 中医); the "other" scope
# is open to every category because provincial authorities may define extra scopes.
SCOPES_BY_CATEGORY: dict[Category, frozenset[str]] = {
    Category.CLINICAL: frozenset((*_CLINICAL_SCOPES, OTHER_SCOPE)),
    Category.TCM: frozenset((*_TCM_SCOPES, OTHER_SCOPE)),
    Category.DENTAL: frozenset(("口腔专业", OTHER_SCOPE)),
    Category.PUBLIC_HEALTH: frozenset(("公共卫生类别专业", OTHER_SCOPE)),
}

ALL_SCOPES: frozenset[str] = frozenset().union(*SCOPES_BY_CATEGORY.values())

MAX_SCOPES = 3

PROVINCES: dict[str, str] = {
    "11": "北京市",
    "12": "天津市",
    "13": "河北省",
    "14": "山西省",
    "15": "内蒙古自治区",
    "21": "辽宁省",
    "22": "吉林省",
    "23": "黑龙江省",
    "31": "上海市",
    "32": "江苏省",
    "33": "浙江省",
    "34": "安徽省",
    "35": "福建省",
    "36": "江西省",
    "37": "山东省",
    "41": "河南省",
    "42": "湖北省",
    "43": "湖南省",
    "44": "广东省",
    "45": "广西壮族自治区",
    "46": "海南省",
    "50": "重庆市",
    "51": "四川省",
    "52": "贵州省",
    "53": "云南省",
    "54": "西藏自治区",
    "61": "陕西省",
    "62": "甘肃省",
    "63": "青海省",
    "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区",
    # GB/T 2260 has no code for the Corps: its divisions' region codes sit under 65 (e.g. 659001
    # 石河子市). It still runs its own registry, so it needs a node id of its own; 66 is unused
    # by GB/T 2260 and keeps the two-digit shape every topic name and sync token relies on.
    "66": "新疆生产建设兵团",
}


def province_label(code: str, name: str | None = None) -> str:
    """How sentences name a province: '重庆市 (50)'.

    `name` is the name to show (a federation file's); without it the standard name, and for a
    code outside PROVINCES the code alone.
    """
    return f"{name or PROVINCES.get(code, code)} ({code})"


# -- the hub's sync transparency (CONTRACT §5) -----------------------------------------------------


class SyncState(StrEnum):
    """A province's sync status at the hub (GET /v1/sync/status, the freshness of answers)."""

    OK = "ok"
    LAGGING = "lagging"
    STALLED = "stalled"
    PUBLISHING_BLOCKED = "publishing_blocked"
    OFFLINE = "offline"
    UNKNOWN = "unknown"


# Each sync status in words, shown beside it on every page (the hub's site, the node's console):
# the status is readable without its colour.
SYNC_STATE_LABELS: dict[SyncState, str] = {
    SyncState.OK: "同步正常",
    SyncState.LAGGING: "同步延迟",
    SyncState.STALLED: "同步停滞",
    SyncState.PUBLISHING_BLOCKED: "发送受阻",
    SyncState.OFFLINE: "离线",
    SyncState.UNKNOWN: "状态未知",
}


class ExplanationState(StrEnum):
    """Where a record or a sync token stands on its way to the hub (GET /v1/sync/explain)."""

    APPLIED = "applied"
    IN_TRANSIT = "in_transit"
    NOT_PUBLISHED = "not_published"
    UNKNOWN_TO_PROVINCE = "unknown_to_province"
    PROVINCE_UNREACHABLE = "province_unreachable"
    REJECTED = "rejected"
    TRANSFERRED = "transferred"
