"""DynamoDB Local lifecycle: start on a free port, real table round trip with boto3, clean stop."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from dynamowave import ddblocal


def _unavailable_reason() -> str | None:
    try:
        ddblocal.find_java()
        ddblocal.find_jar()
    except ddblocal.DynamoDBLocalUnavailable as e:
        return str(e)
    return None


_REASON = _unavailable_reason()

needs_ddblocal = pytest.mark.skipif(_REASON is not None, reason=f"DynamoDB Local unavailable: {_REASON}")


@pytest.mark.dynamodb_local
@pytest.mark.timeout(120)
@needs_ddblocal
def test_start_put_get_stop() -> None:
    ddb = ddblocal.DynamoDBLocal(startup_timeout=60)
    with ddb:
        assert ddb.running
        assert ddb.endpoint_url.startswith("http://127.0.0.1:")
        client = boto3.client(
            "dynamodb",
            endpoint_url=ddb.endpoint_url,
            region_name="eu-west-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # DynamoDB Local accepts any credentials
        )
        client.create_table(
            TableName="ddblocal-smoke",
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.get_waiter("table_exists").wait(
            TableName="ddblocal-smoke", WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
        client.put_item(
            TableName="ddblocal-smoke",
            Item={"PK": {"S": "ROOM#lobby"}, "SK": {"S": "MSG#1#a"}, "text": {"S": "héllo"}},
        )
        got = client.get_item(TableName="ddblocal-smoke", Key={"PK": {"S": "ROOM#lobby"}, "SK": {"S": "MSG#1#a"}})
        assert got["Item"]["text"] == {"S": "héllo"}
        # Real DynamoDB semantics, which is the point of running it: an empty string key is rejected.
        with pytest.raises(client.exceptions.ClientError) as err:
            client.put_item(TableName="ddblocal-smoke", Item={"PK": {"S": ""}, "SK": {"S": "x"}})
        assert err.value.response["Error"]["Code"] == "ValidationException"
    assert not ddb.running
    ddb.stop()  # idempotent


def test_missing_jar_says_make_test_deps(tmp_path: Path) -> None:
    with pytest.raises(ddblocal.DynamoDBLocalUnavailable, match="make test-deps"):
        ddblocal.find_jar(tmp_path)
