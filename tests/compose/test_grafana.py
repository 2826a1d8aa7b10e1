"""compose/grafana: the provisioned dashboard is valid and queries only the contract's metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose.helpers import (
    COMPOSE,
    CONTRACT_SERIES,
    GRAFANA,
    grafana_to_promql,
    metric_names,
    run_promtool,
)

DASHBOARD = GRAFANA / "dashboards" / "regsync.json"
DATASOURCES = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA / "provisioning" / "dashboards" / "regsync.yml"


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def _panels() -> list[dict[str, Any]]:
    try:
        panels = _dashboard().get("panels", [])
    except (OSError, ValueError):
        return []  # test_dashboard_is_valid_json reports it
    out = []
    for p in panels:
        out.append(p)
        out.extend(p.get("panels", []))  # panels inside collapsed rows
    return out


PANELS = _panels()
PANEL_IDS = [f"{p.get('id')}-{p.get('title', '')[:30]}" for p in PANELS]


def _datasource_uid() -> str:
    doc = yaml.safe_load(DATASOURCES.read_text(encoding="utf-8"))
    (ds,) = [d for d in doc["datasources"] if d["type"] == "prometheus"]
    return str(ds["uid"])


def test_dashboard_is_valid_json() -> None:
    doc = _dashboard()
    assert isinstance(doc, dict) and doc.get("panels"), "no panels"


def test_dashboard_schema_version_is_current() -> None:
    assert 36 <= _dashboard()["schemaVersion"] <= 41


def test_panel_ids_are_unique() -> None:
    ids = [p.get("id") for p in PANELS]
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize("panel", PANELS, ids=PANEL_IDS)
def test_panel_queries_the_provisioned_datasource_by_uid(panel: dict[str, Any]) -> None:
    uid = _datasource_uid()
    refs = [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]
    for ref in refs:
        assert isinstance(ref, dict) and ref.get("uid") == uid, ref


@pytest.mark.parametrize("panel", PANELS, ids=PANEL_IDS)
def test_panel_exprs_use_only_contract_metric_names(panel: dict[str, Any]) -> None:
    exprs = [t["expr"] for t in panel.get("targets", []) if "expr" in t]
    assert exprs, "panel has no PromQL expression"
    for expr in exprs:
        unknown = metric_names(expr) - CONTRACT_SERIES
        assert not unknown, f"{expr!r} uses metrics not in CONTRACT §6: {sorted(unknown)}"


def test_template_variables_use_only_contract_metric_names() -> None:
    for var in _dashboard().get("templating", {}).get("list", []):
        if var.get("type") != "query":
            continue
        query = var.get("definition") or var.get("query", {}).get("query", "")
        # label_values(selector, label): only the selector names a metric
        m = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
        selector = m.group(1) if m else query
        unknown = metric_names(selector) - CONTRACT_SERIES
        assert not unknown, f"variable {var['name']}: {sorted(unknown)}"


def test_panel_exprs_are_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"panel_{p['id']}_{t['refId']}", "expr": grafana_to_promql(t["expr"])}
        for p in PANELS
        for t in p.get("targets", [])
        if "expr" in t
    ]
    path = tmp_path / "dashboard_exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    proc = run_promtool("check", "rules", str(path))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("what", "metric", "panel_type"),
    [
        ("freshness lag per province", "regsync_hub_freshness_lag_seconds", "timeseries"),
        ("outbox backlog per province", "regsync_node_outbox_backlog", "timeseries"),
        ("apply rate", "regsync_hub_events_applied_total", "timeseries"),
        ("dead letters", "regsync_hub_events_rejected_total", "timeseries"),
        ("consumer lag", "regsync_hub_consumer_lag_messages", "timeseries"),
        ("sync status table", "regsync_hub_sync_status", "table"),
    ],
)
def test_dashboard_has_panel(what: str, metric: str, panel_type: str) -> None:
    found = [
        p
        for p in PANELS
        if p.get("type") == panel_type
        and any(metric in metric_names(t.get("expr", "")) for t in p.get("targets", []))
    ]
    assert found, f"no {panel_type} panel for {what} ({metric})"


def test_dashboard_provider_reads_the_directory_compose_mounts() -> None:
    provider = yaml.safe_load(PROVIDERS.read_text(encoding="utf-8"))["providers"][0]
    compose = yaml.safe_load((COMPOSE / "docker-compose.yml").read_text(encoding="utf-8"))
    mounts = compose["services"]["grafana"]["volumes"]
    targets = [m.split(":")[1] for m in mounts if m.startswith("./grafana/dashboards:")]
    assert targets == [provider["options"]["path"]]


# Every hub replica exports the same per-province series (compose scrapes hub-1 and hub-2):
# a panel adding them up would show twice the country. Only the latency histogram's buckets
# may be summed (both replicas' observations make one distribution).
HUB_EXPRS = [
    target["expr"]
    for panel in PANELS
    for target in panel.get("targets", [])
    if "regsync_hub_" in target.get("expr", "") and "_bucket" not in target["expr"]
]


@pytest.mark.parametrize("expr", HUB_EXPRS)
def test_panel_exprs_do_not_add_up_hub_replicas(expr: str) -> None:
    assert not expr.startswith("sum"), f"{expr}: take the max over hub replicas"
