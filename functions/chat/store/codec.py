"""Plain Python values ⇄ DynamoDB's attribute-value JSON, with boto3's own (de)serializers.

Numbers come back from DynamoDB as ``Decimal``; every number this table stores is an integer
(timestamps, TTLs, counts), so they are decoded as ``int``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def encode(item: dict[str, Any]) -> dict[str, Any]:
    """An item (or key, or expression values) as attribute values: ``{"a": {"S": "x"}}``."""
    return {name: _serializer.serialize(value) for name, value in item.items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, set):
        return frozenset(_plain(v) for v in value)
    return value


def decode(item: dict[str, Any]) -> dict[str, Any]:
    """Attribute values back to plain values (integers as ``int``, sets as ``frozenset``)."""
    return {name: _plain(_deserializer.deserialize(value)) for name, value in item.items()}
