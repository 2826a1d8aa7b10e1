"""Typed keys of the hub's aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from national_hub.config import HubSettings
    from national_hub.consumer import Ingestor
    from national_hub.metrics import HubMetrics
    from national_hub.store import Store

SETTINGS: web.AppKey[HubSettings] = web.AppKey("settings")
STORE: web.AppKey[Store] = web.AppKey("store")
INGESTOR: web.AppKey[Ingestor] = web.AppKey("ingestor")
METRICS: web.AppKey[HubMetrics] = web.AppKey("metrics")
