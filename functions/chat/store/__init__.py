"""The single-table store: every read and write of chat state goes through one ``Store``.

Split by concern: ``keys`` (key formats), ``codec`` (attribute values), ``table`` (the table
handle and error reading), ``connections`` (with the connections-per-user cap and the send-rate
state), ``memberships`` (with the rooms-per-connection cap) and ``messages`` (the repositories).
No operation here scans the table.
"""

from __future__ import annotations

from typing import Any

from chat.store import codec, keys
from chat.store.connections import Connection, Connections
from chat.store.memberships import Member, Memberships
from chat.store.messages import Messages, StoredMessage, message_from_item
from chat.store.table import ClientMessageIdConflict, LimitExceeded, NotConnected, NotInRoom, Table, TooManyRooms

__all__ = [
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

    def __init__(
        self,
        table_name: str,
        client: Any = None,
        *,
        max_rooms_per_connection: int | None = None,
        max_connections_per_user: int | None = None,
    ) -> None:
        """The caps default to the settings (``MAX_ROOMS_PER_CONNECTION``, ``MAX_CONNECTIONS_PER_USER``),
        read when a cap is checked."""
        self.table = Table(table_name, client)
        self.connections = Connections(self.table, max_connections_per_user)
        self.memberships = Memberships(self.table, max_rooms_per_connection)
        self.messages = Messages(self.table)

    def ping(self) -> None:
        """A cheap read that proves the table, its key and our permissions work."""
        self.table.db.get_item(TableName=self.table.name, Key=codec.encode(keys.HEALTH_KEY))
