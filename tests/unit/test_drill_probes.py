"""The drill's probes against a stubbed Route 53 and a local WebSocket server."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from dynamowave.drill.model import DrillError
from dynamowave.drill.probes import drill_ping_url, route53_test_dns_resolver, websocket_ping

DOMAIN = "chat.example.com"


def test_route53_test_dns_answer_resolver():
    client = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stub:
        stub.add_response(
            "test_dns_answer",
            {
                "Nameserver": "ns-1.awsdns-00.com",
                "RecordName": DOMAIN,
                "RecordType": "A",
                "RecordData": ["198.51.100.7"],
                "ResponseCode": "NOERROR",
                "Protocol": "UDP",
            },
            {"HostedZoneId": "Z1", "RecordName": DOMAIN, "RecordType": "A"},
        )
        resolve = route53_test_dns_resolver(client, "Z1", {DOMAIN})
        assert resolve(DOMAIN) == frozenset({"198.51.100.7"})


def test_websocket_ping_reads_the_region_from_the_pong():
    from websockets.sync.server import serve

    def handler(ws: Any) -> None:
        for raw in ws:
            if json.loads(raw).get("action") == "ping":
                ws.send(json.dumps({"type": "message", "room": "lobby", "text": "hi"}))
                pong = {"type": "pong"}
                if ws.request.path.endswith("/named"):
                    pong["region"] = "eu-west-1"
                ws.send(json.dumps(pong))

    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            assert websocket_ping(f"ws://127.0.0.1:{port}/named", 5) == "eu-west-1"
            with pytest.raises(DrillError, match="does not name its region"):
                websocket_ping(f"ws://127.0.0.1:{port}/anonymous", 5)
        finally:
            server.shutdown()


def test_route53_resolver_sends_names_outside_the_zone_to_the_system_resolver():
    client = boto3.client("route53", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client):  # any Route 53 call would fail: nothing is queued
        resolve = route53_test_dns_resolver(client, "Z1", {DOMAIN})
        # An address literal resolves without any DNS server, so the test runs offline.
        assert resolve("127.0.0.1") == frozenset({"127.0.0.1"})


def test_ping_url_keeps_an_existing_query():
    assert drill_ping_url("wss://h/dev?x=1", None) == "wss://h/dev?x=1&name=failover-drill&room=failover-drill"
