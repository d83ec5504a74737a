"""chat.store.codec against boto3's own (de)serializers, which it replaces on the Lambda path."""

from __future__ import annotations

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from chat.store import codec

ITEM = {
    "PK": "ROOM#lobby",
    "ts": 1_795_655_159_101,
    "ok": True,
    "nothing": None,
    "blob": b"\x00\xff",
    "rooms": {"lobby", "ops"},
    "counts": {1, 20, 300},
    "blobs": {b"a", b"b"},
    "map": {"nested": [1, "two", {"three": False}]},
}


def test_encode_is_what_boto3_serializes() -> None:
    ours = codec.encode(ITEM)
    theirs = {name: TypeSerializer().serialize(value) for name, value in ITEM.items()}
    # boto3 keeps a set's order as Python iterates it; ours sorts (deterministic requests).
    for name in ("rooms", "counts", "blobs"):
        ((kind, values),) = theirs[name].items()
        theirs[name] = {kind: sorted(values)}
    assert ours == theirs


def test_decode_round_trips_with_integers_and_frozensets() -> None:
    decoded = codec.decode(codec.encode(ITEM))
    assert decoded == {
        **ITEM,
        "rooms": frozenset(ITEM["rooms"]),
        "counts": frozenset(ITEM["counts"]),
        "blobs": frozenset(ITEM["blobs"]),
    }
    assert isinstance(decoded["ts"], int) and isinstance(decoded["rooms"], frozenset)
    boto3_view = {name: TypeDeserializer().deserialize(value) for name, value in codec.encode(ITEM).items()}
    assert boto3_view["ts"] == Decimal(ITEM["ts"])


def test_numbers_in_other_spellings_decode_as_integers() -> None:
    assert codec.decode({"a": {"N": "1e3"}, "b": {"N": "1000.0"}, "c": {"NS": ["2E1"]}}) == {
        "a": 1000,
        "b": 1000,
        "c": frozenset({20}),
    }


@pytest.mark.parametrize(
    "value, message",
    [
        (1.5, "cannot store a float"),
        (set(), "empty set"),
        ({"a", 1}, "only strings, only integers or only bytes"),
        (Decimal("NaN"), "infinite or NaN"),
    ],
)
def test_values_the_table_cannot_hold_are_refused(value: object, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        codec.encode({"x": value})


def test_an_unknown_attribute_type_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown attribute value type 'Q'"):
        codec.decode({"x": {"Q": "?"}})
