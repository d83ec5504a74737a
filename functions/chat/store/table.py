"""The table handle every repository shares, and how its failures read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chat import clients


class NotConnected(Exception):
    """The connection has no record (it disconnected or expired)."""


class NotInRoom(Exception):
    """The connection is not a member of the room."""


class ClientMessageIdConflict(Exception):
    """The sender reused a clientMessageId for a different text."""


class LimitExceeded(Exception):
    """A per-connection or per-user cap is reached; ``limit`` names it (clients see it in the
    ``limit_exceeded`` error)."""

    def __init__(self, limit: str, maximum: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum


class TooManyRooms(LimitExceeded):
    """The connection is already in the maximum number of rooms."""

    def __init__(self, maximum: int) -> None:
        super().__init__(
            "roomsPerConnection",
            maximum,
            f"roomsPerConnection: at most {maximum} rooms per connection; leave one first",
        )


@dataclass(frozen=True)
class Table:
    name: str
    client: Any = None  # None: the process's shared DynamoDB client, created on first use

    def __post_init__(self) -> None:
        if not self.name:
            raise RuntimeError("TABLE_NAME is not set")

    @property
    def db(self) -> Any:
        return self.client or clients.dynamodb()


def _cancellation_codes(err: ClientError) -> list[str | None]:
    return [reason.get("Code") for reason in err.response.get("CancellationReasons") or []]


def condition_failed(err: ClientError, index: int = 0) -> bool:
    """A failed ConditionExpression: of the request, or of item ``index`` of a transaction."""
    code = err.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    reasons = _cancellation_codes(err)
    return (
        code == "TransactionCanceledException" and len(reasons) > index and reasons[index] == "ConditionalCheckFailed"
    )


def transaction_conflict(err: BaseException) -> bool:
    """DynamoDB cancelled a transaction because another one touched the same item: try again."""
    return isinstance(err, ClientError) and "TransactionConflict" in _cancellation_codes(err)
