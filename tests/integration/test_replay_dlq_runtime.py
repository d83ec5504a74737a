"""`dynamowave replay-dlq` against a running `dynamowave dev`: records put on the runtime's final
DLQ (one for a connected client, one for a connection that is gone) are redelivered through the
runtime's own @connections API and the DLQ ends empty. Run as a subprocess with the exact flags
the runbook documents, from the URLs the runtime prints."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from dwkit import REPO, Runtime, aws_client, new_room, poll, running

from tests.support import dynamowave_command

pytestmark = pytest.mark.integration


def printed(runtime: Runtime) -> tuple[str, str, str]:
    """(SQS endpoint, DLQ URL, @connections endpoint) from the runtime's start-up lines."""
    text = runtime.output()
    queues = re.search(r"^redelivery queue: (\S+) \(DLQ (\S+)\)", text, re.M)
    management = re.search(r"^\[[\w-]+\] @connections: (\S+)/@connections/", text, re.M)
    assert queues and management, text
    sqs_endpoint = re.sub(r"^(https?://[^/]+)/.*$", r"\1", queues.group(1))
    return sqs_endpoint, queues.group(2), management.group(1)


def record(runtime: Runtime, endpoint: str, connection_id: str, room: str, message_id: str) -> str:
    frame = {"type": "message", "room": room, "messageId": message_id, "text": f"replayed {message_id}"}
    return json.dumps(
        {
            "version": 1,
            "kind": "delivery",
            "region": runtime.region,
            "endpoint": endpoint,
            "connectionId": connection_id,
            "room": room,
            "messageId": message_id,
            "frame": frame,
            "error": "LimitExceededException",
            "attempts": 6,
            "failedAt": 1,
        }
    )


def test_replay_dlq_redelivers_to_connected_clients_and_drains_the_dlq(backend, clients) -> None:
    with running(backend) as runtime:
        sqs_endpoint, dlq_url, management = printed(runtime)
        room = new_room("replay")
        client = clients(runtime, "alice", room=room)
        (connection_id,) = poll(lambda: runtime.member_ids(room))
        sqs = aws_client("sqs", sqs_endpoint, runtime.region)
        sqs.send_message(QueueUrl=dlq_url, MessageBody=record(runtime, management, connection_id, room, "r-1"))
        sqs.send_message(QueueUrl=dlq_url, MessageBody=record(runtime, management, "gone-long-ago", room, "r-2"))

        command = [*dynamowave_command(), "replay-dlq", "--queue-url", dlq_url, "--table", runtime.table]
        command += ["--dynamodb-endpoint", runtime.dynamodb_url, "--sqs-endpoint", sqs_endpoint]
        dry = subprocess.run([*command, "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert re.search(r"^would post\s+1\b", dry.stdout, re.M) and re.search(r"^dropped\s+1\b", dry.stdout, re.M)
        client.assert_quiet()

        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        for status, count in (("received", 2), ("delivered", 1), ("dropped", 1), ("failed", 0)):
            assert re.search(rf"^{status}\s+{count}\b", done.stdout, re.M), done.stdout
        frame = client.expect("message", messageId="r-1")
        assert frame["text"] == "replayed r-1" and frame["room"] == room
        client.assert_quiet()

        attributes = sqs.get_queue_attributes(
            QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        )["Attributes"]
        assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}
