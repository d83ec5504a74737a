"""Probes from this machine: DNS answers, WebSocket ping/pong, HTTP GET of ``/health``."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from dynamowave.drill.model import DrillError, Resolver, normalize_name


def system_resolver(name: str) -> frozenset[str]:
    """Addresses the local resolver returns for ``name`` (what a client on this machine gets)."""
    infos = socket.getaddrinfo(name, 443, type=socket.SOCK_STREAM)
    return frozenset(str(info[4][0]) for info in infos)


def route53_test_dns_resolver(client: Any, hosted_zone_id: str, zone_names: set[str]) -> Resolver:
    """Ask Route 53 itself (TestDNSAnswer, public zones only) for names in the zone.

    Names outside the zone (the API Gateway targets) still go to the system resolver.
    """

    def resolve(name: str) -> frozenset[str]:
        if normalize_name(name) not in zone_names:
            return system_resolver(name)
        answer = client.test_dns_answer(HostedZoneId=hosted_zone_id, RecordName=name, RecordType="A")
        if answer.get("ResponseCode") != "NOERROR":
            raise DrillError(f"TestDNSAnswer for {name}: {answer.get('ResponseCode')}")
        return frozenset(answer.get("RecordData", []))

    return resolve


def drill_ping_url(url: str, token: str | None) -> str:
    """``url`` with the query the drill's pings connect with."""
    # A room of its own keeps lobby chatter away from the pong; the token passes an authorizer.
    query = {"name": "failover-drill", "room": "failover-drill"}
    if token:
        query["token"] = token
    parts = urllib.parse.urlsplit(url)
    query_string = "&".join(q for q in (parts.query, urllib.parse.urlencode(query)) if q)
    return parts._replace(query=query_string).geturl()


def websocket_ping(url: str, timeout: float) -> str:
    """Send ``{"action":"ping"}`` and return the region named by the pong."""
    # Imported here: only a drill that really pings needs the WebSocket client.
    from websockets.sync.client import connect

    deadline = time.monotonic() + timeout
    with connect(url, open_timeout=timeout, close_timeout=2) as ws:
        ws.send(json.dumps({"action": "ping"}))
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no pong from {url} within {timeout:.0f}s")
            # Room traffic may arrive before the pong; skip anything that is not one.
            frame = json.loads(ws.recv(timeout=remaining))
            if isinstance(frame, dict) and frame.get("type") == "pong":
                region = frame.get("region")
                if not region:
                    raise DrillError(
                        f"pong from {url} does not name its region; the ping handler must reply "
                        '{"type":"pong","region":...}'
                    )
                return str(region)


def http_get(url: str, timeout: float) -> tuple[int, str]:
    """Status and (the start of) the body; HTTP errors are answers here, not exceptions."""
    if not url.startswith(("https://", "http://")):
        raise DrillError(f"health_url must be http(s): {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - scheme checked
            return int(response.status), response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read(65536).decode("utf-8", "replace")
