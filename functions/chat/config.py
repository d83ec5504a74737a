"""Configuration read once per cold start from the environment (see functions/README.md)."""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass, field


def _int(name: str, default: int, low: int, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise RuntimeError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise RuntimeError(f"{name} must be within {low}..{high}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    table_name: str
    redelivery_queue_url: str | None
    api_id: str | None
    stage: str | None
    region: str
    connection_ttl_seconds: int
    fanout_concurrency: int
    delivery_budget_ms: int
    app_version: str
    auth_issuer: str
    auth_secret_parameter: str | None
    # Local runtime only: {"region": "http://127.0.0.1:8000/dev"}; empty on AWS.
    connections_endpoints: dict[str, str] = field(default_factory=dict)


@functools.cache
def settings() -> Settings:
    endpoints_raw = os.environ.get("CONNECTIONS_ENDPOINTS", "")
    try:
        endpoints = json.loads(endpoints_raw) if endpoints_raw else {}
    except ValueError:
        raise RuntimeError("CONNECTIONS_ENDPOINTS must be a JSON object") from None
    return Settings(
        table_name=os.environ.get("TABLE_NAME", ""),
        redelivery_queue_url=os.environ.get("REDELIVERY_QUEUE_URL") or None,
        api_id=os.environ.get("WEBSOCKET_API_ID") or None,
        stage=os.environ.get("WEBSOCKET_STAGE") or None,
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        connection_ttl_seconds=_int("CONNECTION_TTL_SECONDS", 7500, 60, 86400),
        fanout_concurrency=_int("FANOUT_CONCURRENCY", 64, 1, 128),
        delivery_budget_ms=_int("DELIVERY_BUDGET_MS", 5000, 100, 60000),
        app_version=os.environ.get("APP_VERSION", "dev"),
        auth_issuer=os.environ.get("AUTH_ISSUER", "dynamowave"),
        auth_secret_parameter=os.environ.get("AUTH_SECRET_PARAMETER") or None,
        connections_endpoints=endpoints,
    )


def management_endpoint(api_id: str, region: str, stage: str) -> str:
    """The @connections endpoint, built from id/region/stage, never from the request's domain name
    (a custom or failover domain would send management calls to the wrong place)."""
    override = settings().connections_endpoints.get(region)
    if override:
        return override
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
