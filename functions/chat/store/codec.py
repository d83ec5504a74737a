"""Plain Python values ⇄ DynamoDB's attribute-value JSON.

Written out rather than borrowed from ``boto3.dynamodb.types``: importing that module imports all
of boto3, tens of milliseconds of every cold start for a dozen lines of mapping. Every number this
table stores is an integer (timestamps, TTLs, counts), so numbers are encoded from and decoded as
``int``; sets come back as ``frozenset``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any


def encode(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item (or key, or expression values) as attribute values: ``{"a": {"S": "x"}}``."""
    return {name: encode_value(value) for name, value in item.items()}


def encode_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):  # before int: bool is an int
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | Decimal):
        return {"N": _number(value)}
    if isinstance(value, bytes | bytearray):
        return {"B": bytes(value)}
    if isinstance(value, set | frozenset):
        return _encode_set(value)
    if isinstance(value, Mapping):
        return {"M": encode(value)}
    if isinstance(value, list | tuple):
        return {"L": [encode_value(v) for v in value]}
    raise TypeError(f"cannot store a {type(value).__name__} in the table (integers, not floats)")


def _number(value: int | Decimal) -> str:
    if isinstance(value, Decimal) and not value.is_finite():
        raise TypeError("cannot store an infinite or NaN number")
    return str(value)


def _encode_set(values: set[Any] | frozenset[Any]) -> dict[str, Any]:
    if not values:
        raise TypeError("DynamoDB cannot store an empty set")
    if all(isinstance(v, str) for v in values):
        return {"SS": sorted(values)}
    if all(isinstance(v, int | Decimal) and not isinstance(v, bool) for v in values):
        return {"NS": sorted(_number(v) for v in values)}
    if all(isinstance(v, bytes | bytearray) for v in values):
        return {"BS": sorted(bytes(v) for v in values)}
    raise TypeError("a set must hold only strings, only integers or only bytes")


def decode(item: Mapping[str, Any]) -> dict[str, Any]:
    """Attribute values back to plain values (integers as ``int``, sets as ``frozenset``)."""
    return {name: decode_value(value) for name, value in item.items()}


def decode_value(value: Mapping[str, Any]) -> Any:
    ((kind, raw),) = value.items()
    decoder = _DECODERS.get(kind)
    if decoder is None:
        raise TypeError(f"unknown attribute value type {kind!r}")
    return decoder(raw)


def _integer(raw: str) -> int:
    return int(Decimal(raw))  # "1e3" and "1000.0" are valid N values too


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "S": lambda raw: raw,
    "N": _integer,
    "BOOL": bool,
    "NULL": lambda raw: None,
    "B": bytes,
    "SS": frozenset,
    "NS": lambda raw: frozenset(_integer(v) for v in raw),
    "BS": lambda raw: frozenset(bytes(v) for v in raw),
    "M": decode,
    "L": lambda raw: [decode_value(v) for v in raw],
}
