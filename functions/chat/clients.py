"""AWS clients, created lazily once per execution environment and reused across invocations.

Cold starts pay only for the clients their path uses, each at its first use. They are botocore
clients from one shared botocore session, not boto3's: boto3 adds nothing these low-level clients
use, while its import and a ``boto3.session.Session`` per client cost more than the client itself;
one session also loads the endpoint and partition data once for every client it creates. The lean
@connections client needs no SDK client at all, only the session's credentials.

Factories are locked: the local runtime (and any threaded caller) may make the first call from many
threads at once, and ``functools.cache`` alone would let each of them build its own client.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from chat.connections_api import ConnectionsApi

# SDK retries stay on for DynamoDB/SQS/Lambda (standard mode). The @connections client has them off:
# delivery retries are chat.retry's job alone, bounded by the invocation's time budget.
_STANDARD = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "max_attempts": 3}}
_NO_RETRY = {"connect_timeout": 2, "read_timeout": 5, "retries": {"mode": "standard", "total_max_attempts": 1}}
_connections_apis: list[ConnectionsApi] = []
_caches: list[dict[tuple[Any, ...], Any]] = []
# botocore event handlers every session gets (and so every client created after they are added):
# a runtime hosting the handlers beside its own services answers their calls in-process this way.
_session_handlers: list[tuple[str, Callable[..., Any]]] = []
_lock = threading.RLock()  # re-entrant: a factory asks for the session under it
F = TypeVar("F", bound=Callable[..., Any])


def _once(factory: F) -> F:
    """A cache of ``factory``'s results per arguments whose first call runs once, under the lock."""
    cache: dict[tuple[Any, ...], Any] = {}
    _caches.append(cache)

    @functools.wraps(factory)
    def get(*args: Any) -> Any:
        try:
            return cache[args]  # the warm path: no lock
        except KeyError:
            pass
        with _lock:
            if args not in cache:
                cache[args] = factory(*args)
            return cache[args]

    get.cache_clear = cache.clear  # type: ignore[attr-defined]
    return get  # type: ignore[return-value]


@_once
def session() -> Any:
    """The botocore session every client of this process shares (credentials, region, data)."""
    import botocore.session

    created = botocore.session.get_session()
    for event_name, handler in _session_handlers:
        created.register(event_name, handler)
    return created


_session_cache = _caches[-1]  # session()'s


def add_session_handler(event_name: str, handler: Callable[..., Any]) -> None:
    """Register ``handler`` for ``event_name`` (e.g. ``before-send.dynamodb``) on the shared
    session, now and after every reset; clients created from then on get it."""
    with _lock:
        _session_handlers.append((event_name, handler))
        for cached in _session_cache.values():
            cached.register(event_name, handler)


def remove_session_handler(event_name: str, handler: Callable[..., Any]) -> None:
    """Undo ``add_session_handler`` (clients already created keep theirs: ``reset()`` them)."""
    with _lock:
        if (event_name, handler) in _session_handlers:
            _session_handlers.remove((event_name, handler))
        for cached in _session_cache.values():
            cached.unregister(event_name, handler)


def _client(service: str, options: dict[str, Any], **kwargs: Any) -> Any:
    from botocore.config import Config

    with _lock:  # botocore sessions are not documented as thread-safe for client creation
        return session().create_client(service, config=Config(**options), **kwargs)


@_once
def dynamodb() -> Any:
    return _client("dynamodb", _STANDARD)


@_once
def sqs() -> Any:
    return _client("sqs", _STANDARD)


@_once
def lambda_() -> Any:
    return _client("lambda", {**_STANDARD, "read_timeout": 30, "max_pool_connections": 64})


def credentials() -> Any:
    """The shared session's credentials (refreshable ones refresh themselves), or None."""
    return session().get_credentials()


def _connections_api(endpoint_url: str, region: str) -> ConnectionsApi:
    from chat.connections_api import ConnectionsApi

    api = ConnectionsApi(
        endpoint_url,
        region,
        credentials_provider=credentials,  # read at the first signed post: none needed in-process
        connect_timeout=2.0,  # as _NO_RETRY
        read_timeout=5.0,
        max_idle=128,  # FANOUT_CONCURRENCY's maximum: one idle socket per concurrent post
    )
    _connections_apis.append(api)  # closed by reset()
    return api


connections_api = _once(_connections_api)
connections_api.__doc__ = """The lean @connections client delivery posts with (chat.connections_api): keep-alive sockets
reused across invocations, no SDK retries (chat.retry's job), botocore's timeouts."""


@_once
def management(endpoint_url: str, region: str) -> Any:
    """botocore's full apigatewaymanagementapi client (the other @connections operations; the
    baseline of scripts/bench_delivery.py). Delivery does not use it."""
    return _client(
        "apigatewaymanagementapi",
        {**_NO_RETRY, "max_pool_connections": 64},
        endpoint_url=endpoint_url,
        region_name=region,
    )


def reset() -> None:
    """Forget every cached client and the session (tests and the local runtime switch endpoints
    and credentials)."""
    for cache in _caches:
        cache.clear()
    replaced = getattr(connections_api, "cache_clear", None)  # a test's stand-in factory
    if callable(replaced):
        replaced()
    while _connections_apis:
        _connections_apis.pop().close()
