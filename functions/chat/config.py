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


def _choice(name: str, default: str, allowed: tuple[str, ...]) -> str:
    value = os.environ.get(name) or default
    if value not in allowed:
        raise RuntimeError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")
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
    # Identity ($connect authorizer): "none", "oidc" or "cognito".
    auth_mode: str = "none"
    auth_issuer: str = "dynamowave"
    auth_audience: str = ""
    auth_jwks_url: str | None = None  # default: the issuer's discovery document says where
    auth_name_claim: str = "name"  # the claim the display name comes from
    auth_token_use: str | None = None  # Cognito: "id" or "access"
    max_token_lifetime_seconds: int = 86400  # exp - iat above this is refused
    allowed_origins: tuple[str, ...] = ()  # browser Origins allowed to open a socket (empty: any)
    # Abuse limits (per connection / per user).
    send_rate_per_second: int = 10
    send_burst: int = 20
    max_rooms_per_connection: int = 20
    max_connections_per_user: int = 10
    # Sharded fan-out: rooms above the threshold are split into batches on the fan-out queue.
    fanout_queue_url: str | None = None
    fanout_shard_threshold: int = 1000
    fanout_shard_size: int = 250
    # Receives of a redelivery record before SQS moves it to the DLQ (the redrive policy's value).
    redelivery_max_receive_count: int = 5
    # A 410 from a connection younger than this is not taken for a dead one (chat.service.prune).
    opening_grace_ms: int = 10_000
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
        auth_mode=_choice("AUTH_MODE", "none", ("none", "oidc", "cognito")),
        auth_issuer=os.environ.get("AUTH_ISSUER", "dynamowave"),
        auth_audience=os.environ.get("AUTH_AUDIENCE", ""),
        auth_jwks_url=os.environ.get("AUTH_JWKS_URL") or None,
        auth_name_claim=os.environ.get("AUTH_NAME_CLAIM") or "name",
        auth_token_use=os.environ.get("AUTH_TOKEN_USE") or None,
        max_token_lifetime_seconds=_int("MAX_TOKEN_LIFETIME_SECONDS", 86400, 60, 7 * 86400),
        allowed_origins=tuple(o.strip() for o in os.environ.get("ALLOWED_ORIGINS", "").split(",") if o.strip()),
        send_rate_per_second=_int("SEND_RATE_PER_SECOND", 10, 1, 1000),
        send_burst=_int("SEND_BURST", 20, 1, 10000),
        max_rooms_per_connection=_int("MAX_ROOMS_PER_CONNECTION", 20, 1, 1000),
        max_connections_per_user=_int("MAX_CONNECTIONS_PER_USER", 10, 1, 1000),
        fanout_queue_url=os.environ.get("FANOUT_QUEUE_URL") or None,
        fanout_shard_threshold=_int("FANOUT_SHARD_THRESHOLD", 1000, 2, 1_000_000),
        fanout_shard_size=_int("FANOUT_SHARD_SIZE", 250, 1, 1000),
        redelivery_max_receive_count=_int("REDELIVERY_MAX_RECEIVE_COUNT", 5, 1, 1000),
        opening_grace_ms=_int("OPENING_GRACE_MS", 10_000, 0, 60_000),
        connections_endpoints=endpoints,
    )


def management_endpoint(api_id: str, region: str, stage: str) -> str:
    """The @connections endpoint, built from id/region/stage, never from the request's domain name
    (a custom or failover domain would send management calls to the wrong place)."""
    override = settings().connections_endpoints.get(region)
    if override:
        return override
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"
