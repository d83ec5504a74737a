"""The single-table store: every read and write of chat state goes through one ``Store``.

Split by concern: ``keys`` (key formats), ``codec`` (attribute values), ``table`` (the table
handle and error reading), ``connections``, ``memberships`` and ``messages`` (the repositories).
No operation here scans the table.
"""

from __future__ import annotations

from typing import Any

from chat.store import codec, keys
from chat.store.connections import Connection, Connections
from chat.store.memberships import MAX_ROOMS_PER_CONNECTION, Member, Memberships
from chat.store.messages import Messages, StoredMessage, message_from_item
from chat.store.table import ClientMessageIdConflict, LimitExceeded, NotConnected, NotInRoom, Table, TooManyRooms

__all__ = [
    "MAX_ROOMS_PER_CONNECTION",
    "ClientMessageIdConflict",
    "Connection",
    "LimitExceeded",
    "Member",
    "NotConnected",
    "NotInRoom",
    "Store",
    "StoredMessage",
    "TooManyRooms",
    "message_from_item",
]


class Store:
    """The table's repositories over one table handle (``client`` None: the shared client)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table = Table(table_name, client)
        self.connections = Connections(self.table)
        self.memberships = Memberships(self.table)
        self.messages = Messages(self.table)

    def ping(self) -> None:
        """A cheap read that proves the table, its key and our permissions work."""
        self.table.db.get_item(TableName=self.table.name, Key=codec.encode(keys.HEALTH_KEY))
