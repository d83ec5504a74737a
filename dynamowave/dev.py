"""`dynamowave dev`: the local runtime (see docs/architecture.md, "Local runtime")."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from aiohttp import web

from dynamowave import cliargs
from dynamowave.local.idp import LOCAL_CLIENT_ID
from dynamowave.local.idp import PATH as IDP_PATH

DEFAULT_REGIONS = ("eu-west-1", "us-east-1")
DEFAULT_DELIVERY_BUDGET_MS = "3000"


# Timing and fault injection: flag, type, default, help.
TUNING_OPTIONS: tuple[tuple[str, Callable[[str], Any], float, str], ...] = (
    ("--post-fault-rate", cliargs.rate, 0.0, "share of @connections posts failing with 429/500"),
    ("--post-gone-rate", cliargs.rate, 0.0, "share of @connections posts answered 410 (the socket closes too)"),
    ("--post-latency-ms", cliargs.non_negative_int, 0, "latency added to every @connections post"),
    (
        "--handshake-delay-ms",
        cliargs.non_negative_int,
        0,
        "delay between a successful $connect and the socket opening (posts to it meanwhile: 410)",
    ),
    ("--dynamodb-fault-rate", cliargs.rate, 0.0, "share of DynamoDB calls answered with throttling"),
    ("--idle-timeout", cliargs.positive_seconds, 600, "idle timeout, seconds"),
    ("--max-connection-seconds", cliargs.positive_seconds, 7200, "maximum connection duration, seconds"),
    ("--redelivery-delay", cliargs.non_negative_int, 1, "redelivery queue delay, seconds"),
    ("--redelivery-visibility", cliargs.positive_int, 4, "seconds a failed redelivery waits for its next try"),
    ("--max-receive-count", cliargs.positive_int, 3, "receives of a redelivery record before the DLQ"),
)


def origin(value: str) -> str:
    """A browser Origin: scheme://host[:port], nothing after it (what browsers send)."""
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/") or parts.query:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an origin like https://chat.example.com or http://host:8000"
        )
    return f"{parts.scheme}://{parts.netloc}"


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", type=cliargs.host, default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=cliargs.port, default=8000, help="HTTP/WebSocket port (a second region: +1)")
    parser.add_argument("--stage", type=cliargs.stage, default="dev", help="API stage, the WebSocket path")
    parser.add_argument("--dynamodb-endpoint", metavar="URL", help="use this DynamoDB (default: embedded moto)")
    parser.add_argument(
        "--auth",
        choices=("off", "dev"),
        default="off",
        help="dev: $connect runs the production OIDC authorizer against the runtime's own RS256 issuer "
        "(sign in on the page, or `dynamowave token --name NAME`); off: names are not authenticated",
    )
    parser.add_argument(
        "--allowed-origin",
        dest="allowed_origins",
        action="append",
        metavar="ORIGIN",
        type=origin,
        help="browser Origin allowed to open a socket (repeatable; default: the runtime's own http origins)",
    )
    parser.add_argument(
        "--regions",
        type=int,
        choices=(1, 2),
        default=1,
        help="2 runs a second region on PORT+1 over the same table, with stream fan-out",
    )
    parser.add_argument("--region", default=DEFAULT_REGIONS[0], help="the (first) region's name")
    parser.add_argument("--second-region", default=DEFAULT_REGIONS[1], help="the second region's name")
    parser.add_argument("--table-name", default="dynamowave-local", help="table name")
    for flag, kind, default, help_text in TUNING_OPTIONS:
        parser.add_argument(flag, type=kind, default=default, help=help_text)
    parser.add_argument("--seed", type=int, help="seed fault injection, for reproducible runs")


def configure_handlers(
    args: argparse.Namespace,
    backend: Any,
    endpoints: dict[str, str],
    api_id: str,
    dynamodb_url: str,
    issuer: str | None = None,
    allowed_origins: tuple[str, ...] = (),
) -> None:
    """The environment the handlers read, as Terraform would set it on AWS, pointed at local services."""
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": args.region,
            "AWS_DEFAULT_REGION": args.region,
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
            "AWS_ENDPOINT_URL_SQS": backend.services_url,
            "TABLE_NAME": backend.table_name,
            "REDELIVERY_QUEUE_URL": backend.redelivery_url,
            "FANOUT_QUEUE_URL": backend.fanout_url,
            "REDELIVERY_MAX_RECEIVE_COUNT": str(args.max_receive_count),
            "WEBSOCKET_API_ID": api_id,
            "WEBSOCKET_STAGE": args.stage,
            "CONNECTIONS_ENDPOINTS": json.dumps(endpoints),
            "APP_VERSION": "local",
            "DELIVERY_BUDGET_MS": os.environ.get("DELIVERY_BUDGET_MS", DEFAULT_DELIVERY_BUDGET_MS),
        }
    )
    os.environ.update(auth_environment(args, issuer, allowed_origins))
    for name in ("AWS_PROFILE", "AUTH_JWKS_URL", "AUTH_TOKEN_USE", "AUTH_SECRET_PARAMETER"):
        os.environ.pop(name, None)
    from chat import deps

    deps.reset()


def auth_environment(args: argparse.Namespace, issuer: str | None, allowed_origins: tuple[str, ...]) -> dict[str, str]:
    """What Terraform sets for the authorizer, pointed at the runtime's own issuer: the very
    production code then validates the local tokens (signature, iss, aud, lifetime, Origin)."""
    env = {"AUTH_MODE": "none", "ALLOWED_ORIGINS": ",".join(allowed_origins), "AUTH_NAME_CLAIM": "name"}
    if args.auth == "dev" and issuer:
        env.update({"AUTH_MODE": "oidc", "AUTH_ISSUER": issuer, "AUTH_AUDIENCE": LOCAL_CLIENT_ID})
    return env


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def default_origins(args: argparse.Namespace) -> tuple[str, ...]:
    """The runtime's own http origins (every region's port): the page it serves may connect."""
    hosts = ["127.0.0.1", "localhost"]
    if args.host not in ("0.0.0.0", "::", *hosts):  # noqa: S104 - a comparison, not a bind
        hosts.append(_url_host(args.host))
    return tuple(f"http://{h}:{args.port + i}" for i in range(args.regions) for h in hosts)


def issuer_url(args: argparse.Namespace) -> str:
    """The local issuer, on the first region's port; the authorizer fetches its keys over loopback."""
    host = "127.0.0.1" if args.host in ("0.0.0.0", "::", "localhost") else _url_host(args.host)  # noqa: S104
    return f"http://{host}:{args.port}{IDP_PATH}"


async def serve(args: argparse.Namespace) -> int:
    import random

    from dynamowave.local.backend import RedeliverySettings, free_port, start_backend
    from dynamowave.local.ddbfaults import DynamoDBFaults
    from dynamowave.local.gateway import Faults, Gateway
    from dynamowave.local.idp import LocalIdP
    from dynamowave.local.lambdas import Invoker
    from dynamowave.local.queues import RedeliveryPoller
    from dynamowave.local.streams import StreamPoller

    regions = region_names(args)
    print(f"starting DynamoWave local runtime ({', '.join(regions)}) ...", flush=True)
    try:
        redelivery = RedeliverySettings(args.redelivery_delay, args.redelivery_visibility, args.max_receive_count)
        backend = await asyncio.to_thread(
            start_backend, args.region, args.table_name, args.dynamodb_endpoint, redelivery
        )
    except Exception as err:
        print(f"error: {err}", file=sys.stderr)
        if args.dynamodb_endpoint:
            print("check that DynamoDB is listening at --dynamodb-endpoint", file=sys.stderr)
        return 1
    rng = random.Random(args.seed)
    allowed_origins = tuple(args.allowed_origins or ()) or default_origins(args)
    idp = LocalIdP(issuer_url(args)) if args.auth == "dev" else None
    invoker = Invoker(prefix=f"dynamowave-{args.stage}")
    gateways = [
        Gateway(
            region=region,
            stage=args.stage,
            host=args.host,
            port=args.port + i,
            invoker=invoker,
            auth=args.auth,
            idle_timeout_s=args.idle_timeout,
            max_connection_s=args.max_connection_seconds,
            faults=Faults(
                args.post_fault_rate,
                args.post_gone_rate,
                args.post_latency_ms,
                rng,
                handshake_delay_ms=args.handshake_delay_ms,
            ),
            idp=idp,
            public_config={"catchUpMarginMs": catch_up_margin_ms(args)},
        )
        for i, region in enumerate(regions)
    ]
    for gateway in gateways:
        gateway.peers = [g for g in gateways if g is not gateway]
    runners: list[web.AppRunner] = []
    pollers: list[StreamPoller | RedeliveryPoller] = []
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        dynamodb_url = backend.dynamodb_url
        if args.dynamodb_fault_rate:
            proxy = DynamoDBFaults(backend.dynamodb_url, args.dynamodb_fault_rate, rng)
            runner = web.AppRunner(proxy.app, access_log=None, handle_signals=False)
            await runner.setup()
            runners.append(runner)
            proxy_port = free_port()
            await web.TCPSite(runner, "127.0.0.1", proxy_port).start()
            dynamodb_url = f"http://127.0.0.1:{proxy_port}"
        endpoints = {g.region: g.management_url for g in gateways}
        configure_handlers(
            args, backend, endpoints, gateways[0].api_id, dynamodb_url, idp.issuer if idp else None, allowed_origins
        )
        for gateway in gateways:
            runner = web.AppRunner(gateway.app, access_log=None, handle_signals=False)
            await runner.setup()
            runners.append(runner)
            try:
                await web.TCPSite(runner, args.host, gateway.port).start()
            except OSError as err:
                print(
                    f"error: cannot listen on {args.host}:{gateway.port} ({err}); pick another port with --port",
                    file=sys.stderr,
                )
                return 1
        # The stream fan-out only matters with a second region; redelivery always runs.
        consumers: list[StreamPoller | RedeliveryPoller] = [
            StreamPoller(backend, gateway.region, invoker) for gateway in gateways if len(gateways) > 1
        ]
        consumers.append(RedeliveryPoller(backend, [g.region for g in gateways], invoker))
        for poller in consumers:
            await asyncio.to_thread(poller.start)
            pollers.append(poller)
        kind = "embedded moto server" if backend.embedded_dynamodb else "external"
        print(f"DynamoDB: {backend.dynamodb_url} ({kind}), table {backend.table_name}; auth: {args.auth}")
        print(f"redelivery queue: {backend.redelivery_url} (DLQ {backend.dlq_url})")
        print(f"fan-out queue: {backend.fanout_url} (DLQ {backend.fanout_dlq_url})")
        if args.dynamodb_fault_rate:
            print(f"DynamoDB faults: {args.dynamodb_fault_rate:.0%} of the handlers' table calls throttled")
        for gateway in gateways:
            print(f"[{gateway.region}] chat:        http://{gateway.domain_name}/")
            print(f"[{gateway.region}] websocket:   {gateway.websocket_url}")
            print(f"[{gateway.region}] @connections: {gateway.management_url}/@connections/{{connectionId}}")
        print(f"allowed browser origins: {', '.join(allowed_origins)} (--allowed-origin replaces them)")
        if idp is not None:
            print(f"issuer: {idp.issuer} (RS256, audience {idp.audience}); sign in on the page, or")
            print(f"tokens: .venv/bin/dynamowave token --name NAME --url http://{_url_host(args.host)}:{args.port}")
        else:
            print("auth: off, display names are not authenticated (--auth dev signs users in)")
        print("ready: open the chat URL in two browser tabs; Ctrl-C stops", flush=True)
        await stop.wait()
        print("\nstopping ...", flush=True)
        return 0
    finally:
        for gateway in gateways:
            await gateway.close_all()
        for runner in runners:
            await runner.cleanup()
        for poller in pollers:
            await asyncio.to_thread(poller.stop)
        invoker.shutdown()
        backend.stop()


CATCH_UP_REPLICATION_MARGIN_MS = 10_000
# A laptop runtime under load is slower than AWS: its queue consumers and fan-out can lag well
# behind the queue's own timing. History pages are cheap; a missed message is not.
LOCAL_CATCH_UP_SLACK_MS = 60_000


def catch_up_margin_ms(args: argparse.Namespace) -> int:
    """How far behind the newest message it has seen a reconnecting client must catch up: the
    replication margin plus the longest a failed delivery can wait for redelivery (its first
    budget, the queue's delay, then a visibility timeout per receive). A message parked for a
    connection that then died is only ever recovered by catch-up, so the window must reach it."""
    budget_ms = int(os.environ.get("DELIVERY_BUDGET_MS", DEFAULT_DELIVERY_BUDGET_MS))
    parked_s = args.redelivery_delay + args.max_receive_count * args.redelivery_visibility
    return CATCH_UP_REPLICATION_MARGIN_MS + LOCAL_CATCH_UP_SLACK_MS + budget_ms + parked_s * 1000


def _loopback_reachable(host: str) -> bool:
    import ipaddress

    if host in ("localhost", "0.0.0.0", "::"):  # noqa: S104 - a comparison, not a bind
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def region_names(args: argparse.Namespace) -> list[str]:
    return [args.region] if args.regions == 1 else [args.region, args.second_region]


def usage_error(args: argparse.Namespace) -> str | None:
    """What the parser cannot check alone: flags that must agree with each other."""
    regions = region_names(args)
    if len(set(regions)) != len(regions):
        return "--region and --second-region must differ"
    if args.auth == "dev" and not _loopback_reachable(args.host):
        return "--auth dev needs --host on loopback or 0.0.0.0 (the authorizer fetches the local issuer's keys)"
    last = args.port + len(regions) - 1
    if last > 65535:
        return f"--regions {args.regions} needs ports {args.port}..{last}: pick a lower --port"
    return None


def main(args: argparse.Namespace) -> int:
    problem = usage_error(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    return asyncio.run(serve(args))
