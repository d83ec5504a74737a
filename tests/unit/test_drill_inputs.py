"""Reading the drill's inputs from Terraform output documents, without Terraform or AWS."""

from __future__ import annotations

import pytest

from dynamowave.drill.inputs import parse_outputs
from dynamowave.drill.model import InputError


def test_outputs_parsing_accepts_plain_values_and_derives_the_failover_url():
    docs = {
        "a": {"region": "r1", "failover_role": "secondary", "health_check_id": "h1", "websocket_url": "wss://x/prod",
              "health_url": "https://h1/health", "failover_domain_name": "Chat.Example.com.", "hosted_zone_id": "Z1"},
        "b": {"region": "r2", "failover_role": "PRIMARY", "health_check_id": "h2", "websocket_url": "wss://y/prod",
              "health_url": "https://h2/health", "hosted_zone_id": "Z1"},
    }  # fmt: skip
    inputs = parse_outputs(docs)
    assert inputs.primary.region == "r2" and inputs.secondary.region == "r1"
    assert inputs.failover_websocket_url == "wss://chat.example.com/prod"
    docs["b"]["hosted_zone_id"] = "Z2"
    with pytest.raises(InputError, match="disagree on hosted_zone_id"):
        parse_outputs(docs)
