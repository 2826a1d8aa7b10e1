"""Typed keys of the node's aiohttp application."""

from __future__ import annotations

from aiohttp import web

from province_node.auth import Authenticator
from province_node.config import NodeSettings
from province_node.heartbeat import HeartbeatLoop
from province_node.hub_client import HubClient
from province_node.metrics import NodeMetrics
from province_node.publisher import KafkaHealth, Relay
from province_node.registry import Registry
from province_node.web.console.import_jobs import ImportJobs
from province_node.web.console.sessions import SessionStore

SETTINGS = web.AppKey("settings", NodeSettings)
METRICS = web.AppKey("metrics", NodeMetrics)
HEALTH = web.AppKey("kafka_health", KafkaHealth)
AUTH = web.AppKey("auth", Authenticator)
REGISTRY = web.AppKey("registry", Registry)
RELAY = web.AppKey("relay", Relay)
HEARTBEAT = web.AppKey("heartbeat", HeartbeatLoop)
SESSIONS = web.AppKey("console_sessions", SessionStore)
IMPORT_JOBS = web.AppKey("console_import_jobs", ImportJobs)
# Asks the national hub for the console (visibility, health); one HTTP session for the app.
HUB = web.AppKey("hub_client", HubClient)
